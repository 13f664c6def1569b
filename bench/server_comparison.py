"""Per-call latency of two servers side by side: this tree's and another checkout's, same model.

Used by `bench/generate.py --baseline-tree DIR`: both servers serve the same base path and are
called in alternation (`step`, one token; `generate`, one melody), so that machine noise hits
both alike; the medians and their ratio are printed.
"""
from __future__ import annotations

import pathlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from serving import client as serving_client
from serving.generation.token_model import TokenModel
from serving.model_server.launcher import start_subprocess


@dataclass(frozen=True)
class Comparison:
    """Median milliseconds per call of one signature on both servers."""

    call: str
    this_tree_ms: float
    baseline_ms: float


def _alternating_medians(calls: dict[str, tuple[Callable[[], object], Callable[[], object]]], repeats: int) -> list[Comparison]:
    """Call each (this tree, baseline) pair in turn `repeats` times; the medians per call."""
    rows = []
    for name, (here, there) in calls.items():
        here(), there()  # first calls build the servers' caches
        seconds: tuple[list[float], list[float]] = ([], [])
        for _ in range(repeats):
            for side, call in enumerate((here, there)):
                start = time.perf_counter()
                call()
                seconds[side].append(time.perf_counter() - start)
        rows.append(Comparison(name, 1000 * statistics.median(seconds[0]), 1000 * statistics.median(seconds[1])))
    return rows


def compare_servers(
    model_name: str,
    base_path: pathlib.Path,
    baseline_tree: pathlib.Path,
    generate_inputs: dict[str, np.ndarray],
    repeats: int,
) -> list[Comparison]:
    """Start this tree's server and `baseline_tree`'s on `base_path`; time `step` and `generate` on both."""
    absolute = base_path.absolute()
    with start_subprocess([model_name], model_base_path=absolute) as here, \
            start_subprocess([model_name], model_base_path=absolute, source_tree=baseline_tree.absolute()) as there:
        clients = [serving_client.connect(server.grpc_address, model_name) for server in (here, there)]
        try:
            models = [TokenModel(client) for client in clients]
            token = np.zeros([1], np.int32)
            state = np.zeros([1, models[0].state_size], np.float32)
            calls = {
                "step (1 token)": tuple(lambda m=m: m.step(token, state) for m in models),
                "generate (1 melody)": tuple(lambda m=m: m.generate(**generate_inputs) for m in models),
            }
            return _alternating_medians(calls, repeats)
        finally:
            for client in clients:
                client.close()


def print_comparison(rows: list[Comparison], baseline_tree: pathlib.Path, repeats: int) -> None:
    """The table: ms per call on each server and baseline / this tree."""
    print(f"# per-call latency over gRPC, this tree vs {baseline_tree}, alternating calls, median of {repeats}")
    print(f"{'call':<24}{'this tree ms':>14}{'baseline ms':>13}{'baseline/this':>15}")
    for row in rows:
        print(f"{row.call:<24}{row.this_tree_ms:>14.2f}{row.baseline_ms:>13.2f}{row.baseline_ms / row.this_tree_ms:>15.2f}")

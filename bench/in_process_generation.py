"""One 16-bar tune in process against through a model server, side by side in one run.

    python bench/in_process_generation.py [--models-dir saved_models] [--model lstm_erk] [--rounds 7] [--cold-rounds 3]

(0) One ``step`` call (batch 1) in process against over gRPC: the transport's own cost per token.
(1) Warm, in one process: ``serving.generation.tokens.generate`` of one constrained 16-bar tune
    (client-side sampling over ``step``, then ``--sampling server``: the ``generate`` signature)
    through a ``LocalModelClient`` and through a gRPC client of ``python -m serving.server``
    serving the same folder, alternated; seeds differ per round, the same for both. The tokens of
    each pair are checked equal.
(2) Cold, the user's view: a fresh ``folkgen generate --bars 16`` process, in process (which
    imports TensorFlow and loads the SavedModel) against ``--server`` (which imports TensorFlow
    for the client and talks to the already-warm server), alternated.
Medians (and minima: on a loaded machine the least disturbed run) are printed with the ratio
in process / server. The server is started on free 127.0.0.1
ports and stopped here.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from serving.tf_quiet import import_tensorflow  # noqa: E402

import_tensorflow()

from serving import client as serving_client  # noqa: E402
from serving.generation.tokens import GenerationConfig, generate  # noqa: E402
from serving.generation.tune_request import TuneRequest  # noqa: E402
from serving.local_client import LocalModelClient  # noqa: E402
from serving.model_server.launcher import start_subprocess  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
BARS = 16


def warm_seconds(client: serving_client.ModelClient, model: str, seed: int, sampling: str,
                 out_dir: str) -> tuple[float, tuple[str, ...]]:
    """Seconds for one 16-bar tune through ``client`` (written as ABC), and its tokens."""
    config = GenerationConfig(num=1, seed=seed, formats=("abc",), out_dir=out_dir, sampling=sampling,
                              constraints=TuneRequest(bars=BARS))
    began = time.perf_counter()
    [melody] = generate(client, config, model)
    return time.perf_counter() - began, melody.tokens


def cold_seconds(flags: list[str], model: str, seed: int, out_dir: str) -> float:
    """Seconds for a fresh ``folkgen generate`` process writing one 16-bar tune as ABC."""
    argv = [sys.executable, "-m", "serving.cli", "generate", "--model", model, "--bars", str(BARS), "--seed",
            str(seed), "--formats", "abc", "--out", out_dir, *flags]
    began = time.perf_counter()
    subprocess.run(argv, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - began


def step_seconds(client: serving_client.ModelClient, calls: int = 100) -> float:
    """Mean seconds of one batch-1 ``step`` call from a zero state."""
    width = client.signatures["step"].inputs["state"].shape[1]
    inputs = {"token": np.zeros([1], np.int32), "state": np.zeros([1, width], np.float32)}
    began = time.perf_counter()
    for _ in range(calls):
        client.predict("step", inputs)
    return (time.perf_counter() - began) / calls


def report(title: str, local: list[float], served: list[float], scale: float = 1.0) -> None:
    medians = [statistics.median(values) * scale for values in (local, served)]
    minima = [min(values) * scale for values in (local, served)]
    print(f"{title:<40}{medians[0]:>11.3f}{medians[1]:>11.3f}{medians[0] / medians[1]:>8.2f}"
          f"{minima[0]:>11.3f}{minima[1]:>11.3f}{minima[0] / minima[1]:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", default=str(REPO_ROOT / "saved_models"))
    parser.add_argument("--model", default="lstm_erk")
    parser.add_argument("--rounds", type=int, default=7, help="warm rounds (step calls and generate())")
    parser.add_argument("--cold-rounds", type=int, default=3, help="fresh folkgen processes per side")
    args = parser.parse_args()
    models_dir = pathlib.Path(args.models_dir).resolve()
    out = tempfile.mkdtemp(prefix="bench-in-process-")
    with start_subprocess([args.model], model_base_path=models_dir / args.model) as server:
        local = LocalModelClient(str(models_dir), args.model)
        remote = serving_client.connect(server.grpc_address, args.model)
        for sampling in ("client", "server"):  # one untimed tune each, so both sides are warm
            for client in (local, remote):
                warm_seconds(client, args.model, 0, sampling, out)
        steps: dict[str, list[float]] = {"local": [], "served": []}
        warm: dict[tuple[str, str], list[float]] = {}
        for round_index in range(args.rounds):
            steps["local"].append(step_seconds(local))
            steps["served"].append(step_seconds(remote))
            for sampling in ("client", "server"):
                tokens = []
                for side, client in (("local", local), ("served", remote)):
                    elapsed, row = warm_seconds(client, args.model, 100 + round_index, sampling, out)
                    warm.setdefault((sampling, side), []).append(elapsed)
                    tokens.append(row)
                assert tokens[0] == tokens[1], f"round {round_index} ({sampling} sampling): the tunes differ"
        remote.close()
        cold: dict[str, list[float]] = {"local": [], "served": []}
        for round_index in range(args.cold_rounds):
            cold["local"].append(cold_seconds(["--models-dir", str(models_dir)], args.model, round_index, out))
            cold["served"].append(cold_seconds(["--server", server.grpc_address], args.model, round_index, out))
    print(f"{args.model}, one {BARS}-bar tune; {args.rounds} warm rounds, {args.cold_rounds} cold; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'':<40}{'median:':>11}{'':>11}{'':>8}{'min:':>11}")
    print(f"{'':<40}{'in process':>11}{'server':>11}{'ratio':>8}{'in process':>11}{'server':>11}{'ratio':>8}")
    report("one step call, batch 1 (ms)", steps["local"], steps["served"], scale=1000.0)
    report("warm generate(), client sampling (s)", warm[("client", "local")], warm[("client", "served")])
    report("warm generate(), server sampling (s)", warm[("server", "local")], warm[("server", "served")])
    report("fresh `folkgen generate` process (s)", cold["local"], cold["served"])
    print("tokens equal in process and served: every round, both samplings")


if __name__ == "__main__":
    main()

"""Melody generation, side by side in one run: ms per 256-step melody and ratios against the tutorial.

    python bench/generate.py [--saved-model saved_models/lstm_erk] [--keras runs/lstm_erk/checkpoints/best.keras]

(1) the report's loop: the whole growing sequence re-run through the Keras model every step
    (one step timed at `--report-samples` evenly spaced lengths, integrated over the melody);
(2) the tutorial's loop: `model.predict` on a 64-step window every step (timed over
    `--tutorial-steps` steps and scaled to the melody: its cost per step is constant);
(3) client-side sampling over the served `step` signature (gRPC);
(4) the served `generate` signature (gRPC), one melody;
(5) 64 melodies in one `generate` call;
then `--clients` concurrent clients calling `generate` for `--duration` seconds. With
`--baseline-tree DIR` (a checkout of another revision, e.g. `git worktree add DIR REV`), that
tree's server runs beside this one's on the same model and `step` / `generate` are timed on both
in alternation (`bench/server_comparison.py`).
The server (`python -m serving.server`) is started on free 127.0.0.1 ports and stopped here.
Without a SavedModel under `--saved-model`, a freshly built 256-unit LSTM (random weights) is
exported to a temporary folder; without a `--keras` checkpoint, loops (1) and (2) run that
architecture with random weights (timings do not depend on the weights).
"""
from __future__ import annotations

import argparse
import logging
import os
import pathlib
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from bench.server_comparison import compare_servers, print_comparison  # noqa: E402
from serving import client as serving_client  # noqa: E402
from serving.contract import signatures, versions  # noqa: E402
from serving.contract.sampling import SamplingSettings, choose, uniform  # noqa: E402
from serving.generation.token_model import TokenModel  # noqa: E402
from serving.generation.tokens import sample_melodies  # noqa: E402
from serving.model_server.launcher import start_subprocess  # noqa: E402

MODEL_NAME = "lstm_erk"
WINDOW = 64
SETTINGS = SamplingSettings(temperature=1.0, top_k=0, top_p=0.95)
SEED = 1234


@dataclass(frozen=True)
class Timing:
    """One generation method's cost: milliseconds for one melody (and how it was measured)."""

    name: str
    ms_per_melody: float
    note: str = ""


def _fresh_keras_model(vocab_size: int):
    from trainer.token_models.config import TrainConfig
    from trainer.token_models.lstm import build_lstm_model

    return build_lstm_model(TrainConfig(architecture="lstm"), vocab_size)


def _fallback_vocabulary() -> list[str]:
    """38 time-step symbols (delimiter, hold, rest, 35 pitches): the size of the real one."""
    return ["/", "_", "r"] + [str(pitch) for pitch in range(60, 95)]


def prepare_models(saved_model: pathlib.Path, keras_path: pathlib.Path | None, scratch: pathlib.Path):
    """(served base path, Keras model, vocabulary, description); exports a fresh model if needed."""
    import keras
    import tensorflow as tf

    from trainer.token_models.export import export_token_model

    if versions.list_versions(saved_model):
        latest = saved_model / str(max(versions.list_versions(saved_model)))
        loaded = tf.saved_model.load(str(latest))
        vocabulary = [s.decode() for s in loaded.signatures[signatures.VOCABULARY]()[signatures.SYMBOLS].numpy()]
        served, served_note = saved_model, f"{latest} (committed export)"
    else:
        vocabulary = _fallback_vocabulary()
        served = scratch / MODEL_NAME
        served_note = f"fresh 256-unit LSTM with random weights exported to {served} ({saved_model} has no version)"
    if keras_path is not None and keras_path.is_file():
        import trainer.token_models.layers  # noqa: F401,PLC0415 (registers the custom layers for loading)

        model, keras_note = keras.saving.load_model(keras_path), str(keras_path)
    else:
        model, keras_note = _fresh_keras_model(len(vocabulary)), "256-unit LSTM, random weights"
    if not versions.list_versions(served):
        export_token_model(model, vocabulary, served, model_kind=signatures.TOKEN_TIMESTEP)
    return served, model, vocabulary, f"served: {served_note}; Keras loops: {keras_note}"


def report_loop(model, primer: list[int], steps: int) -> list[int]:
    """(1) Every step re-runs the whole growing sequence `[1, T]` through the Keras model."""
    sequence = list(primer)
    for index in range(steps):
        probabilities = model(np.array([sequence], np.int32), training=False).numpy()[0, -1]
        sequence.append(choose(np.log(np.maximum(probabilities, 1e-30)), SETTINGS.temperature,
                               SETTINGS.top_k, SETTINGS.top_p, uniform(SEED, index)))
    return sequence[len(primer):]


def report_loop_ms(model, primer: list[int], steps: int, samples: int) -> float:
    """(1)'s ms per melody: a step's cost depends only on the sequence length, so time one step of
    the loop at `samples` evenly spaced lengths and integrate over the melody's `steps` lengths."""
    lengths = np.linspace(len(primer), len(primer) + steps - 1, min(samples, steps)).round().astype(int)
    filler = np.resize(np.array(primer, np.int32), int(lengths.max()))
    seconds = []
    for length in lengths:
        start = time.perf_counter()
        report_loop(model, filler[: length].tolist(), 1)
        seconds.append(time.perf_counter() - start)
    return 1000 * float(np.mean(seconds)) * steps


def tutorial_loop(model, primer: list[int], steps: int, pad: int) -> list[int]:
    """(2) Every step calls `model.predict` on the last 64 tokens (left-padded) `[1, 64]`."""
    sequence = list(primer)
    for index in range(steps):
        window = ([pad] * WINDOW + sequence)[-WINDOW:]
        probabilities = model.predict(np.array([window], np.int32), verbose=0)[0, -1]
        sequence.append(choose(np.log(np.maximum(probabilities, 1e-30)), SETTINGS.temperature,
                               SETTINGS.top_k, SETTINGS.top_p, uniform(SEED, index)))
    return sequence[len(primer):]


def generate_request(primers: list[list[int]], steps: int, seeds: list[int]) -> dict[str, np.ndarray]:
    """`generate` inputs for one melody per primer (all primers the same length)."""
    rows = len(primers)
    return {
        "primer": np.array(primers, np.int32),
        "primer_length": np.full(rows, len(primers[0]), np.int32),
        "steps": np.full(rows, steps, np.int32),
        "temperature": np.full(rows, SETTINGS.temperature, np.float32),
        "top_k": np.full(rows, SETTINGS.top_k, np.int32),
        "top_p": np.full(rows, SETTINGS.top_p, np.float32),
        "seed": np.array(seeds, np.int32),
    }


def timed(call: Callable[[], object], repeats: int) -> tuple[float, object]:
    """(median seconds over `repeats` calls, the last result)."""
    durations, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations), result


def concurrent_load(address: str, primer: list[int], steps: int, clients: int, duration: float) -> dict[str, float]:
    """`clients` threads, each with its own gRPC client, calling `generate` for `duration` seconds."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def worker(worker_id: int) -> None:
        client = serving_client.connect(address, MODEL_NAME)
        model = TokenModel(client)
        try:
            call = 0
            while time.monotonic() < deadline:
                request = generate_request([primer], steps, [worker_id * 100_000 + call])
                start = time.perf_counter()
                try:
                    tokens = model.generate(**request)
                    problem = "" if tokens.shape == (1, steps) and (tokens >= 0).all() else f"bad tokens {tokens}"
                except serving_client.ClientError as error:
                    problem = repr(error)
                elapsed = time.perf_counter() - start
                with lock:
                    if problem:
                        errors.append(problem[:200])
                    else:
                        latencies.append(elapsed)
                call += 1
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        logging.warning("first error under load: %s", errors[0])
    ordered = sorted(latencies) or [float("nan")]
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "melodies_per_minute": 60 * len(latencies) / duration,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--saved-model", type=pathlib.Path, default=pathlib.Path("saved_models") / MODEL_NAME)
    parser.add_argument("--keras", type=pathlib.Path, default=pathlib.Path("runs/lstm_erk/checkpoints/best.keras"))
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--tutorial-steps", type=int, default=32, help="steps of loop (2) actually timed")
    parser.add_argument("--report-samples", type=int, default=8, help="sequence lengths of loop (1) timed")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline-tree", type=pathlib.Path, help="another checkout whose server to time beside this one")
    args = parser.parse_args(argv)
    for name in ("steps", "tutorial_steps", "report_samples", "batch", "clients", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    with tempfile.TemporaryDirectory(prefix="bench-generate-") as scratch:
        served, model, vocabulary, description = prepare_models(args.saved_model, args.keras, pathlib.Path(scratch))
        rng = np.random.default_rng(0)
        primer = rng.integers(0, len(vocabulary), 16).tolist()
        pad = vocabulary.index("r") if "r" in vocabulary else 0
        print(f"# {description}")
        print(f"# V={len(vocabulary)}, primer 16 tokens, {args.steps} steps, {SETTINGS}, cpu_count={os.cpu_count()}")

        timings: list[Timing] = []
        model(np.array([primer], np.int32), training=False)  # build / warm up eager execution
        timings.append(Timing("(1) report loop: growing sequence through Keras",
                              report_loop_ms(model, primer, args.steps, args.report_samples),
                              f"{min(args.report_samples, args.steps)} lengths timed, integrated"))

        measured = min(args.tutorial_steps, args.steps)
        model.predict(np.array([[pad] * WINDOW], np.int32), verbose=0)
        start = time.perf_counter()
        tutorial_loop(model, primer, measured, pad)
        per_step = (time.perf_counter() - start) / measured
        timings.append(Timing("(2) tutorial loop: model.predict on a 64-step window", 1000 * per_step * args.steps,
                              f"timed over {measured} steps, x{args.steps / measured:g}"))

        with start_subprocess([MODEL_NAME], model_base_path=served) as running:
            client = serving_client.connect(running.grpc_address, MODEL_NAME)
            served_model = TokenModel(client)
            try:
                sample_melodies(served_model, [primer], 4, SETTINGS, [SEED])  # warm the channel
                seconds, client_tokens = timed(
                    lambda: sample_melodies(served_model, [primer], args.steps, SETTINGS, [SEED]), 1)
                per_step_ms = 1000 * seconds / (len(primer) + args.steps - 1)
                timings.append(Timing("(3) client-side sampling over `step` (gRPC)", 1000 * seconds,
                                      f"{per_step_ms:.2f} ms per step call"))
                single = generate_request([primer], args.steps, [SEED])
                served_model.generate(**single)
                seconds, server_tokens = timed(lambda: served_model.generate(**single), args.repeats)
                timings.append(Timing("(4) `generate` through the server (gRPC)", 1000 * seconds,
                                      f"median of {args.repeats}"))
                batch = generate_request([primer] * args.batch, args.steps, list(range(args.batch)))
                served_model.generate(**batch)
                seconds, _ = timed(lambda: served_model.generate(**batch), max(1, args.repeats // 2))
                timings.append(Timing(f"(5) {args.batch} melodies in one `generate` call", 1000 * seconds / args.batch,
                                      f"{60 * args.batch / seconds:,.0f} melodies/min"))
                same = list(server_tokens[0]) == client_tokens[0]
            finally:
                client.close()
            load = concurrent_load(running.grpc_address, primer, args.steps, args.clients, args.duration)
        if args.baseline_tree is not None:
            comparison = compare_servers(MODEL_NAME, served, args.baseline_tree, single, 4 * args.repeats)

    baseline = timings[1].ms_per_melody
    print(f"{'method':<55}{'ms/melody':>12}{'x vs (2)':>11}  note")
    for timing in timings:
        print(f"{timing.name:<55}{timing.ms_per_melody:>12.1f}{baseline / timing.ms_per_melody:>11.1f}  {timing.note}")
    print(f"client-side (3) and server-side (4) tokens identical for seed {SEED}: {same}")
    print(f"{args.clients} concurrent clients x {args.duration:g} s of `generate`: {load['requests']} melodies, "
          f"{load['errors']} errors, p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms, "
          f"{load['melodies_per_minute']:,.0f} melodies/min")
    targets = {
        "(4) >= 200x faster than (2)": baseline / timings[3].ms_per_melody >= 200,
        "(3) <= 2 ms per step": timings[2].ms_per_melody / (len(primer) + args.steps - 1) <= 2.0,
        "(5) >= 1,000 melodies/min": 60_000 / timings[4].ms_per_melody >= 1000,
        "no errors under concurrency": load["errors"] == 0,
    }
    for target, met in targets.items():
        print(f"target {target}: {'met' if met else 'NOT met'}")
    if args.baseline_tree is not None:
        print_comparison(comparison, args.baseline_tree, 4 * args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())

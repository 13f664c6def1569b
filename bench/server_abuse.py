"""Good-request latency while abusive requests are in flight, and the server's RSS (issue 15).

    python bench/server_abuse.py [--saved-model saved_models/lstm_erk] [--good 20] [--max_steps 512] ...

Starts `python -m serving.server` (a subprocess on free 127.0.0.1 ports) on the SavedModel with the
limits given, then times `--good` small `generate` calls (1 row, 16 steps) over gRPC and over REST,
alternating, first on a quiet server and then while 8 abusers each keep one abusive request in flight:
  2 x gRPC and 2 x REST `generate` at the server's limits (max_batch_rows rows, primer + steps =
      max_steps, the primer as long as max_request_bytes lets it be, up to half of that),
  1 x gRPC tensors declaring 2^62 elements, 1 x gRPC message and 1 x REST body over max_request_bytes,
  1 x a slowloris holder: 32 REST connections sending a header byte every 0.5 s, 32 sending nothing.
It prints the median, 90th percentile and worst latency of both phases, the medians' ratio, the
machine's load average, and the server's RSS before the abuse, its peak (VmHWM) and after (once the
abusers' last requests are answered). Target: the worst good request under 1 s while the abuse runs.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import socket
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from serving.contract import signatures as sig  # noqa: E402
from serving.contract.bar_rules import rule_inputs  # noqa: E402
from serving.model_server.launcher import start_subprocess  # noqa: E402

PREDICT = "/tensorflow.serving.PredictionService/Predict"
TARGET_WORST_S = 1.0


def generate_inputs(rows: int, primer_steps: int, steps: int, vocab_size: int) -> dict[str, np.ndarray]:
    """A `generate` request: `rows` rows of a `primer_steps` primer, `steps` steps, no rules."""
    return {
        sig.PRIMER: np.ones((rows, primer_steps), np.int32), sig.PRIMER_LENGTH: np.full(rows, primer_steps, np.int32),
        sig.STEPS: np.full(rows, steps, np.int32), sig.TEMPERATURE: np.ones(rows, np.float32),
        sig.TOP_K: np.zeros(rows, np.int32), sig.TOP_P: np.ones(rows, np.float32),
        sig.SEED: np.arange(rows, dtype=np.int32), **rule_inputs([None] * rows, vocab_size),
    }


def grpc_bytes(model: str, inputs: dict[str, np.ndarray]) -> bytes:
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = model, sig.GENERATE
    for name, array in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array))
    return request.SerializeToString()


def rest_bytes(inputs: dict[str, np.ndarray]) -> bytes:
    return json.dumps({"signature_name": sig.GENERATE, "inputs": {k: v.tolist() for k, v in inputs.items()}}).encode()


def at_the_limits(limit: int, rows: int, max_steps: int, vocab: int, encode: Callable[[dict], bytes]) -> dict:
    """`rows` rows of the most work a row may ask (primer + steps = max_steps), the primer as long as
    max_request_bytes lets it be, up to half of that work (bisection on the encoded size)."""
    low, high = 1, max(1, max_steps // 2)
    while low < high:
        middle = (low + high + 1) // 2
        fits = len(encode(generate_inputs(rows, middle, max_steps - middle, vocab))) <= limit
        low, high = (middle, high) if fits else (low, middle - 1)
    return generate_inputs(rows, low, max_steps - low, vocab)


class Server:
    """Calls to one running server: raw gRPC Predict and raw REST POSTs."""

    def __init__(self, running, model: str) -> None:
        self.running, self.model = running, model
        self.channel = grpc.insecure_channel(running.grpc_address, options=[("grpc.max_send_message_length", -1)])
        self.predict = self.channel.unary_unary(PREDICT, request_serializer=lambda raw: raw,
                                                response_deserializer=predict_pb2.PredictResponse.FromString)
        url = urllib.parse.urlsplit(running.rest_url)
        self.rest_address = (url.hostname, url.port)

    def grpc(self, payload: bytes, timeout: float = 600) -> str:
        try:
            self.predict(payload, timeout=timeout)
            return "OK"
        except grpc.RpcError as error:
            return f"{error.code().name} {error.details()[:60]!r}"

    def rest(self, body: bytes, timeout: float = 600) -> int:
        url = f"{self.running.rest_url}/v1/models/{self.model}:predict"
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                answer.read()
                return answer.status
        except urllib.error.HTTPError as error:
            return f"{error.code} {error.read()[:70]!r}"

    def memory_kb(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak RSS) of the server process, in kB."""
        lines = pathlib.Path(f"/proc/{self.running.process.pid}/status").read_text().splitlines()
        return {line.split(":")[0]: int(line.split()[1]) for line in lines if line.startswith(("VmRSS", "VmHWM"))}


def slowloris(server: Server, stop: threading.Event, count: int = 32) -> None:
    """Hold `count` trickling and `count` silent REST connections, reopening those the server closes."""
    held: list[tuple[socket.socket, bool]] = []
    while not stop.is_set():
        while len(held) < 2 * count:
            sock = socket.create_connection(server.rest_address, timeout=5)
            trickle = len(held) % 2 == 0
            if trickle:
                sock.sendall(b"POST /v1/models/x:predict HTTP/1.1\r\n")
            held.append((sock, trickle))
        kept = []
        for sock, trickle in held:
            try:
                if trickle:
                    sock.sendall(b"X")
                kept.append((sock, trickle))
            except OSError:
                sock.close()
        held = kept
        stop.wait(0.5)
    for sock, _ in held:
        sock.close()


def abusers(server: Server, args: argparse.Namespace, vocab: int) -> dict[str, Callable[[], object]]:
    """The 8 abusive calls, by name (each called in a loop by its own thread)."""
    rows, steps, limit = args.max_batch_rows, args.max_steps, args.max_request_bytes
    grpc_inputs = at_the_limits(limit, rows, steps, vocab, lambda inputs: grpc_bytes(server.model, inputs))
    rest_inputs = at_the_limits(limit, rows, steps, vocab, rest_bytes)
    at_limit_grpc, at_limit_rest = grpc_bytes(server.model, grpc_inputs), rest_bytes(rest_inputs)
    grpc_primer, rest_primer = grpc_inputs[sig.PRIMER].shape[1], rest_inputs[sig.PRIMER].shape[1]
    huge = predict_pb2.PredictRequest.FromString(grpc_bytes(server.model, generate_inputs(1, 4, 16, vocab)))
    huge.inputs[sig.PRIMER].tensor_shape.dim[0].size = 2**31
    huge.inputs[sig.PRIMER].tensor_shape.dim[1].size = 2**31
    oversized_grpc = grpc_bytes(server.model, generate_inputs(1, limit // 4 + 16, 16, vocab))
    oversized_rest = b" " * (limit + 1)
    return {
        f"gRPC generate {rows} rows, primer {grpc_primer} + {steps - grpc_primer} steps (1)": lambda: server.grpc(at_limit_grpc),
        f"gRPC generate {rows} rows, primer {grpc_primer} + {steps - grpc_primer} steps (2)": lambda: server.grpc(at_limit_grpc),
        f"REST generate {rows} rows, primer {rest_primer} + {steps - rest_primer} steps (1)": lambda: server.rest(at_limit_rest),
        f"REST generate {rows} rows, primer {rest_primer} + {steps - rest_primer} steps (2)": lambda: server.rest(at_limit_rest),
        "gRPC primer declaring 2^62 elements": lambda: server.grpc(huge.SerializeToString()),
        "gRPC message over the limit": lambda: server.grpc(oversized_grpc),
        "REST body over the limit": lambda: server.rest(oversized_rest),
    }


def time_good(server: Server, count: int, vocab: int) -> dict[str, list[float]]:
    """Seconds of `count` good gRPC and REST `generate` calls, alternating (all must succeed)."""
    inputs = generate_inputs(1, 4, 16, vocab)
    payload, body = grpc_bytes(server.model, inputs), rest_bytes(inputs)
    seconds: dict[str, list[float]] = {"gRPC": [], "REST": []}
    for _ in range(count):
        for name, call, good in (("gRPC", lambda: server.grpc(payload, 60), "OK"), ("REST", lambda: server.rest(body, 60), 200)):
            start = time.perf_counter()
            answer = call()
            seconds[name].append(time.perf_counter() - start)
            if answer != good:
                raise RuntimeError(f"a good {name} request was answered {answer}")
    return seconds


def run_abuse(server: Server, args: argparse.Namespace, vocab: int) -> tuple[dict[str, list[float]], dict[str, list]]:
    """Good-call seconds while the abusers run, and each abuser's answers."""
    stop = threading.Event()
    answers: dict[str, list] = {}

    def loop(name: str, call: Callable[[], object]) -> None:
        while not stop.is_set():
            try:
                answers[name].append(call())
            except OSError as error:  # a reset, a refused connection: the abuser's answer, recorded
                answers[name].append(type(error).__name__)

    threads = []
    for name, call in abusers(server, args, vocab).items():
        answers[name] = []
        threads.append(threading.Thread(target=loop, args=(name, call), name=name))
    answers["slowloris: 32 trickling + 32 silent connections"] = ["held"]
    threads.append(threading.Thread(target=slowloris, args=(server, stop), name="slowloris"))
    for thread in threads:
        thread.start()
    time.sleep(args.settle)  # every abuser has a request in flight
    try:
        seconds = time_good(server, args.good, vocab)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return seconds, answers


def vocabulary_size(rest_url: str, model: str) -> int:
    """V, from the metadata: `generate`'s `allowed` input is [B, V]."""
    with urllib.request.urlopen(f"{rest_url}/v1/models/{model}/metadata", timeout=30) as answer:
        metadata = json.loads(answer.read())
    allowed = metadata["metadata"]["signature_def"]["signature_def"][sig.GENERATE]["inputs"][sig.ALLOWED]
    return int(allowed["tensor_shape"]["dim"][1]["size"])


def report(quiet: dict[str, list[float]], abused: dict[str, list[float]]) -> list[str]:
    """The table: per transport, median / 90th percentile / worst ms of both phases, and the medians' ratio."""
    def figures(seconds: list[float]) -> str:
        p90 = statistics.quantiles(seconds, n=10, method="inclusive")[-1] if len(seconds) > 1 else seconds[0]
        return "".join(f"{value * 1000:>9.1f} ms" for value in (statistics.median(seconds), p90, max(seconds)))

    lines = [f"{'':<6}{'quiet: median':>15}{'p90':>12}{'worst':>12}{'abused: median':>16}{'p90':>12}{'worst':>12}"
             f"{'median x':>10}"]
    for name in quiet:
        ratio = statistics.median(abused[name]) / statistics.median(quiet[name])
        lines.append(f"{name:<6}{figures(quiet[name]):>39}{figures(abused[name]):>40}{ratio:>10.1f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--saved-model", type=pathlib.Path, default=pathlib.Path("saved_models/lstm_erk"))
    parser.add_argument("--good", type=int, default=20, help="good calls per transport per phase")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds between starting the abusers and timing")
    parser.add_argument("--max_batch_rows", type=int, default=256, help="the server's flag (its default)")
    parser.add_argument("--max_steps", type=int, default=512, help="the server's flag (default 4096: minutes per request here)")
    parser.add_argument("--max_request_bytes", type=int, default=1 << 20, help="the server's flag (default 16 MiB)")
    parser.add_argument("--server_flag", action="append", default=[], help="another server flag, e.g. --rest_api_num_threads=8")
    args = parser.parse_args(argv)
    model = args.saved_model.resolve().name
    flags = [f"--max_batch_rows={args.max_batch_rows}", f"--max_steps={args.max_steps}",
             f"--max_request_bytes={args.max_request_bytes}", *args.server_flag]
    load = os.getloadavg()
    with start_subprocess([model], model_base_path=args.saved_model.resolve(), extra_flags=flags) as running:
        server = Server(running, model)
        vocab = vocabulary_size(running.rest_url, model)
        time_good(server, 3, vocab)  # warm
        before = server.memory_kb()
        quiet = time_good(server, args.good, vocab)
        abused, answers = run_abuse(server, args, vocab)
        after = server.memory_kb()
        server.channel.close()
    print(f"# {model}, server flags {' '.join(flags)}; {args.good} good calls (1 row, 16 steps) per transport per phase;"
          f" load average {load[0]:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")
    for name, got in answers.items():
        print(f"# abuser {name}: {len(got)} requests, answers {sorted({str(answer) for answer in got})}")
    for line in report(quiet, abused):
        print(line)
    worst = max(max(values) for values in abused.values())
    print(f"server RSS: {before['VmRSS'] / 1024:.0f} MiB before the abuse, peak {after['VmHWM'] / 1024:.0f} MiB, "
          f"{after['VmRSS'] / 1024:.0f} MiB after")
    print(f"target: worst good request under abuse < {TARGET_WORST_S:g} s: {'met' if worst < TARGET_WORST_S else 'NOT met'} "
          f"({worst:.3f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

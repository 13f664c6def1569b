"""Running a model server for tests, benchmarks and the demo: in a subprocess or in this process.

`start_subprocess(...)` runs `python -m serving.server` on free ports and waits until the named
models are AVAILABLE; `start_in_process(...)` does the same with a `ModelServer` here.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from serving.model_server.host import ModelServer, ServerOptions


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now on `host` (another process may still take it before it is bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@dataclasses.dataclass(frozen=True)
class RunningServer:
    """Where a started server listens."""

    grpc_address: str  # "127.0.0.1:PORT", for grpc.insecure_channel
    rest_url: str  # "http://127.0.0.1:PORT"
    process: subprocess.Popen | None
    log_path: Path | None

    def log(self) -> str:
        """The subprocess's log so far (empty in-process)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path else ""


def wait_until_available(grpc_address: str, model_names: Sequence[str], timeout: float, process: subprocess.Popen | None = None) -> None:
    """Poll GetModelStatus until every named model has an AVAILABLE version (TimeoutError otherwise)."""
    import grpc
    from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc

    deadline = time.monotonic() + timeout
    pending = list(model_names)
    with grpc.insecure_channel(grpc_address) as channel:
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        while pending:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"server exited with code {process.returncode} before {pending} became available")
            if time.monotonic() > deadline:
                raise TimeoutError(f"models {pending} not AVAILABLE on {grpc_address} after {timeout} s")
            request = get_model_status_pb2.GetModelStatusRequest()
            request.model_spec.name = pending[0]
            try:
                response = stub.GetModelStatus(request, timeout=2)
                if any(s.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE for s in response.model_version_status):
                    pending.pop(0)
                    continue
            except grpc.RpcError:
                pass
            time.sleep(0.2)


@contextlib.contextmanager
def start_subprocess(
    model_names: Sequence[str],
    model_config_file: Path | None = None,
    model_base_path: Path | None = None,
    extra_flags: Sequence[str] = (),
    timeout: float = 120.0,
    cwd: Path | None = None,
    source_tree: Path | None = None,
) -> Iterator[RunningServer]:
    """Run `python -m serving.server` on free ports until the block ends; wait for `model_names`.

    Give `model_config_file`, or `model_base_path` with exactly one name in `model_names`.
    `source_tree` is the checkout whose `serving.server` runs (default: this one), so that a
    benchmark can run another revision's server beside this one; it is also the default `cwd`
    (`python -m` puts the current directory first on the import path).
    """
    grpc_port, rest_port = free_port(), free_port()
    flags = ["--port", str(grpc_port), "--rest_api_port", str(rest_port), *extra_flags]
    if model_config_file is not None:
        flags += ["--model_config_file", str(model_config_file)]
    else:
        flags += ["--model_name", model_names[0], "--model_base_path", str(model_base_path)]
    log_dir = Path(tempfile.mkdtemp(prefix="serving-server-"))
    log_path = log_dir / "server.log"
    tree = source_tree if source_tree is not None else Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])}
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "serving.server", *flags],
            stdout=log_file, stderr=subprocess.STDOUT, cwd=cwd or source_tree, env=env,
        )
    running = RunningServer(f"127.0.0.1:{grpc_port}", f"http://127.0.0.1:{rest_port}", process, log_path)
    try:
        try:
            wait_until_available(running.grpc_address, model_names, timeout, process)
        except (TimeoutError, RuntimeError) as error:
            raise RuntimeError(f"{error}\n--- server log ---\n{running.log()}") from error
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def start_in_process(options: ServerOptions, model_names: Sequence[str] = (), timeout: float = 60.0) -> Iterator[RunningServer]:
    """Run a ModelServer in this process until the block ends (ports 0 pick free ports)."""
    server = ModelServer(options)
    server.start()
    try:
        address = f"{options.host}:{server.grpc_port}"
        wait_until_available(address, model_names, timeout)
        rest_url = f"http://{options.host}:{server.rest_port}" if server.rest_port else ""
        yield RunningServer(address, rest_url, None, None)
    finally:
        server.stop()

"""A local stand-in for `tensorflow_model_server`: same flags, gRPC services, REST paths and version polling.

    python -m serving.server --port 8500 --rest_api_port 8501 --model_config_file serving/models.config
    python -m serving.server --model_name lstm_erk --model_base_path saved_models/lstm_erk

Relative base paths (in the config file or `--model_base_path`) are resolved against the current
directory. Once the initial models are loaded and both ports are bound it logs
`Serving gRPC on HOST:PORT, REST on http://HOST:PORT`. SIGINT / SIGTERM shut it down cleanly.

For tests, benchmarks and demos: `ModelServer` runs in-process; `start_subprocess(...)` is a context
manager that runs `python -m serving.server` on free ports and waits until the models are AVAILABLE.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures
from pathlib import Path
from typing import Iterator, Sequence

LOGGER = logging.getLogger("serving.server")
DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ServerOptions:
    """Everything the server needs; built from the flags by `options_from_args`."""

    model_config_file: Path | None = None
    model_name: str = "default"
    model_base_path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8500
    rest_api_port: int = 8501
    file_system_poll_wait_seconds: int = 1
    max_batch_rows: int = 256
    max_steps: int = 4096
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    grpc_workers: int = 8

    def __post_init__(self) -> None:
        if (self.model_config_file is None) == (self.model_base_path is None):
            raise ValueError("give exactly one of --model_config_file or --model_base_path")
        for name in ("port", "rest_api_port"):
            value = getattr(self, name)
            if not 0 <= value <= 65535:
                raise ValueError(f"--{name} must be in 0..65535, got {value}")
        if self.file_system_poll_wait_seconds < 0:
            raise ValueError(f"--file_system_poll_wait_seconds must be >= 0, got {self.file_system_poll_wait_seconds}")
        for name in ("max_batch_rows", "max_steps", "max_request_bytes", "grpc_workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}")


def build_parser() -> argparse.ArgumentParser:
    """The flags of tensorflow_model_server that Folkgen uses, plus --host and request limits."""
    parser = argparse.ArgumentParser(prog="python -m serving.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8500, help="gRPC port (0: any free port)")
    parser.add_argument("--rest_api_port", type=int, default=8501, help="REST port (0: no REST server)")
    parser.add_argument("--model_config_file", type=Path, help="text-format ModelServerConfig")
    parser.add_argument("--model_name", default="default", help="model name with --model_base_path")
    parser.add_argument("--model_base_path", type=Path, help="directory of integer version dirs (one model)")
    parser.add_argument(
        "--file_system_poll_wait_seconds", type=int, default=1, help="seconds between polls (0: poll once)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--max_batch_rows", type=int, default=256, help="most rows in one request")
    parser.add_argument("--max_steps", type=int, default=4096, help="largest value of an int input named steps")
    parser.add_argument(
        "--max_request_bytes", type=int, default=DEFAULT_MAX_REQUEST_BYTES, help="largest gRPC message / REST body"
    )
    return parser


def options_from_args(args: argparse.Namespace) -> ServerOptions:
    """ServerOptions from parsed flags (ValueError naming a bad flag value)."""
    return ServerOptions(**{field.name: getattr(args, field.name) for field in dataclasses.fields(ServerOptions) if hasattr(args, field.name)})


class ModelServer:
    """The gRPC and REST servers over one model registry, in this process."""

    def __init__(self, options: ServerOptions) -> None:
        from serving.model_server.inference import Limits
        from serving.model_server.registry import ModelConfig, ModelRegistry, read_model_config_file

        self.options = options
        self.limits = Limits(options.max_batch_rows, options.max_steps, options.max_request_bytes)
        if options.model_config_file is not None:
            configs = read_model_config_file(options.model_config_file)
        else:
            configs = [ModelConfig(name=options.model_name, base_path=options.model_base_path.absolute())]
        self.registry = ModelRegistry(configs, poll_wait_seconds=options.file_system_poll_wait_seconds)
        self.grpc_port = 0
        self.rest_port = 0
        self._grpc_server = None
        self._rest_server = None
        self._rest_thread: threading.Thread | None = None

    def start(self) -> None:
        """Load the models present now, bind both ports, start polling; returns once serving."""
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        from serving.model_server.grpc_api import ModelService, PredictionService
        from serving.model_server.rest import RestServer

        self.registry.poll_all()
        size = self.options.max_request_bytes
        self._grpc_server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self.options.grpc_workers, thread_name_prefix="grpc"),
            options=[("grpc.max_receive_message_length", size), ("grpc.max_send_message_length", -1)],
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionService(self.registry, self.limits), self._grpc_server
        )
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(self.registry), self._grpc_server)
        host = self.options.host
        self.grpc_port = self._grpc_server.add_insecure_port(f"{host}:{self.options.port}")
        if self.grpc_port == 0:
            raise OSError(f"cannot bind gRPC to {host}:{self.options.port}")
        self._grpc_server.start()
        rest = "REST off"
        if self.options.rest_api_port:
            self._rest_server = RestServer((host, self.options.rest_api_port), self.registry, self.limits)
            self.rest_port = self._rest_server.server_address[1]
            self._rest_thread = threading.Thread(target=self._rest_server.serve_forever, name="rest", daemon=True)
            self._rest_thread.start()
            rest = f"REST on http://{host}:{self.rest_port}"
        self.registry.start_polling()
        LOGGER.info("Serving gRPC on %s:%d, %s", host, self.grpc_port, rest)

    def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop accepting requests, let those in flight finish (up to the grace period), stop polling."""
        LOGGER.info("Shutting down")
        if self._rest_server is not None:
            self._rest_server.shutdown()
            self._rest_server.server_close()
        if self._grpc_server is not None:
            self._grpc_server.stop(grace_seconds).wait()
        self.registry.stop()


def serve(options: ServerOptions) -> None:
    """Run until SIGINT or SIGTERM."""
    server = ModelServer(options)
    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda received, frame: stop_requested.set())
    server.start()
    stop_requested.wait()
    server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m serving.server`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        options = options_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        serve(options)
    except (ValueError, OSError) as error:
        LOGGER.error("%s", error)
        return 1
    return 0


# ---- running a server for tests, benchmarks and demos ----


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
) -> Iterator[RunningServer]:
    """Run `python -m serving.server` on free ports until the block ends; wait for `model_names`.

    Give `model_config_file`, or `model_base_path` with exactly one name in `model_names`.
    """
    grpc_port, rest_port = free_port(), free_port()
    flags = ["--port", str(grpc_port), "--rest_api_port", str(rest_port), *extra_flags]
    if model_config_file is not None:
        flags += ["--model_config_file", str(model_config_file)]
    else:
        flags += ["--model_name", model_names[0], "--model_base_path", str(model_base_path)]
    log_dir = Path(tempfile.mkdtemp(prefix="serving-server-"))
    log_path = log_dir / "server.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "serving.server", *flags], stdout=log_file, stderr=subprocess.STDOUT, cwd=cwd, env=env
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


if __name__ == "__main__":
    sys.exit(main())

"""The model server in this process: gRPC and REST over one model registry, and `serve` until a signal."""
from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
from concurrent import futures
from pathlib import Path

LOGGER = logging.getLogger("serving.server")
DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024
DEFAULT_REST_API_TIMEOUT_IN_MS = 30000  # TF Serving's default


def default_rest_api_num_threads() -> int:
    """TF Serving's default for --rest_api_num_threads: 4 per CPU this process may run on."""
    return 4 * len(os.sched_getaffinity(0))


@dataclasses.dataclass(frozen=True)
class ServerOptions:
    """Everything the server needs; built from the flags by `options_from_args`."""

    model_config_file: Path | None = None
    model_name: str = "default"
    model_base_path: str | None = None  # a local path or a URL (gs://...)
    host: str = "127.0.0.1"
    port: int = 8500
    rest_api_port: int = 8501
    file_system_poll_wait_seconds: int = 1
    max_batch_rows: int = 256
    max_steps: int = 4096
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    grpc_workers: int = 8
    rest_api_num_threads: int = dataclasses.field(default_factory=default_rest_api_num_threads)
    rest_api_timeout_in_ms: int = DEFAULT_REST_API_TIMEOUT_IN_MS

    def __post_init__(self) -> None:
        if (self.model_config_file is None) == (self.model_base_path is None):
            raise ValueError("give exactly one of --model_config_file or --model_base_path")
        for name in ("port", "rest_api_port"):
            value = getattr(self, name)
            if not 0 <= value <= 65535:
                raise ValueError(f"--{name} must be in 0..65535, got {value}")
        if self.file_system_poll_wait_seconds < 0:
            raise ValueError(f"--file_system_poll_wait_seconds must be >= 0, got {self.file_system_poll_wait_seconds}")
        for name in ("max_batch_rows", "max_steps", "max_request_bytes", "grpc_workers", "rest_api_num_threads",
                     "rest_api_timeout_in_ms"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}")


class ModelServer:
    """The gRPC and REST servers over one model registry, in this process."""

    def __init__(self, options: ServerOptions) -> None:
        from serving.model_server.inference import Limits
        from serving.model_server.registry import ModelConfig, ModelRegistry, absolute_base_path, read_model_config_file

        self.options = options
        self.limits = Limits(options.max_batch_rows, options.max_steps, options.max_request_bytes)
        if options.model_config_file is not None:
            configs = read_model_config_file(options.model_config_file)
        else:
            configs = [ModelConfig(name=options.model_name, base_path=absolute_base_path(options.model_base_path))]
        self.registry = ModelRegistry(configs, poll_wait_seconds=options.file_system_poll_wait_seconds)
        self.grpc_port = 0
        self.rest_port = 0
        self._grpc_server = None
        self._rest_server = None

    def start(self) -> None:
        """Load the models present now, bind both ports, start polling; returns once serving."""
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        from serving.model_server.grpc_api import ModelService, PredictionService
        from serving.model_server.rest import RestApi
        from serving.model_server.rest_http import RestHttpServer

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
            self._rest_server = RestHttpServer(
                RestApi(self.registry, self.limits), host, self.options.rest_api_port,
                threads=self.options.rest_api_num_threads, request_timeout=self.options.rest_api_timeout_in_ms / 1000,
                max_request_bytes=self.options.max_request_bytes,
            )
            self.rest_port = self._rest_server.server_address[1]
            self._rest_server.start()
            rest = f"REST on http://{host}:{self.rest_port}"
        self.registry.start_polling()
        LOGGER.info("Serving gRPC on %s:%d, %s", host, self.grpc_port, rest)

    def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop accepting requests, let those in flight finish (up to the grace period), stop polling."""
        LOGGER.info("Shutting down")
        if self._rest_server is not None:
            self._rest_server.stop(grace_seconds)
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

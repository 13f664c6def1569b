"""`python -m serving.server`: a local stand-in for `tensorflow_model_server` (same flags, gRPC, REST, polling).

    python -m serving.server --port 8500 --rest_api_port 8501 --model_config_file serving/models.config
    python -m serving.server --model_name lstm_erk --model_base_path saved_models/lstm_erk

Relative base paths (in the config file or `--model_base_path`) are resolved against the current
directory. Once the initial models are loaded and both ports are bound it logs
`Serving gRPC on HOST:PORT, REST on http://HOST:PORT`. SIGINT / SIGTERM shut it down cleanly.
The server itself lives in `serving.model_server.host`; `serving.model_server.launcher` starts
one for tests, benchmarks and the demo.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from serving.model_server.host import (
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_REST_API_TIMEOUT_IN_MS,
    LOGGER,
    ServerOptions,
    default_rest_api_num_threads,
    serve,
)


def build_parser() -> argparse.ArgumentParser:
    """The flags of tensorflow_model_server that Folkgen uses, plus --host and request limits."""
    parser = argparse.ArgumentParser(prog="python -m serving.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8500, help="gRPC port (0: any free port)")
    parser.add_argument("--rest_api_port", type=int, default=8501, help="REST port (0: no REST server)")
    parser.add_argument(
        "--rest_api_num_threads", type=int, default=default_rest_api_num_threads(),
        help="REST worker threads (default, as TF Serving: 4 per CPU)",
    )
    parser.add_argument(
        "--rest_api_timeout_in_ms", type=int, default=DEFAULT_REST_API_TIMEOUT_IN_MS,
        help="REST: close a connection idle this long, or whose request has not arrived whole this long after its first byte",
    )
    parser.add_argument("--model_config_file", type=Path, help="text-format ModelServerConfig")
    parser.add_argument("--model_name", default="default", help="model name with --model_base_path")
    parser.add_argument("--model_base_path", help="directory (or gs:// URL) of integer version dirs (one model)")
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


if __name__ == "__main__":
    sys.exit(main())

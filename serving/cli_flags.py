"""The flags every ``folkgen`` command shares: where its models are, and how to reach them.

    --models-dir DIR       load the SavedModels in this process (default: see model_access)
    --server HOST:PORT     use a model server instead (gRPC; --rest for its REST API)

Light on purpose: building the parser imports neither TensorFlow nor gRPC.
"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from serving.model_access import MODELS_DIR_VARIABLE
from serving.retry_policy import RetryPolicy

if TYPE_CHECKING:
    from serving.client import ModelClient


def add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    """``--verbose``: INFO logging, and TensorFlow's own log lines (hidden by default)."""
    parser.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log progress, and show TensorFlow's and CUDA's log lines")


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """--models-dir, --server, --rest, --timeout, --retry-seconds and --verbose."""
    parser.add_argument("--models-dir", help=f"load the models in this process from DIR/<model>/<version>/ "
                        f"(default: ${MODELS_DIR_VARIABLE}, else ./saved_models if there, else the repository's)")
    parser.add_argument("--server", help="use the model server at HOST:PORT instead (TF Serving or serving.server)")
    parser.add_argument("--rest", action="store_true", help="talk to --server over REST instead of gRPC")
    parser.add_argument("--timeout", type=float, default=RetryPolicy.timeout_s, help="seconds per server request")
    parser.add_argument("--retry-seconds", type=float, default=RetryPolicy.window_s,
                        help="how long to retry a server that does not answer (one restarting; default %(default)s)")
    add_verbose_flag(parser)


def check_model_flags(args: argparse.Namespace) -> None:
    """ValueError for --rest without --server, or --models-dir together with --server."""
    if args.rest and not args.server:
        raise ValueError("--rest talks to a server: give --server HOST:PORT (without it the models load in process)")
    if args.server and args.models_dir:
        raise ValueError(f"--models-dir {args.models_dir!r} loads models in this process; --server "
                         f"{args.server!r} uses the server's: give one of them")


def retry_from_args(args: argparse.Namespace) -> RetryPolicy:
    return RetryPolicy(timeout_s=args.timeout, window_s=args.retry_seconds)


def client_from_args(args: argparse.Namespace, model: str, version: int | None = None) -> ModelClient:
    """A client of ``model`` as the flags say: of ``--server``, else loaded in process from --models-dir."""
    from serving.model_access import open_model_client

    check_model_flags(args)
    return open_model_client(model, server=args.server, models_dir=args.models_dir, rest=args.rest, version=version,
                             retry=retry_from_args(args))

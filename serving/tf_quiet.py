"""TensorFlow without its start-up chatter: C++ log lines, CUDA probing messages, deprecation warnings.

TensorFlow reads ``TF_CPP_MIN_LOG_LEVEL`` once, when it is first imported, so this runs before
that. The few lines its libraries write while loading, before absl's logging is initialised, go
to the process's stderr whatever that level says (``WARNING: All log messages before
absl::InitializeLog() ...``, the oneDNN and CUDA-driver notes): they are dropped by pointing file
descriptor 2 at /dev/null for the import alone. An error during the import is still raised, and
reported, after stderr is back. ``verbose`` leaves everything as TensorFlow has it.
"""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR"}
_PYTHON_LOGGERS = ("tensorflow", "absl")  # tf_logging's deprecation notes; absl's warnings (keras, tfds)


@contextmanager
def _stderr_dropped() -> Iterator[None]:
    """File descriptor 2 points at /dev/null inside the block (Python's sys.stderr flushed first)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow(verbose: bool = False) -> None:
    """Imports TensorFlow once, quietly unless ``verbose`` (variables the user set are kept)."""
    if verbose:
        import tensorflow  # noqa: F401
        return
    for name, value in _QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    for name in _PYTHON_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    if "tensorflow" in sys.modules:
        return
    with _stderr_dropped():
        import tensorflow  # noqa: F401

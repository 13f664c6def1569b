"""Integer version directories: how an export is published and how a server finds it.

A model's base path holds one folder per version, named by an ASCII integer (``1``, ``2``, ...);
TensorFlow Serving serves the highest by default. A new version is written under a hidden
temporary name inside the base path and renamed into place, so that a polling server never sees
half a model.
"""
from __future__ import annotations

import logging
import os
import pathlib
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

# TF Serving reads warm-up requests (a TFRecord of PredictionLogs) from here inside a version.
WARMUP_REQUESTS = pathlib.Path("assets.extra") / "tf_serving_warmup_requests"
_STAGING_PREFIX = ".export-"
_VERSION_NAME = re.compile(r"[0-9]+")
_RENAME_ATTEMPTS = 5


def _is_version_name(name: str) -> bool:
    """True for ASCII integer folder names only (``"12"``, not ``"²"`` or ``"v1"``)."""
    return _VERSION_NAME.fullmatch(name) is not None


def list_versions(base_path: str | os.PathLike) -> list[int]:
    """The integer versions under ``base_path``, ascending (none if it does not exist)."""
    base = pathlib.Path(base_path)
    if not base.is_dir():
        return []
    return sorted(int(entry.name) for entry in base.iterdir() if entry.is_dir() and _is_version_name(entry.name))


def latest_version_dir(base_path: str | os.PathLike) -> pathlib.Path:
    """The highest version folder under ``base_path``; ValueError naming the path if there is none."""
    versions = list_versions(base_path)
    if not versions:
        raise ValueError(f"no SavedModel version folder (1, 2, ...) under {str(base_path)!r}")
    return pathlib.Path(base_path) / str(versions[-1])


@contextmanager
def _staging_dir(base_path: str | os.PathLike) -> Iterator[pathlib.Path]:
    """A fresh hidden folder inside ``base_path`` to write an export into; removed if not published."""
    base = pathlib.Path(base_path)
    if base.exists() and not base.is_dir():
        raise ValueError(f"base_path {str(base)!r} exists and is not a directory")
    base.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=base))
    staging.chmod(0o755)  # mkdtemp makes it private; a server running as another user must read it
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _publish(staging: pathlib.Path, base_path: str | os.PathLike) -> pathlib.Path:
    """Rename ``staging`` to the next free integer version under ``base_path``; returns that folder.

    Retries a few times when another writer takes the same number first.
    """
    base = pathlib.Path(base_path)
    for _ in range(_RENAME_ATTEMPTS):
        target = base / str(max(list_versions(base), default=0) + 1)
        try:
            os.rename(staging, target)
            return target
        except OSError:
            if not target.exists():
                raise
    raise RuntimeError(f"could not claim a version directory under {str(base)!r}")


def write_version(base_path: str | os.PathLike, write: Callable[[pathlib.Path], None]) -> pathlib.Path:
    """Calls ``write(staging_folder)``, then publishes the folder as the next version; returns it."""
    with _staging_dir(base_path) as staging:
        write(staging)
        target = _publish(staging, base_path)
    logger.info("published %s", target)
    return target

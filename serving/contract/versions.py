"""Integer version directories: how an export is published and how a server finds it.

A model's base path holds one folder per version, named by an ASCII base-10 integer that fits
in an int64 (``1``, ``2``, ``007``; not ``²``, ``-3``, `` 7`` or ``1a``, which are ignored, as
TensorFlow Serving's file-system source ignores them); TensorFlow Serving serves the highest by
default. Every path goes through ``tf.io.gfile``, so a
base path may be a local folder or a URL (``gs://``, ``ram://``). A new version is written under
a hidden temporary name (``.export-<random>``) inside the base path and then renamed into place.
On a local file system that rename is one atomic ``rename(2)``, so a polling server never sees
half a model. On an object store (GCS) a folder is a name prefix and there is no atomic rename:
the files are renamed one by one, so a server polling the base path while an export is being
published may see a version folder that is not complete yet.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import tensorflow as tf

logger = logging.getLogger(__name__)

# TF Serving reads warm-up requests (a TFRecord of PredictionLogs) from here inside a version.
WARMUP_REQUESTS = "assets.extra/tf_serving_warmup_requests"
_STAGING_PREFIX = ".export-"
_VERSION_NAME = re.compile(r"[0-9]+")
_MAX_VERSION = 2**63 - 1  # a version is an int64 in TF Serving's protos
_RENAME_ATTEMPTS = 5


def _is_version_name(name: str) -> bool:
    """True for ASCII integer folder names within int64 only (``"12"``, not ``"²"``, ``" 7"`` or ``"v1"``)."""
    return _VERSION_NAME.fullmatch(name) is not None and int(name) <= _MAX_VERSION


def _is_url(path: str) -> bool:
    return "://" in path


def version_dirs(base_path: str | os.PathLike) -> dict[int, str]:
    """Each integer version under ``base_path`` and its folder, ascending (none if it does not exist).

    A folder named ``007`` is version 7; where ``7`` and ``007`` both exist, ``7`` is the folder.
    """
    base = os.fspath(base_path)
    if not tf.io.gfile.isdir(base):
        return {}
    found: dict[int, str] = {}
    for entry in sorted(tf.io.gfile.listdir(base)):
        name = entry.rstrip("/")  # GCS lists folders as "1/"
        if not _is_version_name(name) or not tf.io.gfile.isdir(os.path.join(base, name)):
            continue
        version = int(name)
        if version not in found or name == str(version):
            found[version] = os.path.join(base, name)
    return dict(sorted(found.items()))


def list_versions(base_path: str | os.PathLike) -> list[int]:
    """The integer versions under ``base_path``, ascending (none if it does not exist)."""
    return list(version_dirs(base_path))


def latest_version_dir(base_path: str | os.PathLike) -> str:
    """The highest version folder under ``base_path``; ValueError naming the path if there is none."""
    folders = version_dirs(base_path)
    if not folders:
        raise ValueError(f"no SavedModel version folder (1, 2, ...) under {os.fspath(base_path)!r}")
    return folders[max(folders)]


@contextmanager
def _staging_dir(base_path: str) -> Iterator[str]:
    """A fresh hidden folder inside ``base_path`` to write an export into; removed if not published."""
    if tf.io.gfile.exists(base_path) and not tf.io.gfile.isdir(base_path):
        raise ValueError(f"base_path {base_path!r} exists and is not a directory")
    staging = os.path.join(base_path, _STAGING_PREFIX + secrets.token_hex(6))
    tf.io.gfile.makedirs(staging)
    try:
        yield staging
    finally:
        try:
            if tf.io.gfile.exists(staging):
                tf.io.gfile.rmtree(staging)
        except tf.errors.NotFoundError:
            pass  # already gone
        except tf.errors.OpError as error:
            logger.warning("could not remove the staging folder %s: %s", staging, error)


def _tree(folder: str) -> Iterator[tuple[str, bool]]:
    """``(path, is_folder)`` of everything below ``folder``, parents first, listed by glob (whose
    matches end at a ``/``)."""
    for path in tf.io.gfile.glob(folder.rstrip("/") + "/*"):
        is_folder = tf.io.gfile.isdir(path)
        yield path, is_folder
        if is_folder:
            yield from _tree(path)


def _rename_folder(staging: str, target: str) -> None:
    """One atomic rename for a local folder; file by file under a URL (an object store has no
    folder to rename: a folder is a name prefix). Raises AlreadyExistsError if ``target`` exists."""
    if not _is_url(staging):
        tf.io.gfile.rename(staging, target)
        return
    if tf.io.gfile.exists(target):
        raise tf.errors.AlreadyExistsError(None, None, f"{target!r} already exists")
    tf.io.gfile.makedirs(target)
    for source, is_folder in list(_tree(staging)):
        destination = target + source[len(staging):]
        if is_folder:
            tf.io.gfile.makedirs(destination)
        else:
            tf.io.gfile.rename(source, destination)


def _publish(staging: str, base_path: str) -> str:
    """Rename ``staging`` to the next free integer version under ``base_path``; returns that folder.

    Retries a few times when another writer takes the same number first.
    """
    for _ in range(_RENAME_ATTEMPTS):
        target = os.path.join(base_path, str(max(list_versions(base_path), default=0) + 1))
        try:
            _rename_folder(staging, target)
            return target
        except (OSError, tf.errors.OpError):
            if not tf.io.gfile.exists(target):
                raise
    raise RuntimeError(f"could not claim a version directory under {base_path!r}")


def write_version(base_path: str | os.PathLike, write: Callable[[str], None]) -> str:
    """Calls ``write(staging_folder)`` (a gfile path), then publishes the folder as the next version;
    returns the version folder."""
    base = os.fspath(base_path)
    with _staging_dir(base) as staging:
        write(staging)
        target = _publish(staging, base)
    logger.info("published %s", target)
    return target

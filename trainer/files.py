"""Files the trainer and the evaluators write, under a local path or a URL (``gs://``, ``ram://``).

Every file is written under a temporary name beside its target (``.tmp-<hex>-<name>``: the name
keeps its suffix, which Keras checks) and renamed over the target once complete. A
``tf.io.gfile`` rename is atomic on a local disk (``os.rename``); on GCS it is a copy then a
delete, each object appearing whole or not at all, so a reader never finds half a file there
either, though a kill between the two steps can leave the temporary object behind.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable

import tensorflow as tf

TEMPORARY_PREFIX = ".tmp-"


def temporary_path(path: str) -> str:
    """A fresh name beside ``path`` for writing it: ``DIR/.tmp-<8 hex>-NAME``."""
    parent, name = os.path.split(path)
    return os.path.join(parent, f"{TEMPORARY_PREFIX}{secrets.token_hex(4)}-{name}")


def remove_if_exists(path: str) -> None:
    """Removes the file ``path`` if there is one."""
    if tf.io.gfile.exists(path):
        tf.io.gfile.remove(path)


def write_atomically(path: str | os.PathLike, write: Callable[[str], object]) -> None:
    """Calls ``write(temporary)`` and renames the temporary file over ``path`` once ``write`` returns.

    If ``write`` raises, the temporary file is removed and ``path`` keeps its previous content.
    """
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        tf.io.gfile.makedirs(parent)
    temporary = temporary_path(path)
    try:
        write(temporary)
        tf.io.gfile.rename(temporary, path, overwrite=True)
    finally:
        remove_if_exists(temporary)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Writes ``text`` to ``path`` through ``tf.io.gfile`` (atomically), creating its parent folder.

    A reader (a resumed run reading ``config.json``) never finds half a file after a kill.
    """

    def write(temporary: str) -> None:
        with tf.io.gfile.GFile(temporary, "w") as handle:
            handle.write(text)

    write_atomically(path, write)

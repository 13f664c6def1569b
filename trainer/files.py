"""Text files the trainer and the evaluators write, under a local path or a URL (``gs://``, ``ram://``)."""
from __future__ import annotations

import os
import secrets

import tensorflow as tf


def write_text(path: str | os.PathLike, text: str) -> None:
    """Writes ``text`` to ``path`` through ``tf.io.gfile``, creating its parent folder.

    The text goes to a temporary file beside ``path`` that is then renamed over it, so that a
    reader (a resumed run reading ``config.json``) never finds half a file after a kill.
    """
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        tf.io.gfile.makedirs(parent)
    temporary = f"{path}.tmp-{secrets.token_hex(4)}"
    with tf.io.gfile.GFile(temporary, "w") as handle:
        handle.write(text)
    tf.io.gfile.rename(temporary, path, overwrite=True)

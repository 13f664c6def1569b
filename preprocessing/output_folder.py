"""Plain files of the output folder, through ``tf.io.gfile`` (a local folder or a URL: ``gs://``, ``ram://``).

``prepare_output`` runs in the launcher before any work; the writers run in the job's last step
(the pipeline's ``Finalize`` stage); ``read_json`` reads ``stats.json`` back in the launcher. The
dead-letter file is written by Beam's own sink, through Beam's FileSystems (see ``pipeline``).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping

import tensorflow as tf

from preprocessing import schema

_LOG = logging.getLogger(__name__)

TEMP_SHARD_PREFIX = ".tmp-shard-"
_PROBE = ".write-probe"


def prepare_output(output: str) -> None:
    """Creates ``output``, checks it is writable, and removes shard files of an earlier run.

    Raises ValueError naming ``output`` when it is a file, or cannot be created or written.
    """
    if tf.io.gfile.exists(output) and not tf.io.gfile.isdir(output):
        raise ValueError(f"output {output!r} exists and is not a folder")
    probe = tf.io.gfile.join(output, _PROBE)
    try:
        tf.io.gfile.makedirs(output)
        with tf.io.gfile.GFile(probe, "wb") as handle:
            handle.write(b"ok")
        tf.io.gfile.remove(probe)
    except (OSError, tf.errors.OpError) as error:
        raise ValueError(f"output {output!r} cannot be created or written: {error}") from error
    patterns = (f"{schema.DATASET_NAME}-*", f"{TEMP_SHARD_PREFIX}*")
    stale = [path for pattern in patterns for path in tf.io.gfile.glob(tf.io.gfile.join(output, pattern))]
    for path in stale:
        tf.io.gfile.remove(path)
    if stale:
        _LOG.info("removed %d shard files of an earlier run in %s", len(stale), output)


def write_json(path: str, document: Mapping[str, object]) -> None:
    """Writes ``document`` as indented UTF-8 JSON."""
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write((json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def read_json(path: str) -> dict:
    """Reads a JSON file written by ``write_json``."""
    with tf.io.gfile.GFile(path, "rb") as handle:
        return json.loads(handle.read().decode("utf-8"))


def write_vocabulary_file(path: str, entries: list[tuple[str, int]]) -> None:
    """Writes ``[(symbol, count), ...]`` as a vocabulary TSV (``schema.format_vocabulary``)."""
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(schema.format_vocabulary(entries).encode("utf-8"))

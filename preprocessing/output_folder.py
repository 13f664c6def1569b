"""Plain files of the output folder, through ``tf.io.gfile`` (a local folder or a URL: ``gs://``, ``ram://``).

The writers run in the job's last step (the pipeline's ``Finalize`` stage), into the job's
temporary folder (``preprocessing.staging``); ``read_json`` reads ``stats.json`` back in the
launcher. The dead-letter file is written by Beam's own sink, through Beam's FileSystems (see
``pipeline``).
"""
from __future__ import annotations

import json
from collections.abc import Mapping

import tensorflow as tf

from preprocessing import schema

TEMP_SHARD_PREFIX = ".tmp-shard-"


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

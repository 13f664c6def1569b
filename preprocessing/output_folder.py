"""Plain files of the output folder, through Beam's FileSystems (local paths or ``gs://`` URLs).

No TensorFlow here: the launcher checks the output and reads the stats without loading it.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping

from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems

from preprocessing import schema

_LOG = logging.getLogger(__name__)

TEMP_SHARD_PREFIX = ".tmp-shard-"
_PROBE = ".write-probe"


def _is_url(path: str) -> bool:
    return "://" in path


def prepare_output(output: str) -> None:
    """Creates ``output``, checks it is writable, and removes shard files of an earlier run.

    Raises ValueError naming ``output`` when it is a file, or cannot be created or written.
    """
    if not _is_url(output):
        if os.path.exists(output) and not os.path.isdir(output):
            raise ValueError(f"output {output!r} exists and is not a folder")
        try:
            os.makedirs(output, exist_ok=True)
        except OSError as error:
            raise ValueError(f"output {output!r} cannot be created: {error}") from error
    probe = FileSystems.join(output, _PROBE)
    try:
        with FileSystems.create(probe) as handle:
            handle.write(b"ok")
        FileSystems.delete([probe])
    except (OSError, BeamIOError) as error:
        raise ValueError(f"output {output!r} cannot be written: {error}") from error
    patterns = [
        FileSystems.join(output, f"{schema.DATASET_NAME}-*"),
        FileSystems.join(output, f"{TEMP_SHARD_PREFIX}*"),
    ]
    stale = [meta.path for match in FileSystems.match(patterns) for meta in match.metadata_list]
    if stale:
        FileSystems.delete(stale)
        _LOG.info("removed %d shard files of an earlier run in %s", len(stale), output)


def write_json(path: str, document: Mapping[str, object]) -> None:
    """Writes ``document`` as indented UTF-8 JSON."""
    with FileSystems.create(path) as handle:
        handle.write((json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def read_json(path: str) -> dict:
    """Reads a JSON file written by ``write_json``."""
    with FileSystems.open(path) as handle:
        return json.loads(handle.read().decode("utf-8"))


def write_vocabulary_file(path: str, entries: list[tuple[str, int]]) -> None:
    """``schema.write_vocabulary`` to a local path or URL (written locally, then copied)."""
    with tempfile.TemporaryDirectory() as folder:
        local = os.path.join(folder, os.path.basename(path))
        schema.write_vocabulary(local, entries)
        with open(local, "rb") as source, FileSystems.create(path) as target:
            target.write(source.read())

"""The job's temporary folder and its move into the output folder, through ``tf.io.gfile``.

A job never writes into ``--output`` directly. ``prepare_output`` (in the launcher, before any
work) refuses a non-empty output folder unless ``overwrite``, removes what runs that did not
finish left, and creates the folder the workers write into: ``<output>.tmp-<random>``, a sibling,
or ``<output>/.tmp-<random>`` where no sibling can be made (a bucket's root, a parent that cannot
be written). ``commit`` (in the launcher, once the job has finished and its counts add up) writes
the completion marker ``schema.COMPLETE_FILE`` and moves the dataset into place:

- a local output that does not exist: the temporary folder is renamed (one atomic step);
- otherwise, file by file: the earlier marker is removed first, then the files an earlier run
  wrote (those its marker names, or the job's exact names and shard names: never other files),
  then the new files are moved in, and the marker last.

On ``gs://`` a move is a copy and a delete, so a folder is incomplete for a while; the marker,
absent until every other file is in place, is what tells the trainer (``check_data_dir``) so.
A run killed at any point leaves the earlier dataset whole, or a folder without a marker.
"""
from __future__ import annotations

import datetime
import logging
import re
import uuid
from collections.abc import Mapping

import tensorflow as tf

from preprocessing import output_folder, schema

_LOG = logging.getLogger(__name__)

TEMP_INFIX = ".tmp-"
# Written into a temporary folder when it is made: what marks a `*.tmp-*` folder as the job's.
IN_PROGRESS_FILE = "_IN_PROGRESS"
_TEMP_SUFFIX = re.compile(rf"{re.escape(TEMP_INFIX)}[0-9a-f]{{12}}")
_PROBE = ".write-probe"
_SPLITS = "|".join(schema.SPLITS)
# What a Folkgen run writes into its output folder (for folders written before the marker named its files).
_KNOWN_FILES = frozenset({
    schema.VOCABULARY_FILE, schema.ABC_VOCABULARY_FILE, schema.STATS_FILE, schema.DEAD_LETTERS_FILE,
    schema.COMPLETE_FILE, "dataset_info.json", "features.json",
})
_SHARD = re.compile(rf"{re.escape(schema.DATASET_NAME)}-({_SPLITS})\.tfrecord-\d{{5}}-of-\d{{5}}")
# What killed runs left inside an output folder before the job wrote into a temporary folder.
_LEFTOVER_FILE = re.compile(rf"{re.escape(output_folder.TEMP_SHARD_PREFIX)}({_SPLITS})-\d{{5}}|{re.escape(_PROBE)}")
_LEFTOVER_FOLDER = re.compile(rf"beam-temp-{re.escape(schema.DEAD_LETTERS_FILE)}-[0-9a-f]+")


def now() -> str:
    """The time, UTC, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def normalise(output: str) -> str:
    """``output`` without trailing slashes (``gs://b/data/`` -> ``gs://b/data``; ``/`` stays)."""
    stripped = output.rstrip("/")
    return stripped if stripped and not stripped.endswith(":") else output


def _join(folder: str, name: str) -> str:
    return tf.io.gfile.join(folder, name)


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _has_sibling(output: str) -> bool:
    """Whether ``output`` has a parent folder (not a bucket's or the file system's root)."""
    if "://" in output:
        return "/" in output.split("://", 1)[1].strip("/")
    return output.strip("/") != ""


def _names(folder: str) -> list[str]:
    """The entries of ``folder``, sorted (ram:// also lists names of siblings that begin with the
    folder's name: those do not exist under it and are dropped)."""
    listed = (name.rstrip("/") for name in tf.io.gfile.listdir(folder))
    return sorted(name for name in listed if tf.io.gfile.exists(_join(folder, name)))


def _is_temp_folder(path: str) -> bool:
    return tf.io.gfile.isdir(path) and tf.io.gfile.exists(_join(path, IN_PROGRESS_FILE))


def _remove(path: str) -> None:
    if tf.io.gfile.isdir(path):
        tf.io.gfile.rmtree(path)
    else:
        tf.io.gfile.remove(path)


def remove_leftovers(output: str) -> list[str]:
    """Removes what runs of the job that did not finish left: their temporary folders (beside or in
    ``output``) and, in ``output``, Beam's ``beam-temp-*`` folder and temporary shards. Returns the paths."""
    found = []
    if _has_sibling(output):
        for path in tf.io.gfile.glob(output + TEMP_INFIX + "*"):
            suffix = _basename(path)[len(_basename(output)):]
            if _TEMP_SUFFIX.fullmatch(suffix) and _is_temp_folder(output + suffix):
                found.append(output + suffix)
    if tf.io.gfile.isdir(output):
        for name in _names(output):
            path = _join(output, name)
            folder = tf.io.gfile.isdir(path)
            if (_TEMP_SUFFIX.fullmatch(name) and _is_temp_folder(path)) or (
                _LEFTOVER_FOLDER.fullmatch(name) if folder else _LEFTOVER_FILE.fullmatch(name)
            ):
                found.append(path)
    for path in found:
        _remove(path)
        _LOG.info("removed %s, left by a preprocessing run that did not finish", path)
    return found


def prepare_output(output: str, *, overwrite: bool = False) -> str:
    """Checks ``output``, removes leftovers of killed runs, and makes the temporary folder; returns its path.

    Raises ValueError naming ``output`` when it is a file, a non-empty folder (unless
    ``overwrite``), or when neither it nor a temporary folder can be created and written.
    """
    output = normalise(output)
    if tf.io.gfile.exists(output) and not tf.io.gfile.isdir(output):
        raise ValueError(f"output {output!r} exists and is not a folder")
    remove_leftovers(output)
    if tf.io.gfile.isdir(output):
        entries = _names(output)
        if entries and not overwrite:
            shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
            raise ValueError(
                f"output {output!r} is not empty ({len(entries)} entries: {shown}); pass --overwrite to replace "
                "the preprocessing output in it (files it did not write are kept)"
            )
        _probe(output)
    return _make_temp_folder(output)


def _probe(folder: str) -> None:
    probe = _join(folder, _PROBE)
    try:
        with tf.io.gfile.GFile(probe, "wb") as handle:
            handle.write(b"ok")
        tf.io.gfile.remove(probe)
    except (OSError, tf.errors.OpError) as error:
        raise ValueError(f"output {folder!r} cannot be written: {error}") from error


def _make_temp_folder(output: str) -> str:
    suffix = TEMP_INFIX + uuid.uuid4().hex[:12]
    candidates = ([output + suffix] if _has_sibling(output) else []) + [_join(output, suffix)]
    errors = []
    for temp in candidates:
        try:
            tf.io.gfile.makedirs(temp)
            output_folder.write_json(_join(temp, IN_PROGRESS_FILE), {"output": output, "started": now()})
        except (OSError, tf.errors.OpError) as error:
            errors.append(f"{temp}: {error}")
            continue
        _LOG.info("writing into %s, moved into %s once complete", temp, output)
        return temp
    raise ValueError(f"output {output!r} cannot be created or written: {'; '.join(errors)}")


def earlier_run_files(output: str) -> list[str]:
    """The files in ``output`` an earlier run wrote: named in its marker, or the job's own names."""
    listed: set[str] = set()
    marker = _join(output, schema.COMPLETE_FILE)
    if tf.io.gfile.exists(marker):
        try:
            listed = {name for name in output_folder.read_json(marker).get("files", ()) if isinstance(name, str)}
        except (ValueError, AttributeError) as error:
            _LOG.warning("ignored the unreadable marker %s: %s", marker, error)
    listed = {name for name in listed if name and "/" not in name and name not in (".", "..")}
    ours = [name for name in _names(output) if name in listed or name in _KNOWN_FILES or _SHARD.fullmatch(name)]
    return [name for name in ours if not tf.io.gfile.isdir(_join(output, name))]


def commit(output: str, temp: str, details: Mapping[str, object]) -> list[str]:
    """Writes the completion marker into ``temp`` and moves the dataset into ``output``; returns its files.

    ``details`` (the job's arguments and counts) go into the marker with ``files`` (every file
    moved, the marker aside) and ``completed`` (the time).
    """
    output = normalise(output)
    files = [name for name in _names(temp) if name != IN_PROGRESS_FILE and not tf.io.gfile.isdir(_join(temp, name))]
    output_folder.write_json(_join(temp, schema.COMPLETE_FILE), {**details, "files": files, "completed": now()})
    if temp.startswith(output + TEMP_INFIX) and "://" not in output and not tf.io.gfile.exists(output):
        tf.io.gfile.remove(_join(temp, IN_PROGRESS_FILE))
        tf.io.gfile.rename(temp, output)
        _LOG.info("renamed %s to %s (%d files and %s)", temp, output, len(files), schema.COMPLETE_FILE)
        return files
    tf.io.gfile.makedirs(output)
    earlier = earlier_run_files(output)
    marker = _join(output, schema.COMPLETE_FILE)
    if tf.io.gfile.exists(marker):
        tf.io.gfile.remove(marker)  # from here until the new marker is in, the folder is not a complete dataset
    stale = [name for name in earlier if name not in files and name != schema.COMPLETE_FILE]
    for name in stale:
        tf.io.gfile.remove(_join(output, name))
    for name in files:
        tf.io.gfile.rename(_join(temp, name), _join(output, name), overwrite=True)
    tf.io.gfile.rename(_join(temp, schema.COMPLETE_FILE), marker, overwrite=True)
    tf.io.gfile.rmtree(temp)
    _LOG.info("moved %d files and %s from %s into %s (%d files of an earlier run replaced, %d removed)",
              len(files), schema.COMPLETE_FILE, temp, output, len(set(earlier) & set(files)), len(stale))
    return files

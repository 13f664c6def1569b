"""TensorFlow's in-memory file system (``ram://``) as the stand-in for ``gs://`` in tests.

``tf.io.gfile`` knows ``ram://`` natively. Two libraries on the way do not, and this module teaches
them, in the test process only:

- TFDS resolves paths through ``etils.epath``, which sends ``gs://`` to its ``PosixGPath`` on the
  ``tf.io.gfile`` backend when TensorFlow is installed; ``install_epath_ram`` maps ``ram://`` onto
  that same class and backend.
- Beam's ``FileSystems`` serves ``gs://`` through ``apache-beam[gcp]`` (not installed here);
  ``RamBeamFileSystem`` is a Beam file system for the ``ram`` scheme over ``tf.io.gfile``. Beam finds
  it by subclass discovery as soon as this module is imported.

``ram://`` lives in one process, so a Beam job can only use it on an in-process runner. Two
quirks of TF's RAM file system (gs:// has neither): a file opened for writing again is not
truncated (the new bytes are appended), and listing a folder also names what merely starts with
its name (``assets`` lists ``.extra`` when ``assets.extra`` exists), so ``tf.io.gfile.walk`` and
``rmtree`` trip over SavedModels there; ``files_under`` lists by glob instead.
"""
from __future__ import annotations

import pytest
import tensorflow as tf
from apache_beam.io.filesystem import BeamIOError, CompressionTypes, FileMetadata, FileSystem
from etils.epath import backend, gpath, register


def install_epath_ram(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lets ``etils.epath`` (and so TFDS) open ``ram://`` paths the way it opens ``gs://`` ones."""
    monkeypatch.setattr(gpath, "_URI_PREFIXES", (*gpath._URI_PREFIXES, "ram://"))
    monkeypatch.setattr(gpath, "_URI_SCHEMES", gpath._URI_SCHEMES | {"ram"})
    monkeypatch.setitem(gpath._URI_MAP_ROOT, "ram://", "/ram/")
    monkeypatch.setitem(gpath._PREFIX_TO_BACKEND, "ram", backend.tf_backend)
    monkeypatch.setitem(register._URI_PREFIXES_TO_CLS, "ram://", gpath.PosixGPath)


def copy_tree(source: str, target: str) -> None:
    """Copies the folder ``source`` to ``target`` (any two gfile paths), file by file."""
    for folder, _, files in tf.io.gfile.walk(source):
        destination = target + folder[len(source):]
        tf.io.gfile.makedirs(destination)
        for name in files:
            tf.io.gfile.copy(tf.io.gfile.join(folder, name), tf.io.gfile.join(destination, name), overwrite=True)


def files_under(folder: str) -> list[str]:
    """The paths of every file below ``folder`` relative to it, sorted, listed by glob."""
    found = []
    for path in tf.io.gfile.glob(folder.rstrip("/") + "/*"):
        name = path[len(folder.rstrip("/")) + 1:]
        found += [f"{name}/{child}" for child in files_under(path)] if tf.io.gfile.isdir(path) else [name]
    return sorted(found)


class RamBeamFileSystem(FileSystem):
    """Beam's file-system interface for ``ram://`` paths, over ``tf.io.gfile`` (uncompressed files only)."""

    @classmethod
    def scheme(cls) -> str:
        return "ram"

    def join(self, basepath: str, *paths: str) -> str:
        return tf.io.gfile.join(basepath, *paths)

    def split(self, path: str) -> tuple[str, str]:
        head, _, tail = path.rstrip("/").rpartition("/")
        return head, tail

    def mkdirs(self, path: str) -> None:
        tf.io.gfile.makedirs(path)

    def has_dirs(self) -> bool:
        return True

    def _list(self, dir_or_prefix: str):
        for folder, _, files in tf.io.gfile.walk(dir_or_prefix):
            for name in files:
                yield self.metadata(tf.io.gfile.join(folder, name))

    def _open(self, path: str, mode: str, compression_type: str):
        if compression_type == CompressionTypes.AUTO:
            compression_type = CompressionTypes.detect_compression_type(path)
        if compression_type != CompressionTypes.UNCOMPRESSED:
            raise BeamIOError(f"compressed files are not supported on ram://: {path}")
        return tf.io.gfile.GFile(path, mode)

    def create(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        handle = self._open(path, "wb", compression_type)
        handle.write(b"")  # a GFile creates its file on the first write; Beam expects it at once
        return handle

    def open(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        return self._open(path, "rb", compression_type)

    def copy(self, source_file_names, destination_file_names) -> None:
        for source, destination in zip(source_file_names, destination_file_names):
            tf.io.gfile.copy(source, destination, overwrite=True)

    def rename(self, source_file_names, destination_file_names) -> None:
        for source, destination in zip(source_file_names, destination_file_names):
            tf.io.gfile.rename(source, destination, overwrite=True)

    def exists(self, path: str) -> bool:
        return tf.io.gfile.exists(path)

    def size(self, path: str) -> int:
        return tf.io.gfile.stat(path).length

    def last_updated(self, path: str) -> float:
        return tf.io.gfile.stat(path).mtime_nsec / 1e9

    def checksum(self, path: str) -> str:
        return str(self.size(path))

    def metadata(self, path: str) -> FileMetadata:
        return FileMetadata(path, self.size(path), self.last_updated(path))

    def delete(self, paths) -> None:
        for path in paths:
            if tf.io.gfile.isdir(path):
                tf.io.gfile.rmtree(path)
            elif tf.io.gfile.exists(path):
                tf.io.gfile.remove(path)
            else:
                raise BeamIOError("delete failed", {path: FileNotFoundError(path)})

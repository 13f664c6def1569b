"""serving/contract/versions.py: integer version folders on a local disk and on ram:// (the stand-in for gs://)."""
from __future__ import annotations

import os

import pytest
import tensorflow as tf

from serving.contract import versions
from tests.helpers.ram_paths import files_under


def _write_model(staging: str) -> None:
    """A stand-in export: two files, one in a subfolder, written through gfile into ``staging``."""
    assert isinstance(staging, str) and os.path.basename(staging).startswith(".export-")
    tf.io.gfile.makedirs(os.path.join(staging, "assets"))  # empty, and a prefix of "assets.extra"
    tf.io.gfile.makedirs(os.path.dirname(os.path.join(staging, versions.WARMUP_REQUESTS)))
    with tf.io.gfile.GFile(os.path.join(staging, "saved_model.pb"), "w") as handle:
        handle.write("graph")
    with tf.io.gfile.GFile(os.path.join(staging, versions.WARMUP_REQUESTS), "w") as handle:
        handle.write("warmup")


def _names(folder: str) -> list[str]:
    return sorted(name.rstrip("/") for name in tf.io.gfile.listdir(folder))


def _published_files(version_dir: str) -> dict[str, str]:
    return {name: tf.io.gfile.GFile(f"{version_dir}/{name}").read() for name in files_under(version_dir)}


@pytest.fixture(params=["local", "ram"])
def base(request, tmp_path, ram_root) -> str:
    return str(tmp_path / "model") if request.param == "local" else f"{ram_root}/models/model"


def test_versions_are_published_whole_and_counted_up(base):
    first = versions.write_version(base, _write_model)
    second = versions.write_version(base, _write_model)
    assert (first, second) == (f"{base}/1", f"{base}/2")
    assert versions.list_versions(base) == [1, 2]
    assert versions.latest_version_dir(base) == f"{base}/2"
    assert _published_files(second) == {
        "saved_model.pb": "graph", "assets.extra/tf_serving_warmup_requests": "warmup",
    }
    assert _names(second) == ["assets", "assets.extra", "saved_model.pb"]
    assert _names(base) == ["1", "2"]  # no staging folder left behind


def test_a_failed_write_publishes_nothing_and_leaves_no_staging(base):
    def broken(staging: str) -> None:
        _write_model(staging)
        raise RuntimeError("export failed")

    with pytest.raises(RuntimeError, match="export failed"):
        versions.write_version(base, broken)
    assert versions.list_versions(base) == []
    assert _names(base) == []


def test_only_integer_folders_are_versions(base):
    for name in ("3", "v4", "²", ".export-0a1b"):
        tf.io.gfile.makedirs(os.path.join(base, name))
    with tf.io.gfile.GFile(os.path.join(base, "7"), "w") as handle:
        handle.write("a file, not a version")
    assert versions.list_versions(base) == [3]
    assert versions.write_version(base, _write_model) == f"{base}/4"


def test_missing_base_path_has_no_versions_and_latest_names_it(base):
    assert versions.list_versions(base) == []
    with pytest.raises(ValueError, match=f"under '{base}'"):
        versions.latest_version_dir(base)


def test_a_base_path_that_is_a_file_is_refused(base):
    tf.io.gfile.makedirs(os.path.dirname(base))
    with tf.io.gfile.GFile(base, "w") as handle:
        handle.write("x")
    with pytest.raises(ValueError, match=f"'{base}' exists and is not a directory"):
        versions.write_version(base, _write_model)


def test_a_local_version_is_published_by_one_atomic_rename(tmp_path, monkeypatch):
    renames = []
    rename = tf.io.gfile.rename

    def counted_rename(src: str, dst: str, overwrite: bool = False) -> None:
        renames.append((src, dst))
        rename(src, dst, overwrite)

    monkeypatch.setattr(tf.io.gfile, "rename", counted_rename)
    target = versions.write_version(tmp_path, _write_model)
    assert target == str(tmp_path / "1")
    assert len(renames) == 1 and renames[0][1] == target and os.path.dirname(renames[0][0]) == str(tmp_path)

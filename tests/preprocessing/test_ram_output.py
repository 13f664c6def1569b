"""The preprocessing job with its corpus and output on ram://, TensorFlow's in-memory file system
standing in for gs://: every file the job reads or writes goes through tf.io.gfile or Beam's
FileSystems, so nothing lands on the local disk and the output equals a local run's.

ram:// lives in one process: the job runs on Beam's in-process runner here, with
``tests/helpers/ram_paths.RamBeamFileSystem`` serving Beam's own sink (the dead letters) the way
apache-beam[gcp] serves gs://. The multi-process runner cannot use ram://.
"""
from __future__ import annotations

import json
import os

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from preprocessing import schema, staging, tfds_output
from preprocessing.job import run_preprocessing
from tests.conftest import TINY_CORPUS
from tests.helpers.ram_paths import copy_tree, files_under

pytestmark = pytest.mark.beam

IN_PROCESS = ["--runner", "FnApiRunner", "--direct_num_workers", "1", "--direct_running_mode", "in_memory"]


def _read(path: str) -> str:
    with tf.io.gfile.GFile(path) as handle:
        return handle.read()


def _write(path: str, text: str) -> None:
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(text)


def test_the_job_reads_and_writes_ram_and_matches_a_local_run(tiny_dataset, ram_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a mangled URL ("ram:/...") would become a folder here
    corpus, output = f"{ram_root}/corpora/{TINY_CORPUS.name}", f"{ram_root}/data/tiny"
    copy_tree(str(TINY_CORPUS), corpus)
    for folder in (".hidden", "more"):
        tf.io.gfile.makedirs(f"{corpus}/{folder}")
    with tf.io.gfile.GFile(f"{corpus}/.hidden/skipped.abc", "w") as handle:
        handle.write("X:1\nK:C\nC|]\n")
    with tf.io.gfile.GFile(f"{corpus}/more/empty.abc", "w") as handle:
        handle.write("")

    stats = run_preprocessing(corpus=f"dir:{corpus}", output=output, beam_args=IN_PROCESS)

    local = json.loads((tiny_dataset / schema.STATS_FILE).read_text())
    assert stats == json.loads(_read(f"{output}/{schema.STATS_FILE}"))
    assert (stats["tunes_read"], stats["tunes_skipped"]) == (local["tunes_read"] + 1, 1)
    assert {key: stats[key] for key in ("tunes_kept", "tunes_per_split", "timestep_steps", "keys", "meters")} == {
        key: local[key] for key in ("tunes_kept", "tunes_per_split", "timestep_steps", "keys", "meters")
    }
    for name in (schema.VOCABULARY_FILE, schema.ABC_VOCABULARY_FILE):
        assert _read(f"{output}/{name}") == (tiny_dataset / name).read_text(encoding="utf-8")
    shards = sorted(name for name in tf.io.gfile.listdir(output) if name.startswith(schema.DATASET_NAME))
    assert shards == sorted(name for name in os.listdir(tiny_dataset) if name.startswith(schema.DATASET_NAME))
    letters = [json.loads(line) for line in _read(f"{output}/{schema.DEAD_LETTERS_FILE}").splitlines()]
    assert [(letter["tune_id"], letter["reason"]) for letter in letters] == [
        (f"{TINY_CORPUS.name}/more/empty.abc", "empty_file")
    ]
    builder = tfds.builder_from_directory(output)
    ids = sorted(example[schema.FEATURE_ID].numpy().decode() for example in builder.as_dataset(split="train"))
    local_ids = sorted(
        example[schema.FEATURE_ID].numpy().decode()
        for example in tfds.builder_from_directory(str(tiny_dataset)).as_dataset(split="train")
    )
    assert ids == local_ids
    assert os.listdir(tmp_path) == []


def test_staging_on_ram_refuses_replaces_and_keeps_other_files(ram_root):
    root_temp = staging.prepare_output(ram_root)  # a bucket's root has no sibling: a hidden folder in it
    assert root_temp.startswith(f"{ram_root}/.tmp-")
    _write(f"{root_temp}/{schema.STATS_FILE}", "{}")
    staging.commit(ram_root, root_temp, {})
    assert files_under(ram_root) == [schema.COMPLETE_FILE, schema.STATS_FILE]

    a_file = f"{ram_root}/file.txt"
    _write(a_file, "x")
    with pytest.raises(ValueError, match=f"output '{a_file}' exists and is not a folder"):
        staging.prepare_output(a_file)
    output, user_file = f"{ram_root}/out", f"{schema.DATASET_NAME}-README.txt"
    old_shard, new_shard = tfds_output.shard_file_name("train", 0, 9), tfds_output.shard_file_name("train", 0, 1)
    _write(f"{output}/{old_shard}", "old")
    _write(f"{output}/{user_file}", "mine")
    with pytest.raises(ValueError, match=f"^output '{output}' is not empty .*--overwrite"):
        staging.prepare_output(output)
    temp = staging.prepare_output(output, overwrite=True)
    assert temp.startswith(f"{output}.tmp-")
    _write(f"{temp}/{new_shard}", "new")
    staging.commit(output, temp, {})
    assert files_under(output) == sorted([schema.COMPLETE_FILE, new_shard, user_file])
    assert _read(f"{output}/{user_file}") == "mine" and not tf.io.gfile.exists(temp)

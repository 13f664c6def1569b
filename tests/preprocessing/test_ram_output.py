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

from preprocessing import output_folder, schema, tfds_output
from preprocessing.job import run_preprocessing
from tests.conftest import TINY_CORPUS
from tests.helpers.ram_paths import copy_tree

pytestmark = pytest.mark.beam

IN_PROCESS = ["--runner", "FnApiRunner", "--direct_num_workers", "1", "--direct_running_mode", "in_memory"]


def _read(path: str) -> str:
    with tf.io.gfile.GFile(path) as handle:
        return handle.read()


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


def test_prepare_output_on_ram_refuses_a_file_and_removes_stale_shards(ram_root):
    a_file = f"{ram_root}/file.txt"
    with tf.io.gfile.GFile(a_file, "w") as handle:
        handle.write("x")
    with pytest.raises(ValueError, match=f"output '{a_file}' exists and is not a folder"):
        output_folder.prepare_output(a_file)
    stale = f"{ram_root}/out/{tfds_output.shard_file_name('train', 0, 9)}"
    with tf.io.gfile.GFile(stale, "w") as handle:
        handle.write("old")
    output_folder.prepare_output(f"{ram_root}/out")
    assert tf.io.gfile.listdir(f"{ram_root}/out") == []

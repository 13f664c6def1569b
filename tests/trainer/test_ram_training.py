"""trainer.task and trainer.evaluate with --data, --job-dir and --export on ram:// (TensorFlow's
in-memory file system, the stand-in for gs://): training, resuming and exporting write nothing
on the local disk.

TF's RAM file system appends to a file that is opened for writing again (gs:// replaces it), so
a job dir on ram:// stands two runs: Keras rewrites its backup files after every epoch.
"""
from __future__ import annotations

import csv
import json
import os

import pytest
import tensorflow as tf

from serving.contract import versions
from tests.helpers.ram_paths import copy_tree
from trainer import evaluate, fitting, task

pytestmark = pytest.mark.train

LSTM = ["units=16", "window=16", "batch_size=4", "patience=2"]
VAE = ["length=16", "hidden_dim=16", "latent_dim=4", "batch_size=4", "kl_warmup_epochs=0"]


def _read(path: str) -> str:
    with tf.io.gfile.GFile(path) as handle:
        return handle.read()


def _history(job_dir: str) -> list[dict]:
    return list(csv.DictReader(_read(f"{job_dir}/{fitting.HISTORY_FILE}").splitlines()))


def _train(preset: str, root: str, settings: list[str], *, export: bool) -> int:
    argv = ["--model", preset, "--data", f"{root}/data", "--job-dir", f"{root}/runs/{preset}", "--verbose", "0"]
    argv += ["--export", f"{root}/models/{preset}"] if export else []
    return task.main(argv + [arg for item in settings for arg in ("--set", item)])


@pytest.fixture
def ram_data(tiny_dataset, ram_root, tmp_path, monkeypatch) -> str:
    """``ram_root`` holding a copy of the tiny dataset under ``data/``; the working directory is an
    empty folder that each test checks is still empty (a mangled "ram:/..." path would land there)."""
    copy_tree(str(tiny_dataset), f"{ram_root}/data")
    monkeypatch.chdir(tmp_path)
    return ram_root


def test_a_token_model_trains_and_resumes_on_ram(ram_data, tmp_path):
    job_dir = f"{ram_data}/runs/lstm"
    assert _train("lstm", ram_data, LSTM + ["epochs=1"], export=False) == 0
    first = _history(job_dir)
    assert [row["epoch"] for row in first] == ["0"]
    checkpoints = set(tf.io.gfile.listdir(f"{job_dir}/checkpoints"))
    assert {"best.keras", "last.keras", "vocabulary.tsv", "backup"} <= {name.rstrip("/") for name in checkpoints}
    assert tf.io.gfile.glob(f"{job_dir}/logs/train/events.out.tfevents.*")

    assert _train("lstm", ram_data, LSTM + ["epochs=2"], export=False) == 0
    second = _history(job_dir)
    assert [row["epoch"] for row in second] == ["0", "1"] and second[0] == first[0]  # epoch 0 not trained again
    metrics = json.loads(_read(f"{job_dir}/{fitting.METRICS_FILE}"))
    assert metrics["epochs"] == 2 and metrics["data"] == f"{ram_data}/data"
    assert json.loads(_read(f"{job_dir}/{fitting.CONFIG_FILE}"))["config"]["epochs"] == 2
    assert os.listdir(tmp_path) == []


def test_a_token_model_exports_to_ram_and_is_evaluated_there(ram_data, tmp_path):
    export = f"{ram_data}/models/lstm"
    assert _train("lstm", ram_data, LSTM + ["epochs=1"], export=True) == 0
    assert _train("lstm", ram_data, LSTM + ["epochs=2"], export=True) == 0
    assert versions.list_versions(export) == [1, 2]
    assert json.loads(_read(f"{ram_data}/runs/lstm/{fitting.METRICS_FILE}"))["export"] == f"{export}/2"
    assert tf.io.gfile.exists(f"{export}/2/saved_model.pb")
    assert tf.io.gfile.exists(f"{export}/2/{versions.WARMUP_REQUESTS}")
    assert not [name for name in tf.io.gfile.listdir(export) if name.startswith(".")]

    report_path = f"{ram_data}/reports/lstm.json"
    argv = ["--model", export, "--data", f"{ram_data}/data", "--split", "validation", "--output", report_path]
    assert evaluate.main(argv) == 0
    report = json.loads(_read(report_path))
    assert report["model"] == f"{export}/2" and report["model_metrics"]["steps"] > 0
    assert os.listdir(tmp_path) == []


def test_a_vae_trains_and_exports_on_ram(ram_data, tmp_path):
    assert _train("vae_rhythms_cat", ram_data, VAE + ["epochs=1"], export=True) == 0
    export = f"{ram_data}/models/vae_rhythms_cat"
    metrics = json.loads(_read(f"{ram_data}/runs/vae_rhythms_cat/{fitting.METRICS_FILE}"))
    assert metrics["export_path"] == f"{export}/1" and versions.list_versions(export) == [1]
    assert json.loads(_read(f"{export}/1/assets.extra/vae_config.json"))["length"] == 16
    assert tf.io.gfile.exists(f"{ram_data}/runs/vae_rhythms_cat/checkpoints/final.weights.h5")
    assert os.listdir(tmp_path) == []

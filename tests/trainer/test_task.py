"""trainer.task: a real short training run, resume after an interruption, and bad inputs."""
import csv
import json
import logging

import keras
import pytest

from preprocessing import schema
from trainer import task
from trainer.token_models.config import resolve_config

SMALL = ["units=16", "window=16", "batch_size=4", "patience=2"]


def _history_epochs(job_dir):
    with open(job_dir / task.HISTORY_FILE) as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def _paths(tmp_path, **kwargs):
    return task.RunPaths.resolve(str(tmp_path / "job"), preset="lstm", environ={}, **kwargs)


def test_cli_trains_checkpoints_logs_and_exports(tiny_dataset, tmp_path):
    job_dir, export = tmp_path / "job", tmp_path / "saved_models" / "lstm_tiny"
    argv = ["--model", "lstm", "--data", str(tiny_dataset), "--job-dir", str(job_dir), "--export", str(export)]
    argv += [arg for item in SMALL + ["epochs=2"] for arg in ("--set", item)]
    assert task.main(argv + ["--verbose", "2"]) == 0

    checkpoints = job_dir / "checkpoints"
    assert (checkpoints / task.BEST_CHECKPOINT).is_file() and (checkpoints / task.LAST_CHECKPOINT).is_file()
    assert _history_epochs(job_dir) == [0, 1]
    assert any((job_dir / "logs").rglob("events.out.tfevents.*"))
    metrics = json.loads((job_dir / task.METRICS_FILE).read_text())
    assert metrics["epochs"] == 2 and metrics["train_time_s"] > 0
    assert metrics["parameter_count"] == keras.saving.load_model(checkpoints / task.BEST_CHECKPOINT).count_params()
    assert 0 < metrics["best_val_loss"] < 10
    assert (export / "1" / "saved_model.pb").is_file() and metrics["export"] == str(export / "1")


class _Interrupt(Exception):
    pass


class _InterruptAfter(keras.callbacks.Callback):
    """Simulates a killed process: raises once epoch ``last`` has been saved."""

    def __init__(self, last):
        super().__init__()
        self.last = last

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.last:
            raise _Interrupt(f"killed after epoch {epoch}")


class _EpochRecorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_an_interrupted_run_resumes_from_its_last_epoch(tiny_dataset, tmp_path):
    config = resolve_config("lstm", dict(item.split("=") for item in SMALL + ["epochs=3", "patience=5"]))
    paths = _paths(tmp_path)
    with pytest.raises(_Interrupt):
        task.train(config, str(tiny_dataset), paths, preset="lstm", callbacks=[_InterruptAfter(1)])
    assert _history_epochs(tmp_path / "job") == [0, 1]
    assert not (tmp_path / "job" / task.METRICS_FILE).exists()

    recorder = _EpochRecorder()
    metrics = task.train(config, str(tiny_dataset), paths, preset="lstm", callbacks=[recorder])
    assert recorder.epochs == [2]
    assert _history_epochs(tmp_path / "job") == [0, 1, 2]
    assert metrics["epochs"] == 3


def test_random_baseline_needs_no_training(tiny_dataset, tmp_path):
    config = resolve_config("random", {"window": "16"})
    metrics = task.train(config, str(tiny_dataset), _paths(tmp_path), preset="random")
    assert metrics["epochs"] == 0 and metrics["parameter_count"] > 0
    assert 0 < metrics["best_val_loss"] < 10


def _assert_nothing_trained(tmp_path):
    assert not (tmp_path / "job" / task.HISTORY_FILE).exists()
    assert not (tmp_path / "job" / task.METRICS_FILE).exists()


def test_a_folder_without_tfrecords_stops_before_training(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / schema.VOCABULARY_FILE).write_text("/\t0\n_\t1\n60\t1\n")
    with pytest.raises(ValueError, match=f"{empty}.*no TFRecords"):
        task.train(resolve_config("lstm"), str(empty), _paths(tmp_path), preset="lstm")
    _assert_nothing_trained(tmp_path)


def test_a_split_too_short_for_one_window_stops_before_training(tiny_dataset, tmp_path):
    with pytest.raises(ValueError, match="'train'.*too short for one 4096-step window"):
        task.train(resolve_config("lstm", {"window": "4096"}), str(tiny_dataset), _paths(tmp_path), preset="lstm")
    _assert_nothing_trained(tmp_path)


def test_a_checkpoint_with_another_vocabulary_stops_before_training(tiny_dataset, tmp_path):
    paths = _paths(tmp_path)
    (tmp_path / "job" / "checkpoints").mkdir(parents=True)
    schema.write_vocabulary(f"{paths.checkpoint_dir}/{schema.VOCABULARY_FILE}", [("/", 0), ("_", 5), ("60", 2)])
    with pytest.raises(ValueError, match="checkpoint vocabulary.*differs"):
        task.train(resolve_config("lstm"), str(tiny_dataset), paths, preset="lstm")
    _assert_nothing_trained(tmp_path)


def test_an_export_path_that_is_a_file_stops_before_training(tiny_dataset, tmp_path):
    export = tmp_path / "model_file"
    export.write_text("not a folder")
    with pytest.raises(ValueError, match=f"{export}.*is a file"):
        task.train(resolve_config("lstm"), str(tiny_dataset), _paths(tmp_path, export_path=str(export)), preset="lstm")
    _assert_nothing_trained(tmp_path)


@pytest.mark.parametrize(("flags", "named"), [(["--model", "gpt"], "'gpt'"), (["--model", "lstm", "--set", "unitz=2"], "'unitz'")])
def test_cli_names_unknown_presets_and_fields(tmp_path, caplog, flags, named):
    with caplog.at_level(logging.ERROR):
        assert task.main([*flags, "--data", str(tmp_path), "--job-dir", str(tmp_path / "job")]) == 2
    assert named in caplog.text
    _assert_nothing_trained(tmp_path)


def test_output_paths_default_to_vertex_ai_variables():
    environ = {"AIP_MODEL_DIR": "gs://b/model", "AIP_CHECKPOINT_DIR": "gs://b/ckpt", "AIP_TENSORBOARD_LOG_DIR": "gs://b/tb"}
    paths = task.RunPaths.resolve(None, preset="lstm", environ=environ)
    assert (paths.export_path, paths.checkpoint_dir, paths.tensorboard_dir) == ("gs://b/model", "gs://b/ckpt", "gs://b/tb")
    local = task.RunPaths.resolve("runs/x", preset="lstm", export_path="out/m", environ={})
    assert (local.export_path, local.checkpoint_dir, local.tensorboard_dir) == ("out/m", "runs/x/checkpoints", "runs/x/logs")

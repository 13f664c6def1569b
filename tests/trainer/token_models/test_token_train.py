"""trainer.token_models.train: resume after an interruption, the random baseline, and bad inputs."""
import csv

import keras
import pytest

from preprocessing import schema
from trainer import fitting
from trainer.run_paths import RunPaths
from trainer.token_models import data
from trainer.token_models.config import resolve_config
from trainer.token_models.train import train

pytestmark = pytest.mark.train

SMALL = ["units=16", "window=16", "batch_size=4", "patience=2"]


def _history_epochs(job_dir):
    with open(job_dir / fitting.HISTORY_FILE) as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def _paths(tmp_path, **kwargs):
    return RunPaths.resolve(str(tmp_path / "job"), preset="lstm", environ={}, **kwargs)


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
        train(config, str(tiny_dataset), paths, preset="lstm", callbacks=[_InterruptAfter(1)])
    assert _history_epochs(tmp_path / "job") == [0, 1]
    assert not (tmp_path / "job" / fitting.METRICS_FILE).exists()

    recorder = _EpochRecorder()
    metrics = train(config, str(tiny_dataset), paths, preset="lstm", callbacks=[recorder])
    assert recorder.epochs == [2]
    assert _history_epochs(tmp_path / "job") == [0, 1, 2]
    assert metrics["epochs"] == 3


def test_random_baseline_needs_no_training(tiny_dataset, tmp_path):
    config = resolve_config("random", {"window": "16"})
    metrics = train(config, str(tiny_dataset), _paths(tmp_path), preset="random")
    assert metrics["epochs"] == 0 and metrics["parameter_count"] > 0
    assert 0 < metrics["best_val_loss"] < 10


def _assert_nothing_trained(tmp_path):
    assert not (tmp_path / "job" / fitting.HISTORY_FILE).exists()
    assert not (tmp_path / "job" / fitting.METRICS_FILE).exists()


def test_a_folder_without_tfrecords_stops_before_training(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / schema.VOCABULARY_FILE).write_text("/\t0\n_\t1\n60\t1\n")
    with pytest.raises(ValueError, match=f"{empty}.*no TFRecords"):
        train(resolve_config("lstm"), str(empty), _paths(tmp_path), preset="lstm")
    _assert_nothing_trained(tmp_path)


def test_a_split_too_short_for_one_window_stops_before_training(tiny_dataset, tmp_path):
    with pytest.raises(ValueError, match="'train'.*too short for one 4096-step window"):
        train(resolve_config("lstm", {"window": "4096"}), str(tiny_dataset), _paths(tmp_path), preset="lstm")
    _assert_nothing_trained(tmp_path)


def test_a_checkpoint_with_another_vocabulary_stops_before_training(tiny_dataset, tmp_path):
    paths = _paths(tmp_path)
    (tmp_path / "job" / "checkpoints").mkdir(parents=True)
    data.write_vocabulary_file(f"{paths.checkpoint_dir}/{schema.VOCABULARY_FILE}", [("/", 0), ("_", 5), ("60", 2)])
    with pytest.raises(ValueError, match="checkpoint vocabulary.*differs"):
        train(resolve_config("lstm"), str(tiny_dataset), paths, preset="lstm")
    _assert_nothing_trained(tmp_path)


def test_an_export_path_that_is_a_file_stops_before_training(tiny_dataset, tmp_path):
    export = tmp_path / "model_file"
    export.write_text("not a folder")
    with pytest.raises(ValueError, match=f"{export}.*is a file"):
        train(resolve_config("lstm"), str(tiny_dataset), _paths(tmp_path, export_path=str(export)), preset="lstm")
    _assert_nothing_trained(tmp_path)

"""trainer.fitting's checkpoints: a failed write leaves the previous one intact, and a resume
sets aside what a killed write left (truncated, empty, half a pair, temporary files) and goes on.

A tiny linear model on data made here (its validation loss falls every epoch), fitted in process.
"""
from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer import fitting
from trainer.run_paths import RunPaths

pytestmark = pytest.mark.train

PARTIAL = b"\x89HDF\r\n\x1a\n" + b"\0" * 88  # 96 bytes: the start of an HDF5 file, as a killed write leaves it


class _EpochRecorder(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.epochs: list[int] = []
        self.losses: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)
        self.losses.append(round(float(logs["loss"]), 6))


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), loss="mse")
    return model


def _fit(job: Path, epochs: int, *, weights_only: bool = False, backup: keras.callbacks.Callback | None = None):
    """Fits a fresh model for ``epochs`` epochs in ``job`` (resuming); returns what it trained (a recorder)."""
    x = np.linspace(-1, 1, 32, dtype="float32")[:, None]
    batches = tf.data.Dataset.from_tensor_slices((x, 2 * x)).batch(8)
    paths = RunPaths.resolve(str(job), preset="tiny", environ={})
    paths.make_dirs()
    recorder = _EpochRecorder()
    plan = fitting.FitPlan("val_loss", epochs, 5, weights_only=weights_only)
    model = _model()
    if backup is None:
        fitting.fit(model, batches, batches, paths, plan, callbacks=[recorder], verbose=0)
    else:  # Keras's own BackupAndRestore alone, as runs before atomic checkpoints wrote their resume state
        model.fit(batches, epochs=epochs, callbacks=[backup], verbose=0, shuffle=False)
    return recorder


def _files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def _newest_backup(job: Path) -> Path:
    """The newest weights file of the resume state (whatever the trainer names it)."""
    return sorted((job / "checkpoints" / "backup").glob("*.weights.h5"))[-1]


def _set_aside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.unreadable-*"))


@pytest.mark.parametrize(
    ("target", "weights_only"),
    [("backup", False), ("best", False), ("last", False), ("best", True), ("last", True)],
)
def test_a_failed_checkpoint_write_leaves_the_previous_one_intact(tmp_path, monkeypatch, target, weights_only):
    job = tmp_path / "job"
    _fit(job, 2, weights_only=weights_only)
    before = _files(job / "checkpoints")
    save, save_weights = keras.Model.save, keras.Model.save_weights

    def failing(original):
        def write(self, filepath, *args, **kwargs):
            name = str(filepath)
            hit = "/backup/" in name if target == "backup" else Path(name).name.endswith(
                f"{target}.weights.h5" if weights_only else f"{target}.keras")
            if not hit:
                return original(self, filepath, *args, **kwargs)
            Path(name).write_bytes(PARTIAL)  # half written, then the disk fills up
            raise OSError(f"no space left on device writing {name}")
        return write

    monkeypatch.setattr(keras.Model, "save", failing(save))
    monkeypatch.setattr(keras.Model, "save_weights", failing(save_weights))
    with pytest.raises(OSError, match="no space left"):
        _fit(job, 3, weights_only=weights_only)
    monkeypatch.undo()

    after = _files(job / "checkpoints")
    targeted = [name for name in before if (name.startswith("backup/") if target == "backup" else
                                            Path(name).name.startswith(target))]
    assert targeted and all(after.get(name) == before[name] for name in targeted)  # untouched, under its name
    assert not [name for name, content in after.items() if content == PARTIAL]  # no partial file anywhere
    assert _fit(job, 3, weights_only=weights_only).epochs == ([2] if target == "backup" else [])


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_an_unreadable_newest_backup_is_set_aside_and_the_previous_one_resumes(tmp_path, caplog, damage):
    job = tmp_path / "job"
    first = _fit(job, 3)
    newest = _newest_backup(job)
    newest.write_bytes(PARTIAL if damage == "truncated" else b"")

    with caplog.at_level(logging.WARNING):
        resumed = _fit(job, 4)
    assert str(newest) in caplog.text and "set aside" in caplog.text
    [aside] = _set_aside(newest)
    assert aside.read_bytes() == (PARTIAL if damage == "truncated" else b"")  # kept, not deleted
    assert resumed.epochs == [2, 3] and resumed.losses[0] == first.losses[2]  # from the state after epoch 2
    past = fitting.read_history(str(job / fitting.HISTORY_FILE), "val_loss")
    assert past.epochs == 4  # epoch 2, trained twice, counts once


def test_a_run_without_a_readable_backup_starts_afresh_with_a_warning(tmp_path, caplog):
    job = tmp_path / "job"
    first = _fit(job, 2)
    damaged = sorted((job / "checkpoints" / "backup").iterdir())
    for path in damaged:
        path.write_bytes(b"")

    with caplog.at_level(logging.WARNING):
        again = _fit(job, 2)
    assert "training from the first epoch" in caplog.text
    for path in damaged:
        assert str(path) in caplog.text and len(_set_aside(path)) == 1
    assert again.epochs == [0, 1] and again.losses == first.losses  # a fresh model: nothing half loaded


@pytest.mark.parametrize("state", ["complete", "metadata missing", "weights truncated"])
def test_a_resume_state_written_by_keras_before_this_fix(tmp_path, caplog, state):
    """``keras.callbacks.BackupAndRestore`` wrote ``latest.weights.h5`` + ``training_metadata.json``."""
    job = tmp_path / "job"
    backup = job / "checkpoints" / "backup"
    _fit(job, 2, backup=keras.callbacks.BackupAndRestore(str(backup), delete_checkpoint=False))
    weights, metadata = backup / "latest.weights.h5", backup / "training_metadata.json"
    if state == "metadata missing":
        metadata.unlink()
    elif state == "weights truncated":
        weights.write_bytes(PARTIAL)

    with caplog.at_level(logging.WARNING):
        resumed = _fit(job, 3)
    if state == "complete":  # passes before the fix too: it guards that such a run still resumes
        assert resumed.epochs == [2] and "set aside" not in caplog.text
        return
    assert resumed.epochs == [0, 1, 2] and str(weights) in caplog.text
    assert len(_set_aside(weights)) == 1 and not weights.exists()
    assert len(_set_aside(metadata)) == (state == "weights truncated")


def test_files_left_by_a_write_killed_midway_are_set_aside(tmp_path, caplog):
    job = tmp_path / "job"
    _fit(job, 2)
    left = [job / "checkpoints" / "backup" / ".tmp-0badf00d-epoch-0003.weights.h5",
            job / "checkpoints" / ".tmp-0badf00d-last.keras"]
    for path in left:
        path.write_bytes(PARTIAL)

    with caplog.at_level(logging.WARNING):
        resumed = _fit(job, 3)
    assert resumed.epochs == [2]
    for path in left:
        assert str(path) in caplog.text and not path.exists() and _set_aside(path)[0].read_bytes() == PARTIAL

"""Checkpoints written atomically, and a resume state that survives a kill in the middle of a write.

Every checkpoint goes to a temporary name beside its target and is renamed into place when
complete (``trainer.files.write_atomically``), so a killed write leaves the previous checkpoint
intact and, at worst, a ``.tmp-*`` file. The resume state (``backup/``) is one file per finished
epoch, ``epoch-NNNN.weights.h5`` (weights and optimizer state after NNNN epochs), of which the
newest two are kept. On resume the newest readable one wins; a file that cannot be read (empty,
truncated, a Keras ``latest.weights.h5`` without its ``training_metadata.json``, a leftover
temporary file) is set aside as ``NAME.unreadable-<time>`` (renamed, never deleted) with a
warning naming it, and the run goes on from the next one, or from the first epoch if none is left.
"""
from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass

import keras
import tensorflow as tf

from trainer.files import TEMPORARY_PREFIX, remove_if_exists, temporary_path, write_atomically

logger = logging.getLogger(__name__)

EPOCH_FILE = "epoch-{epoch:04d}.weights.h5"
EPOCH_FILE_PATTERN = re.compile(r"epoch-(\d+)\.weights\.h5$")
KEPT_BACKUPS = 2
# What Keras's own BackupAndRestore writes (read on resume, so that a run started before resumes).
KERAS_WEIGHTS, KERAS_METADATA = "latest.weights.h5", "training_metadata.json"
UNREADABLE = ".unreadable-"


def set_aside(path: str, reason: str) -> str:
    """Renames the unreadable ``path`` to ``PATH.unreadable-<UTC time>-<hex>`` with a warning; returns the new name."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = f"{path}{UNREADABLE}{stamp}-{secrets.token_hex(2)}"
    tf.io.gfile.rename(path, target)
    logger.warning("checkpoint %s cannot be used (%s); set aside as %s", path, reason, target)
    return target


def set_aside_unfinished(folder: str) -> list[str]:
    """Sets aside the temporary files a killed write left in ``folder``; returns their new names."""
    if not tf.io.gfile.isdir(folder):
        return []
    unfinished = [
        path for path in tf.io.gfile.glob(os.path.join(folder, f"{TEMPORARY_PREFIX}*"))
        if UNREADABLE not in os.path.basename(path) and not tf.io.gfile.isdir(path)
    ]
    return [set_aside(path, "an unfinished write, the process was stopped while writing it") for path in unfinished]


def _variables(model: keras.Model) -> list:
    optimizer = getattr(model, "optimizer", None)
    return [*model.variables, *(optimizer.variables if optimizer is not None else [])]


def load_or_set_aside(model: keras.Model, path: str) -> bool:
    """Loads the weights file ``path`` into ``model``; if it cannot be read, sets it aside, leaves
    the model as it was and returns False."""
    before = [(variable, variable.numpy()) for variable in _variables(model)]
    try:
        model.load_weights(path)
    except Exception as error:  # noqa: BLE001 (any failure to read the file makes it unusable)
        for variable, value in before:
            variable.assign(value)
        set_aside(path, f"{type(error).__name__}: {error}")
        return False
    return True


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """Keras's ``ModelCheckpoint`` (one fixed ``filepath``, saved per epoch), written under a
    temporary name beside it and renamed over it once complete."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        final = self.filepath
        self.filepath = temporary_path(final)
        try:
            super().on_epoch_end(epoch, logs)
            if tf.io.gfile.exists(self.filepath):  # absent when the monitored value did not improve
                tf.io.gfile.rename(self.filepath, final, overwrite=True)
        finally:
            remove_if_exists(self.filepath)  # what a failed save left
            self.filepath = final


@dataclass(frozen=True)
class _Backup:
    """A resume state found in the backup folder: ``epoch`` finished epochs in ``weights``;
    ``problem`` says why it cannot be used without reading it (``files`` are set aside then)."""

    epoch: int
    weights: str
    files: tuple[str, ...]
    problem: str | None = None


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """Keras's ``BackupAndRestore`` (saving at the end of every epoch, never deleting the state)
    with atomic writes, the two newest states kept, and a fallback past unreadable ones."""

    def __init__(self, backup_dir: str) -> None:
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)

    def _found(self) -> list[_Backup]:
        """Every resume state in the folder, newest first (those with a problem before the rest)."""
        found = []
        for path in tf.io.gfile.glob(os.path.join(self.backup_dir, "epoch-*.weights.h5")):
            match = EPOCH_FILE_PATTERN.search(os.path.basename(path))
            if match:
                found.append(_Backup(int(match.group(1)), path, (path,)))
        weights = os.path.join(self.backup_dir, KERAS_WEIGHTS)
        metadata = os.path.join(self.backup_dir, KERAS_METADATA)
        keras_files = tuple(path for path in (weights, metadata) if tf.io.gfile.exists(path))
        if keras_files:
            found.append(self._keras_backup(weights, metadata, keras_files))
        return sorted(found, key=lambda backup: (backup.problem is None, backup.epoch), reverse=True)

    @staticmethod
    def _keras_backup(weights: str, metadata: str, files: tuple[str, ...]) -> _Backup:
        """The state Keras's own ``BackupAndRestore`` left: weights plus the epoch in a JSON file."""
        if weights not in files:
            return _Backup(0, weights, files, f"{weights} is missing")
        if metadata not in files:
            return _Backup(0, weights, files, f"{metadata} is missing, so its epoch is unknown")
        try:
            with tf.io.gfile.GFile(metadata) as handle:
                return _Backup(int(json.loads(handle.read())["epoch"]), weights, files)
        except (ValueError, KeyError, TypeError) as error:
            return _Backup(0, weights, files, f"{metadata} cannot be read ({type(error).__name__}: {error})")

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Restores the newest readable state (weights, optimizer, epoch), setting aside the unreadable ones."""
        set_aside_unfinished(self.backup_dir)
        found = self._found()
        if not found:
            return
        if not self.model.built:
            raise ValueError(f"model {self.model.name!r} must be built before fit() to resume from {self.backup_dir}")
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        for backup in found:
            if backup.problem is not None:
                for path in backup.files:
                    set_aside(path, backup.problem)
            elif load_or_set_aside(self.model, backup.weights):
                self.model._initial_epoch = backup.epoch  # what Keras's BackupAndRestore sets, read by fit()
                logger.info("resuming after epoch %d from %s", backup.epoch, backup.weights)
                return
            else:
                for path in backup.files[1:]:
                    set_aside(path, f"it belongs to {backup.weights}, which could not be read")
        self.model._initial_epoch = None
        logger.warning("no readable resume state left in %s; training from the first epoch", self.backup_dir)

    def _save_model(self) -> None:
        """Writes ``epoch-NNNN.weights.h5`` atomically, then removes all but the newest two states.

        Keras's hook, called by its ``on_epoch_end`` once ``_current_epoch`` epochs are finished.
        """
        path = os.path.join(self.backup_dir, EPOCH_FILE.format(epoch=self._current_epoch))
        write_atomically(path, lambda temporary: self.model.save_weights(temporary, overwrite=True))
        older = sorted(
            (backup for backup in self._found() if backup.problem is None and backup.weights != path),
            key=lambda backup: backup.epoch,
        )
        for backup in older[: max(0, len(older) + 1 - KEPT_BACKUPS)]:
            for stale in backup.files:
                remove_if_exists(stale)

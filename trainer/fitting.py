"""The training machinery every model family shares: resume, checkpoints, early stopping, logs.

Under the job dir: ``history.csv`` (one row per epoch, appended across resumes, with
``epoch_time_s``), ``config.json`` and ``metrics.json``; under the checkpoint dir: the best and
the last checkpoint (``best.keras``/``last.keras``, or ``best.weights.h5``/``last.weights.h5``
for a model saved as weights only) and ``backup/`` (the resume state), all written atomically
(``trainer.checkpoints``); TensorBoard logs under the TensorBoard dir. The monitored metric is a
parameter (``val_loss``, ``val_total_loss``). Rerunning after the process was killed resumes from
the last finished epoch whose state can be read, with the patience count and the best-so-far value
rebuilt from ``history.csv`` (where an epoch was trained twice, its last row counts).
"""
from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

from trainer import checkpoints
from trainer.files import write_text
from trainer.run_paths import RunPaths

logger = logging.getLogger(__name__)

HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.json"
BACKUP_DIR = "backup"
EPOCH_TIME_KEY = "epoch_time_s"
# (best, last) checkpoint file names: whole models, or weights only.
MODEL_CHECKPOINTS = ("best.keras", "last.keras")
WEIGHTS_CHECKPOINTS = ("best.weights.h5", "last.weights.h5")


@dataclass(frozen=True)
class PastEpochs:
    """What ``history.csv`` says about earlier epochs of this run (the resume state).

    ``monitored`` holds the monitored metric of every epoch that logged it, ``seconds`` the summed
    epoch times, ``epochs`` the number of rows and ``last`` the numeric columns of the last row.
    """

    monitored: tuple[float, ...]
    seconds: float
    epochs: int = 0
    last: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def best_epoch(self) -> int:
        return min(range(len(self.monitored)), key=self.monitored.__getitem__) if self.monitored else -1

    @property
    def best_value(self) -> float:
        return self.monitored[self.best_epoch] if self.monitored else math.inf

    @property
    def epochs_since_best(self) -> int:
        return len(self.monitored) - 1 - self.best_epoch if self.monitored else 0


def read_history(path: str, monitor: str) -> PastEpochs:
    """Reads the ``monitor`` and epoch-time columns of a history CSV (empty if there is none).

    An epoch logged more than once (trained again after a resume fell back to an earlier state)
    counts once, with its last row.
    """
    if not tf.io.gfile.exists(path):
        return PastEpochs((), 0.0)
    with tf.io.gfile.GFile(path) as handle:
        rows = list(csv.DictReader(handle))
    by_epoch = {row.get("epoch") or str(index): row for index, row in enumerate(rows)}
    rows = [by_epoch[key] for key in sorted(by_epoch, key=lambda key: int(float(key)))]
    last = {key: float(value) for key, value in (rows[-1] if rows else {}).items() if key != "epoch" and value}
    return PastEpochs(
        tuple(float(row[monitor]) for row in rows if row.get(monitor)),
        sum(float(row.get(EPOCH_TIME_KEY) or 0.0) for row in rows),
        len(rows),
        last,
    )


class EpochTimer(keras.callbacks.Callback):
    """Adds each epoch's wall time to the logs (so the CSV history records it)."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs[EPOCH_TIME_KEY] = time.perf_counter() - self._start


class TimeLimit(keras.callbacks.Callback):
    """Stops training once ``minutes`` of wall time have passed since training began: at the end of
    the batch that crosses the limit (Keras then ends the epoch, validating it as usual)."""

    def __init__(self, minutes: float) -> None:
        super().__init__()
        if not minutes > 0:
            raise ValueError(f"the time limit must be > 0 minutes, got {minutes!r}")
        self.seconds = minutes * 60.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if time.perf_counter() - self._start >= self.seconds and not self.model.stop_training:
            logger.info("time limit of %.1f min reached; stopping after this epoch", self.seconds / 60)
            self.model.stop_training = True


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Early stopping on ``monitor`` (lower is better) that continues the patience count of earlier attempts."""

    def __init__(self, past: PastEpochs, patience: int, monitor: str) -> None:
        super().__init__(monitor=monitor, mode="min", patience=patience, verbose=1)
        self._past = past

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        if self._past.monitored:
            self.best = self._past.best_value
            self.best_epoch = self._past.best_epoch
            self.wait = self._past.epochs_since_best


class HistoryCsvLogger(keras.callbacks.CSVLogger):
    """Keras's ``CSVLogger`` (appending), closing its file on every file system.

    For a URL path Keras opens a ``tf.io.gfile.GFile``, which has no ``closed`` attribute, and
    Keras 3's ``on_train_end`` asks for it; this closes the file without asking.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path, append=True)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.csv_file is not None:
            self.csv_file.close()
            self.csv_file = None
        self.writer = None


@dataclass(frozen=True)
class FitPlan:
    """How one family fits: the monitored metric (lower is better), the epoch bound, the patience
    (None: no early stopping, and the last epoch's weights are kept instead of the best ones),
    ``steps_per_epoch`` (0: one pass over the training data) and the checkpoint format."""

    monitor: str
    epochs: int
    patience: int | None
    steps_per_epoch: int = 0
    weights_only: bool = False

    def checkpoint_path(self, paths: RunPaths, which: str) -> str:
        """``which`` is "best" or "last"."""
        best, last = WEIGHTS_CHECKPOINTS if self.weights_only else MODEL_CHECKPOINTS
        return os.path.join(paths.checkpoint_dir, best if which == "best" else last)


def write_json(path: str, payload: dict) -> None:
    """Writes ``payload`` as indented, key-sorted JSON."""
    write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def check_saved_config(config: Any, paths: RunPaths) -> None:
    """ValueError if an earlier attempt in ``paths.job_dir`` used other ``config.ARCHITECTURE_FIELDS``."""
    config_path = os.path.join(paths.job_dir, CONFIG_FILE)
    if not tf.io.gfile.exists(config_path):
        return
    with tf.io.gfile.GFile(config_path) as handle:
        saved_config = json.load(handle)["config"]
    for name in config.ARCHITECTURE_FIELDS:
        if saved_config.get(name) != getattr(config, name):
            raise ValueError(
                f"{config_path!r} has {name}={saved_config.get(name)!r}, this run "
                f"{name}={getattr(config, name)!r}; use another --job-dir to train a different model"
            )


def write_config(config: Any, paths: RunPaths, *, preset: str) -> None:
    """Writes ``config.json`` ({"preset", "config"}) under the job dir."""
    write_json(os.path.join(paths.job_dir, CONFIG_FILE), {"preset": preset, "config": dataclasses.asdict(config)})


def fit(
    model: keras.Model,
    train_batches: tf.data.Dataset,
    val_batches: tf.data.Dataset | None,
    paths: RunPaths,
    plan: FitPlan,
    *,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 2,
) -> PastEpochs:
    """Runs ``model.fit`` with resume, checkpoints, early stopping and logs; returns the whole history.

    Without validation data there is no best checkpoint and no early stopping. With both, the
    best weights are loaded at the end.
    """
    history_path = os.path.join(paths.job_dir, HISTORY_FILE)
    past = read_history(history_path, plan.monitor)
    best_path = plan.checkpoint_path(paths, "best")
    stops_early = val_batches is not None and plan.patience is not None
    checkpoints.set_aside_unfinished(paths.checkpoint_dir)  # what a write killed mid-way left (backup/: on resume)
    fit_callbacks: list[keras.callbacks.Callback] = [
        checkpoints.ResumableBackup(os.path.join(paths.checkpoint_dir, BACKUP_DIR)),
        EpochTimer(),
    ]
    if val_batches is not None:
        fit_callbacks.append(checkpoints.AtomicModelCheckpoint(
            best_path, monitor=plan.monitor, mode="min", save_best_only=True, save_weights_only=plan.weights_only,
            initial_value_threshold=past.best_value if past.monitored else None,
        ))
    fit_callbacks.append(
        checkpoints.AtomicModelCheckpoint(plan.checkpoint_path(paths, "last"), save_weights_only=plan.weights_only)
    )
    if stops_early:
        fit_callbacks.append(ResumableEarlyStopping(past, plan.patience, plan.monitor))
    fit_callbacks += [HistoryCsvLogger(history_path), keras.callbacks.TensorBoard(paths.tensorboard_dir)]
    if stops_early and past.monitored and past.epochs_since_best >= plan.patience:
        logger.info("early stopping already ended this run at epoch %d; not training", past.epochs)
    else:
        if plan.steps_per_epoch:
            train_batches = train_batches.repeat()
        model.fit(
            train_batches, validation_data=val_batches, epochs=plan.epochs, steps_per_epoch=plan.steps_per_epoch or None,
            verbose=verbose, shuffle=False, callbacks=[*fit_callbacks, *callbacks],  # tf.data shuffles
        )
    if stops_early and tf.io.gfile.exists(best_path):
        if checkpoints.load_or_set_aside(model, best_path):
            logger.info("restored the best weights from %s", best_path)
        else:
            logger.warning("keeping the last epoch's weights: the best checkpoint %s could not be read", best_path)
    return read_history(history_path, plan.monitor)

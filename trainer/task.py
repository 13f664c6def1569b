"""Training entry point: ``python -m trainer.task --model lstm --data data/erk --export saved_models/lstm_erk``.

Writes under the job dir: ``history.csv`` (one row per epoch, appended across resumes),
``metrics.json``, ``config.json``; under the checkpoint dir: ``best.keras``, ``last.keras``,
``vocabulary.tsv`` and ``backup/`` (the resume state); TensorBoard logs under the log dir.
Rerunning the same command after the process was killed resumes from the last finished epoch.
Output paths default to Vertex AI's ``AIP_MODEL_DIR`` (export), ``AIP_CHECKPOINT_DIR`` and
``AIP_TENSORBOARD_LOG_DIR`` when those are set.

The VAE presets (``--model vae_notes_cat``, see ``trainer.vae.model.VAE_PRESETS``) train with
``trainer.vae.model.train_vae``: everything but the export is written under the job dir.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import keras
import tensorflow as tf

from preprocessing import schema
from trainer.token_models import data
from trainer.token_models.builders import build_model
from trainer.token_models.config import PRESETS, TrainConfig, parse_assignments, resolve_config
from trainer.vae.model import VAE_PRESETS, resolve_vae_config, train_vae

logger = logging.getLogger(__name__)

HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.json"
BEST_CHECKPOINT = "best.keras"
LAST_CHECKPOINT = "last.keras"
BACKUP_DIR = "backup"
EPOCH_TIME_KEY = "epoch_time_s"
# Fields that shape the weights: a resumed run must keep them.
ARCHITECTURE_FIELDS = ("architecture", "feature", "units", "layers", "input_encoding", "embedding_dim")


@dataclass(frozen=True)
class RunPaths:
    """Where one run writes; ``export_path`` is None when nothing is exported."""

    job_dir: str
    checkpoint_dir: str
    tensorboard_dir: str
    export_path: str | None

    @classmethod
    def resolve(
        cls,
        job_dir: str | None,
        *,
        preset: str,
        checkpoint_dir: str | None = None,
        tensorboard_dir: str | None = None,
        export_path: str | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> RunPaths:
        """Flags first, then Vertex AI's AIP_* variables, then folders under ``runs/<preset>``."""
        job_dir = job_dir or os.path.join("runs", preset)
        return cls(
            job_dir=job_dir,
            checkpoint_dir=checkpoint_dir or environ.get("AIP_CHECKPOINT_DIR") or os.path.join(job_dir, "checkpoints"),
            tensorboard_dir=tensorboard_dir or environ.get("AIP_TENSORBOARD_LOG_DIR") or os.path.join(job_dir, "logs"),
            export_path=export_path or environ.get("AIP_MODEL_DIR") or None,
        )


@dataclass(frozen=True)
class PastEpochs:
    """What ``history.csv`` says about earlier attempts of this run (resume state)."""

    val_losses: tuple[float, ...]
    seconds: float

    @property
    def best_epoch(self) -> int:
        return min(range(len(self.val_losses)), key=self.val_losses.__getitem__) if self.val_losses else -1

    @property
    def best_val_loss(self) -> float:
        return self.val_losses[self.best_epoch] if self.val_losses else math.inf

    @property
    def epochs_since_best(self) -> int:
        return len(self.val_losses) - 1 - self.best_epoch if self.val_losses else 0


def read_history(path: str) -> PastEpochs:
    """Reads the ``val_loss`` and epoch-time columns of a history CSV (empty if there is none)."""
    if not tf.io.gfile.exists(path):
        return PastEpochs((), 0.0)
    with tf.io.gfile.GFile(path) as handle:
        rows = list(csv.DictReader(handle))
    return PastEpochs(
        tuple(float(row["val_loss"]) for row in rows),
        sum(float(row.get(EPOCH_TIME_KEY) or 0.0) for row in rows),
    )


class EpochTimer(keras.callbacks.Callback):
    """Adds each epoch's wall time to the logs (so the CSV history records it)."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[EPOCH_TIME_KEY] = time.perf_counter() - self._start


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Early stopping on ``val_loss`` that continues the patience count of earlier attempts."""

    def __init__(self, past: PastEpochs, patience: int) -> None:
        super().__init__(monitor="val_loss", patience=patience, verbose=1)
        self._past = past

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._past.val_losses:
            self.best = self._past.best_val_loss
            self.best_epoch = self._past.best_epoch
            self.wait = self._past.epochs_since_best


def _write_json(path: str, payload: dict) -> None:
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def _check_resume_state(config: TrainConfig, vocabulary: data.Vocabulary, paths: RunPaths) -> None:
    """Raises ValueError if an earlier attempt in these folders used another vocabulary or architecture."""
    vocabulary_path = os.path.join(paths.checkpoint_dir, schema.VOCABULARY_FILE)
    if tf.io.gfile.exists(vocabulary_path):
        saved = [symbol for symbol, _ in schema.read_vocabulary(vocabulary_path)]
        if tuple(saved) != vocabulary.symbols:
            raise ValueError(
                f"checkpoint vocabulary {vocabulary_path!r} {saved} differs from the data's "
                f"{list(vocabulary.symbols)}; use another --job-dir / --checkpoint-dir"
            )
    config_path = os.path.join(paths.job_dir, CONFIG_FILE)
    if tf.io.gfile.exists(config_path):
        with tf.io.gfile.GFile(config_path) as handle:
            saved_config = json.load(handle)["config"]
        for name in ARCHITECTURE_FIELDS:
            if saved_config.get(name) != getattr(config, name):
                raise ValueError(
                    f"{config_path!r} has {name}={saved_config.get(name)!r}, this run "
                    f"{name}={getattr(config, name)!r}; use another --job-dir to train a different model"
                )


def validate_inputs(config: TrainConfig, data_dir: str, paths: RunPaths) -> data.Vocabulary:
    """Every check that can fail before training; returns the data's vocabulary."""
    data.check_data_dir(data_dir)
    vocabulary = data.load_vocabulary(data_dir, config.feature)
    if paths.export_path is not None:
        if tf.io.gfile.exists(paths.export_path) and not tf.io.gfile.isdir(paths.export_path):
            raise ValueError(f"export path {paths.export_path!r} exists and is a file, not a folder")
    _check_resume_state(config, vocabulary, paths)
    for split in ("train", "validation"):
        if data.count_windows(data_dir, split, vocabulary, config.window) == 0:
            _, dropped = data.load_song_arrays(data_dir, split, vocabulary)
            raise ValueError(
                f"split {split!r} of {data_dir!r} is too short for one {config.window}-step window "
                f"(needs at least {2 * config.window} steps; {dropped} of its tunes were dropped for "
                f"{config.feature} symbols outside the training split's vocabulary); "
                "lower window with --set window=N"
            )
    return vocabulary


def _fit(
    model: keras.Model,
    config: TrainConfig,
    train_batches: tf.data.Dataset,
    val_batches: tf.data.Dataset,
    paths: RunPaths,
    callbacks: Sequence[keras.callbacks.Callback],
    verbose: int,
) -> None:
    """Runs ``model.fit`` with resume, checkpoints, early stopping, logs; leaves the best weights loaded."""
    history_path = os.path.join(paths.job_dir, HISTORY_FILE)
    past = read_history(history_path)
    best_path = os.path.join(paths.checkpoint_dir, BEST_CHECKPOINT)
    if past.val_losses and past.epochs_since_best >= config.patience:
        logger.info("early stopping already ended this run at epoch %d; not training", len(past.val_losses))
    else:
        if config.steps_per_epoch:
            train_batches = train_batches.repeat()
        model.fit(
            train_batches,
            validation_data=val_batches,
            epochs=config.epochs,
            steps_per_epoch=config.steps_per_epoch or None,
            verbose=verbose,
            callbacks=[
                keras.callbacks.BackupAndRestore(os.path.join(paths.checkpoint_dir, BACKUP_DIR), delete_checkpoint=False),
                EpochTimer(),
                keras.callbacks.ModelCheckpoint(
                    best_path, monitor="val_loss", save_best_only=True,
                    initial_value_threshold=past.best_val_loss if past.val_losses else None,
                ),
                keras.callbacks.ModelCheckpoint(os.path.join(paths.checkpoint_dir, LAST_CHECKPOINT)),
                ResumableEarlyStopping(past, config.patience),
                keras.callbacks.CSVLogger(history_path, append=True),
                keras.callbacks.TensorBoard(paths.tensorboard_dir),
                *callbacks,
            ],
        )
    if tf.io.gfile.exists(best_path):
        model.load_weights(best_path)
        logger.info("restored the best weights from %s", best_path)


def train(
    config: TrainConfig,
    data_dir: str,
    paths: RunPaths,
    *,
    preset: str,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 2,
) -> dict:
    """Trains (or resumes) one run, writes its outputs and returns the final metrics."""
    vocabulary = validate_inputs(config, data_dir, paths)
    exporter = None
    if paths.export_path is not None:
        from trainer.token_models.export import export_token_model as exporter  # noqa: PLC0415 (heavy, optional)

    for folder in (paths.job_dir, paths.checkpoint_dir, paths.tensorboard_dir):
        tf.io.gfile.makedirs(folder)
    schema.write_vocabulary(
        os.path.join(paths.checkpoint_dir, schema.VOCABULARY_FILE), list(zip(vocabulary.symbols, vocabulary.counts))
    )
    _write_json(os.path.join(paths.job_dir, CONFIG_FILE), {"preset": preset, "config": dataclasses.asdict(config)})

    keras.utils.set_random_seed(config.seed)
    model = build_model(config, vocabulary.stream_counts(data.count_songs(data_dir, "train")))
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    model.summary(print_fn=logger.info)
    train_batches = data.window_batches(data_dir, "train", vocabulary, config, training=True)
    val_batches = data.window_batches(data_dir, "validation", vocabulary, config, training=False)

    if model.trainable_weights and config.epochs > 0:
        _fit(model, config, train_batches, val_batches, paths, callbacks, verbose)
    final = model.evaluate(val_batches, verbose=0, return_dict=True)
    past = read_history(os.path.join(paths.job_dir, HISTORY_FILE))
    metrics = {
        "preset": preset,
        "architecture": config.architecture,
        "parameter_count": model.count_params(),
        "vocab_size": vocabulary.size,
        "epochs": len(past.val_losses),
        "best_epoch": past.best_epoch + 1,
        "train_time_s": round(past.seconds, 3),
        "best_val_loss": final["loss"],
        "best_val_accuracy": final["accuracy"],
        "data": data_dir,
    }
    if exporter is not None:
        metrics["export"] = str(exporter(model, list(vocabulary.symbols), paths.export_path, model_kind=config.model_kind))
    _write_json(os.path.join(paths.job_dir, METRICS_FILE), metrics)
    logger.info("metrics: %s", json.dumps(metrics))
    return metrics


def train_vae_preset(args: argparse.Namespace) -> dict:
    """Trains the VAE preset named by ``--model`` with the parsed flags; returns its metrics."""
    for flag, value in (("--checkpoint-dir", args.checkpoint_dir), ("--tensorboard-dir", args.tensorboard_dir)):
        if value:
            raise ValueError(f"{flag} {value!r} is not used by VAE presets: they write everything under --job-dir")
    config = resolve_vae_config(args.model, parse_assignments(args.set))
    paths = RunPaths.resolve(args.job_dir, preset=args.model, export_path=args.export)
    data.check_data_dir(args.data)
    if paths.export_path is not None and os.path.exists(paths.export_path) and not os.path.isdir(paths.export_path):
        raise ValueError(f"export path {paths.export_path!r} exists and is a file, not a folder")
    return train_vae(config, args.data, paths.job_dir, paths.export_path)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help=f"preset name, one of {sorted(PRESETS) + sorted(VAE_PRESETS)}")
    parser.add_argument("--data", required=True, help="preprocessing output folder")
    parser.add_argument("--job-dir", help="run folder (default runs/<model>)")
    parser.add_argument("--export", help="SavedModel base path; a new integer version is written (default $AIP_MODEL_DIR)")
    parser.add_argument("--checkpoint-dir", help="default $AIP_CHECKPOINT_DIR or <job-dir>/checkpoints")
    parser.add_argument("--tensorboard-dir", help="default $AIP_TENSORBOARD_LOG_DIR or <job-dir>/logs")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE",
        help="override one config field, e.g. --set units=128 --set epochs=3 (repeatable)",
    )
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), help="Keras progress: 1 bar, 2 a line per epoch")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.model in VAE_PRESETS:
            train_vae_preset(args)
            return 0
        if args.model not in PRESETS:
            raise ValueError(f"unknown preset {args.model!r}; known presets: {sorted(PRESETS) + sorted(VAE_PRESETS)}")
        config = resolve_config(args.model, parse_assignments(args.set))
        paths = RunPaths.resolve(
            args.job_dir, preset=args.model, checkpoint_dir=args.checkpoint_dir,
            tensorboard_dir=args.tensorboard_dir, export_path=args.export,
        )
        verbose = args.verbose if args.verbose is not None else (1 if sys.stdout.isatty() else 2)
        train(config, args.data, paths, preset=args.model, verbose=verbose)
    except ValueError as error:
        logger.error("%s", error)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training a VAE through the shared machinery of ``trainer.fitting``, then its test metrics.

Monitored: ``val_total_loss``. The checkpoints are weights only (``best.weights.h5``,
``last.weights.h5``, and ``final.weights.h5``: the weights evaluated and exported), since the
subclassed ``Vae`` is rebuilt from its ``VaeConfig``. The final weights are those of the best
validation epoch when ``patience`` > 0, otherwise those of the last epoch (as in the slides).
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

from trainer import fitting
from trainer.files import write_atomically
from trainer.run_paths import RunPaths
from trainer.vae import data as vae_data
from trainer.vae import metrics as vae_metrics
from trainer.vae.config import VaeConfig
from trainer.vae.export import export_vae
from trainer.vae.model import build_vae

logger = logging.getLogger(__name__)

MONITOR = "val_total_loss"
FINAL_WEIGHTS = "final.weights.h5"
SPLITS = ("train", "validation", "test")


class KlWarmup(keras.callbacks.Callback):
    """Ramps ``model.kl_weight`` linearly to ``config.kl_weight`` over ``kl_warmup_epochs``."""

    def __init__(self, config: VaeConfig) -> None:
        super().__init__()
        self.config = config

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        ramp = 1.0 if self.config.kl_warmup_epochs == 0 else min(1.0, (epoch + 1) / self.config.kl_warmup_epochs)
        self.model.kl_weight.assign(self.config.kl_weight * ramp)


def load_split(data_dir: str, split: str, config: VaeConfig) -> tuple[vae_data.PaddedCodes, list[int]]:
    """The padded rows [N, L] of ``split`` and the unpadded length of every tune in it."""
    sequences, ids = vae_data.load_sequences(data_dir, split, config.kind)
    padded = vae_data.pad_codes(sequences, config.length, vae_data.alphabet_for(config.kind), config.overflow, ids)
    return padded, [len(sequence) for sequence in sequences]


def batches(rows, count: int, config, *, training: bool) -> tf.data.Dataset | None:
    """``count`` rows (an array ``[N, ...]`` or a tuple of them) -> batches of ``config.batch_size``
    (shuffled with ``config.seed`` when training); None when there are no rows."""
    if not count:
        return None
    dataset = tf.data.Dataset.from_tensor_slices(rows)
    if training:
        dataset = dataset.shuffle(count, seed=config.seed)
    return dataset.batch(config.batch_size)


def train_vae(
    config: VaeConfig, data_dir: str, paths: RunPaths, *, preset: str,
    callbacks: Sequence[keras.callbacks.Callback] = (), verbose: int = 2,
) -> dict:
    """Trains (or resumes) ``config`` on a preprocessing output folder; returns the test metrics.

    Writes what ``trainer.fitting`` writes plus ``final.weights.h5`` and, with an export path, a
    new SavedModel version there (``metrics["export_path"]``).
    """
    paths.check_export_path()
    fitting.check_saved_config(config, paths)
    keras.utils.set_random_seed(config.seed)
    splits, all_lengths = {}, []
    for split in SPLITS:
        splits[split], lengths = load_split(data_dir, split, config)
        all_lengths.extend(lengths)
    if not len(splits["train"].codes):
        raise ValueError(f"no {config.kind} codes in the train split of {data_dir!r}")
    paths.make_dirs()
    fitting.write_config(config, paths, preset=preset)

    model = build_vae(config)
    plan = fitting.FitPlan(MONITOR, config.epochs, config.patience or None, weights_only=True)
    past = fitting.fit(
        model, batches(splits["train"].codes, len(splits["train"].codes), config, training=True),
        batches(splits["validation"].codes, len(splits["validation"].codes), config, training=False), paths, plan,
        callbacks=[KlWarmup(config), *callbacks], verbose=verbose,
    )
    write_atomically(os.path.join(paths.checkpoint_dir, FINAL_WEIGHTS), model.save_weights)
    evaluated = splits["test"] if len(splits["test"].codes) else splits["validation"]
    metrics = vae_metrics.evaluate_vae(
        model, config.latent_dim, model.alphabet, evaluated, splits["train"], seed=config.seed
    )
    facts = {"coverage": vae_data.coverage(all_lengths, config.length),
             "truncated": sum(padded.truncated for padded in splits.values())}
    return record_run(config.name, paths, past, metrics, facts, lambda: export_vae(model, config, paths.export_path))


def record_run(name: str, paths: RunPaths, past: fitting.PastEpochs, metrics: dict, facts: dict,
               export: Callable[[], object]) -> dict:
    """``metrics`` with the model's name, ``facts`` and the run's epochs, seconds and last logged
    values, plus ``export_path`` from ``export()`` when the run has an export path; written as
    the job's metrics file and logged."""
    metrics.update({"model": name, **facts, "epochs_run": past.epochs, "train_seconds": round(past.seconds, 2),
                    **past.last})
    if paths.export_path is not None:
        metrics["export_path"] = str(export())
    fitting.write_json(os.path.join(paths.job_dir, fitting.METRICS_FILE), metrics)
    logger.info("%s trained in %.1fs: %s", name, past.seconds, json.dumps(metrics))
    return metrics

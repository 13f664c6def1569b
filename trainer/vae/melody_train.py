"""Training the joint melody VAE through ``trainer.fitting``, then its test metrics and export.

Monitored: ``val_total_loss``; weights-only checkpoints as for the dense VAEs
(``trainer.vae.train``), and ``final.weights.h5`` (the weights evaluated and exported).
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import keras
import tensorflow as tf

from trainer import fitting
from trainer.files import write_atomically
from trainer.run_paths import RunPaths
from trainer.vae import data as vae_data
from trainer.vae.melody_config import MelodyVaeConfig
from trainer.vae.melody_data import MelodyRows, load_melodies
from trainer.vae.melody_export import export_melody_vae
from trainer.vae.melody_metrics import evaluate_melody_vae
from trainer.vae.melody_model import build_melody_vae
from trainer.vae.train import FINAL_WEIGHTS, MONITOR, SPLITS, KlWarmup, batches, record_run


def _batches(rows: MelodyRows, config: MelodyVaeConfig, *, training: bool) -> tf.data.Dataset | None:
    """Rows -> batches of (notes [B, L], rhythms [B, L], lengths [B]); None when there are none."""
    return batches((rows.notes, rows.rhythms, rows.lengths), len(rows), config, training=training)


def train_melody_vae(
    config: MelodyVaeConfig, data_dir: str, paths: RunPaths, *, preset: str,
    callbacks: Sequence[keras.callbacks.Callback] = (), verbose: int = 2,
) -> dict:
    """Trains (or resumes) ``config`` on a preprocessing output folder; returns the test metrics
    (with an export path, ``metrics["export_path"]`` is the new SavedModel version)."""
    paths.check_export_path()
    fitting.check_saved_config(config, paths)
    keras.utils.set_random_seed(config.seed)
    splits, all_lengths = {}, []
    for split in SPLITS:
        splits[split], lengths = load_melodies(data_dir, split, config.length, config.overflow)
        all_lengths.extend(lengths)
    if not len(splits["train"]):
        raise ValueError(f"no melodies in the train split of {data_dir!r}")
    paths.make_dirs()
    fitting.write_config(config, paths, preset=preset)

    model = build_melody_vae(config)
    model.set_lengths(splits["train"].lengths)  # restored from the checkpoint when resuming
    plan = fitting.FitPlan(MONITOR, config.epochs, config.patience or None, weights_only=True)
    past = fitting.fit(
        model, _batches(splits["train"], config, training=True),
        _batches(splits["validation"], config, training=False), paths, plan,
        callbacks=[KlWarmup(config), *callbacks], verbose=verbose,
    )
    write_atomically(os.path.join(paths.checkpoint_dir, FINAL_WEIGHTS), model.save_weights)
    evaluated = splits["test"] if len(splits["test"]) else splits["validation"]
    metrics = evaluate_melody_vae(model, config.latent_dim, config.length, evaluated, splits["train"], seed=config.seed)
    facts = {"parameters": int(model.count_params()), "coverage": vae_data.coverage(all_lengths, config.length),
             "truncated": sum(rows.truncated for rows in splits.values())}
    return record_run(config.name, paths, past, metrics, facts,
                      lambda: export_melody_vae(model, config, paths.export_path))

"""Scores an exported melody VAE through its own signatures (``encode``, ``decode``).

``python -m trainer.vae.melody_evaluate --model saved_models/vae_melody_erk --data data/erk [--output m.json]``
``python -m trainer.vae.melody_evaluate --pair saved_models/vae_notes_erk saved_models/vae_rhythms_erk --data data/erk``

The figures are those of ``trainer.vae.melody_metrics`` on the test split against the training
split, from the export's latest version (its ``vae_config.json`` gives the length and overflow).
``--pair`` scores the slides' two dense VAEs the same way: an event is right when both models
decode it right, z is both latents side by side, and a decoded melody ends where both codes are
padding (as ``folkgen vae`` cuts it).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

import numpy as np

from serving.contract import signatures as sig
from serving.contract.versions import latest_version_dir
from trainer.files import write_text
from trainer.vae.export import CONFIG_ASSET
from trainer.vae.melody_data import load_melodies
from trainer.vae.melody_metrics import evaluate_melody_vae

logger = logging.getLogger(__name__)


class ExportedMelodyVae:
    """``melody_metrics.MelodyAutoencoder`` over a loaded SavedModel's signatures."""

    def __init__(self, loaded) -> None:
        self.signatures = loaded.signatures

    def encode(self, notes, rhythms, lengths):
        import tensorflow as tf

        outputs = self.signatures[sig.ENCODE](notes=tf.constant(notes, tf.int32), rhythms=tf.constant(rhythms, tf.int32),
                                              length=tf.constant(lengths, tf.int32))
        return outputs[sig.MEAN].numpy(), outputs[sig.LOGVAR].numpy()

    def decode(self, z):
        import tensorflow as tf

        outputs = self.signatures[sig.DECODE](z=tf.constant(z, tf.float32))
        return {name: outputs[name].numpy() for name in (sig.NOTES, sig.RHYTHMS, sig.LENGTH)}


class ExportedPair:
    """``melody_metrics.MelodyAutoencoder`` over a notes VAE and a rhythms VAE (loaded SavedModels)."""

    def __init__(self, notes, rhythms) -> None:
        self.models = (notes.signatures, rhythms.signatures)
        self.pads = tuple(int(model.signatures[sig.INFO]()[sig.PAD_CODE].numpy()) for model in (notes, rhythms))
        self.split = int(notes.signatures[sig.INFO]()[sig.LATENT_DIM].numpy())

    def encode(self, notes, rhythms, lengths):
        import tensorflow as tf

        means = [model[sig.ENCODE](codes=tf.constant(codes, tf.int32))[sig.MEAN].numpy()
                 for model, codes in zip(self.models, (notes, rhythms))]
        return np.concatenate(means, axis=1), None

    def decode(self, z):
        import tensorflow as tf

        notes, rhythms = (model[sig.DECODE](z=tf.constant(part, tf.float32))[sig.CODES].numpy()
                          for model, part in zip(self.models, (z[:, : self.split], z[:, self.split :])))
        padding = (notes == self.pads[0]) & (rhythms == self.pads[1])
        lengths = np.where(padding.any(axis=1), np.argmax(padding, axis=1), notes.shape[1])
        lengths = np.maximum(lengths, 1)  # an all-padding melody counts as one event
        return {sig.NOTES: notes, sig.RHYTHMS: rhythms, sig.LENGTH: lengths}


def evaluate_pair(notes_path: str, rhythms_path: str, data_dir: str, num_samples: int = 500, seed: int = 0) -> dict:
    """The same metrics for the slides' notes + rhythms VAEs (latest versions)."""
    import tensorflow as tf

    loaded = [tf.saved_model.load(latest_version_dir(path)) for path in (notes_path, rhythms_path)]
    info = loaded[0].signatures[sig.INFO]()
    length = int(info[sig.LENGTH].numpy())
    test, _ = load_melodies(data_dir, "test", length)
    train, _ = load_melodies(data_dir, "train", length)
    pair = ExportedPair(*loaded)
    latent_dim = sum(int(model.signatures[sig.INFO]()[sig.LATENT_DIM].numpy()) for model in loaded)
    metrics = evaluate_melody_vae(pair, latent_dim, length, test, train, num_samples=num_samples, seed=seed)
    return {"model": f"{notes_path} + {rhythms_path}", "test_tunes": len(test), **metrics}


def evaluate_export(model_path: str, data_dir: str, num_samples: int = 500, seed: int = 0) -> dict:
    """The metrics of the latest version under ``model_path`` on ``data_dir``'s test split."""
    import tensorflow as tf

    version = latest_version_dir(model_path)
    with open(os.path.join(version, "assets.extra", CONFIG_ASSET)) as handle:
        config = json.load(handle)
    test, _ = load_melodies(data_dir, "test", config["length"], config["overflow"])
    train, _ = load_melodies(data_dir, "train", config["length"], config["overflow"])
    loaded = tf.saved_model.load(version)
    latent_dim = int(loaded.signatures[sig.INFO]()[sig.LATENT_DIM].numpy())
    metrics = evaluate_melody_vae(ExportedMelodyVae(loaded), latent_dim, config["length"], test, train,
                                  num_samples=num_samples, seed=seed)
    return {"model": str(version), "test_tunes": len(test), "test_events": int(np.sum(test.lengths)), **metrics}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score an exported melody VAE on a preprocessing output's test split.")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", help="a melody VAE's SavedModel base path (its latest version is used)")
    which.add_argument("--pair", nargs=2, metavar=("NOTES", "RHYTHMS"), help="a notes VAE and a rhythms VAE instead")
    parser.add_argument("--data", required=True, help="preprocessing output folder")
    parser.add_argument("--samples", type=int, default=500, help="prior samples (default 500)")
    parser.add_argument("--output", help="write the metrics as JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.pair:
        report = evaluate_pair(*args.pair, args.data, args.samples)
    else:
        report = evaluate_export(args.model, args.data, args.samples)
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    if args.output:
        write_text(args.output, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

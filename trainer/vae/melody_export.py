"""Exports a trained joint melody VAE as a SavedModel version directory.

Signatures (``B`` batch, ``L`` fixed length, ``Z`` latent size; names in
``serving.contract.signatures``):

| signature | inputs | outputs |
|---|---|---|
| `info` | none | `kind` "melody", `output` "categorical", `length` int32 [], `latent_dim` int32 [], `alphabet` int32 [49] and `pad_code` (pitch), `rhythm_alphabet` int32 [8] and `rhythm_pad_code` |
| `encode` | `notes`, `rhythms` int32 [B, L], `length` int32 [B] | `mean`, `logvar` float32 [B, Z] |
| `decode` | `z` float32 [B, Z] | `notes`, `rhythms` int32 [B, L] (pad codes from `length` on), `length` int32 [B] |
| `reconstruct` | as `encode` | as `decode`, from the encoder's mean |
| `sample` (= `serving_default`) | `seed` int32 [B] | as `decode`, plus `z`; row i decodes z ~ N(0, I) drawn statelessly from seed i |

z's last dimension is the length, coded exactly (``trainer.vae.melody_length``; its `logvar` is
-20); the others are the latent parts. ``encode``/``reconstruct`` reject codes outside the
alphabets, and lengths outside 1..L, with INVALID_ARGUMENT.
"""
from __future__ import annotations

import os

import keras
import tensorflow as tf

from serving.contract import signatures as sig
from trainer.vae.export import alphabet_check, latent_samples, write_vae_version
from trainer.vae.melody_config import MELODY, MelodyVaeConfig
from trainer.vae.melody_data import NOTES, RHYTHMS
from trainer.vae.melody_model import MelodyVae, build_melody_vae


def _checked(notes: tf.Tensor, rhythms: tf.Tensor, lengths: tf.Tensor, length: int):
    checks = [alphabet_check(codes, alphabet.codes, alphabet.kind)
              for codes, alphabet in ((notes, NOTES), (rhythms, RHYTHMS))]
    checks.append(tf.debugging.Assert(
        tf.reduce_all((lengths >= 1) & (lengths <= length)), [f"lengths outside 1..{length}:", lengths],
    ))
    with tf.control_dependencies(checks):
        return tf.identity(notes), tf.identity(rhythms), tf.identity(lengths)


def build_export_archive(model: MelodyVae, config: MelodyVaeConfig) -> keras.export.ExportArchive:
    """The `sample` (first, so also `serving_default`), `info`, `encode`, `decode`, `reconstruct` endpoints."""

    def info() -> dict[str, tf.Tensor]:
        return {
            sig.KIND: tf.constant(MELODY), sig.OUTPUT: tf.constant("categorical"),
            sig.LENGTH: tf.constant(config.length, tf.int32), sig.LATENT_DIM: tf.constant(config.latent_dim, tf.int32),
            sig.ALPHABET: tf.constant(NOTES.codes, tf.int32), sig.PAD_CODE: tf.constant(NOTES.pad_code, tf.int32),
            sig.RHYTHM_ALPHABET: tf.constant(RHYTHMS.codes, tf.int32),
            sig.RHYTHM_PAD_CODE: tf.constant(RHYTHMS.pad_code, tf.int32),
        }

    def encode(notes: tf.Tensor, rhythms: tf.Tensor, length: tf.Tensor) -> dict[str, tf.Tensor]:
        mean, logvar = model.encode(*_checked(notes, rhythms, length, config.length))
        return {sig.MEAN: mean, sig.LOGVAR: logvar}

    def decode(z: tf.Tensor) -> dict[str, tf.Tensor]:
        return model.decode(z)

    def reconstruct(notes: tf.Tensor, rhythms: tf.Tensor, length: tf.Tensor) -> dict[str, tf.Tensor]:
        mean, _ = model.encode(*_checked(notes, rhythms, length, config.length))
        return model.decode(mean)

    def sample(seed: tf.Tensor) -> dict[str, tf.Tensor]:
        z = latent_samples(seed, config.latent_dim)
        return {**model.decode(z), sig.Z: z}

    event_specs = [
        tf.TensorSpec([None, config.length], tf.int32, name=sig.NOTES),
        tf.TensorSpec([None, config.length], tf.int32, name=sig.RHYTHMS),
        tf.TensorSpec([None], tf.int32, name=sig.LENGTH),
    ]
    archive = keras.export.ExportArchive()
    archive.add_endpoint(sig.SAMPLE, sample, [tf.TensorSpec([None], tf.int32, name=sig.SEED)])
    archive.add_endpoint(sig.INFO, info, [])
    archive.add_endpoint(sig.ENCODE, encode, event_specs)
    archive.add_endpoint(sig.DECODE, decode, [tf.TensorSpec([None, config.latent_dim], tf.float32, name=sig.Z)])
    archive.add_endpoint(sig.RECONSTRUCT, reconstruct, event_specs)
    return archive


def export_melody_vae(model: MelodyVae, config: MelodyVaeConfig, base_path: str | os.PathLike) -> str:
    """Writes ``base_path/<next integer version>/`` (SavedModel + ``assets.extra/vae_config.json``) from
    an optimizer-free copy of ``model``; returns the version directory."""
    copy = build_melody_vae(config, compiled=False)
    copy.set_weights(model.get_weights())
    return write_vae_version(build_export_archive(copy, config), config, base_path)

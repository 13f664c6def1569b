"""Exports a trained VAE as a SavedModel version directory a TF-Serving-style server can load.

Signatures (``B`` batch, ``L`` fixed length, ``Z`` latent size, ``C`` alphabet size):

| signature | inputs | outputs |
|---|---|---|
| `info` | none | `kind` string [] ("notes"/"rhythms"), `output` string [] ("sigmoid"/"categorical"), `length` int32 [], `latent_dim` int32 [], `alphabet` int32 [C] (valid codes), `pad_code` int32 [] |
| `encode` | `codes` int32 [B, L] | `mean`, `logvar` float32 [B, Z] |
| `decode` | `z` float32 [B, Z] | `codes` int32 [B, L]; `values` float32 [B, L] (sigmoid) or `probabilities` float32 [B, L, C] (categorical) |
| `reconstruct` | `codes` int32 [B, L] | as `decode`, from the encoder's mean |
| `sample` (= `serving_default`) | `seed` int32 [B] | as `decode`, plus `z` float32 [B, Z]; row i decodes z ~ N(0, I) drawn statelessly from seed i |

Sigmoid codes are de-normalised and rounded, so they may fall outside the alphabet (the client
should check them against `alphabet`). ``encode``/``reconstruct`` reject codes outside the
alphabet with INVALID_ARGUMENT. The version directory is written under a temporary name and
renamed, so a polling server never sees half a model.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Sequence

import keras
import tensorflow as tf

from serving.contract import signatures as sig
from serving.contract import versions

logger = logging.getLogger(__name__)

CONFIG_ASSET = "vae_config.json"


def build_export_archive(model, config) -> keras.export.ExportArchive:
    """The `sample` (first, so also `serving_default`), `info`, `encode`, `decode` and `reconstruct`
    endpoints of a trained ``trainer.vae.model.Vae`` and its ``VaeConfig``.

    `keras.export.ExportArchive` tracks the TensorFlow variables the endpoints capture, so the
    session-based loader of `tensorflow_model_server` and `saved_model_cli run` restores them.
    """
    alphabet = list(model.alphabet.codes)
    pad_code = model.alphabet.pad_code

    def checked(codes: tf.Tensor) -> tf.Tensor:
        with tf.control_dependencies([alphabet_check(codes, alphabet, config.kind)]):
            return tf.identity(codes)

    def info() -> dict[str, tf.Tensor]:
        return {
            sig.KIND: tf.constant(config.kind),
            sig.OUTPUT: tf.constant(config.output),
            sig.LENGTH: tf.constant(config.length, tf.int32),
            sig.LATENT_DIM: tf.constant(config.latent_dim, tf.int32),
            sig.ALPHABET: tf.constant(alphabet, tf.int32),
            sig.PAD_CODE: tf.constant(pad_code, tf.int32),
        }

    def encode(codes: tf.Tensor) -> dict[str, tf.Tensor]:
        mean, logvar = model.encode(checked(codes))
        return {sig.MEAN: mean, sig.LOGVAR: logvar}

    def decode(z: tf.Tensor) -> dict[str, tf.Tensor]:
        return dict(model.decode(z))

    def reconstruct(codes: tf.Tensor) -> dict[str, tf.Tensor]:
        mean, _ = model.encode(checked(codes))
        return dict(model.decode(mean))

    def sample(seed: tf.Tensor) -> dict[str, tf.Tensor]:
        z = latent_samples(seed, config.latent_dim)
        return {**model.decode(z), sig.Z: z}

    codes_spec = tf.TensorSpec([None, config.length], tf.int32, name=sig.CODES)
    archive = keras.export.ExportArchive()
    archive.add_endpoint(sig.SAMPLE, sample, [tf.TensorSpec([None], tf.int32, name=sig.SEED)])
    archive.add_endpoint(sig.INFO, info, [])
    archive.add_endpoint(sig.ENCODE, encode, [codes_spec])
    archive.add_endpoint(sig.DECODE, decode, [tf.TensorSpec([None, config.latent_dim], tf.float32, name=sig.Z)])
    archive.add_endpoint(sig.RECONSTRUCT, reconstruct, [codes_spec])
    return archive


def alphabet_check(codes: tf.Tensor, alphabet: Sequence[int], kind: str) -> tf.Operation:
    """An assertion (for ``tf.control_dependencies``) that every code of ``codes`` (int32, any shape)
    is one of ``alphabet``; it fails naming the ``kind`` alphabet and the first 10 codes outside it."""
    valid = tf.reduce_any(tf.equal(codes[..., None], tf.constant(alphabet, tf.int32)), axis=-1)
    return tf.debugging.Assert(
        tf.reduce_all(valid),
        [f"codes outside the {kind} alphabet, first ones:", tf.boolean_mask(codes, tf.logical_not(valid))[:10]],
    )


def latent_samples(seed: tf.Tensor, latent_dim: int) -> tf.Tensor:
    """Seeds int32 [B] -> z float32 [B, Z] ~ N(0, I), row i drawn statelessly from seed i."""
    return tf.map_fn(
        lambda row_seed: tf.random.stateless_normal([latent_dim], seed=tf.stack([row_seed, 0])),
        seed,
        fn_output_signature=tf.TensorSpec([latent_dim], tf.float32),
    )


def _inference_copy(model):
    """The trained weights in a fresh, uncompiled VAE of the same config, so that the export holds
    no optimizer slots (Adam's two would triple its size)."""
    copy = type(model)(model.config)
    copy(tf.fill([1, model.config.length], model.alphabet.pad_code))
    copy.set_weights(model.get_weights())
    return copy


def export_vae(model, config, base_path: str | os.PathLike) -> str:
    """Writes ``base_path/<next integer version>/`` (SavedModel + ``assets.extra/vae_config.json``).

    ``model`` is a trained ``trainer.vae.model.Vae``, ``config`` its ``VaeConfig``.
    Returns the version directory.
    """
    return write_vae_version(build_export_archive(_inference_copy(model), config), config, base_path)


def write_vae_version(archive: keras.export.ExportArchive, config, base_path: str | os.PathLike) -> str:
    """Writes ``archive`` as ``base_path``'s next integer version, with ``config`` (a dataclass) as
    ``assets.extra/vae_config.json``; returns the version directory."""

    def write(staging: str | os.PathLike) -> None:
        archive.write_out(str(staging), verbose=False)
        extra = os.path.join(str(staging), "assets.extra")
        tf.io.gfile.makedirs(extra)
        with tf.io.gfile.GFile(os.path.join(extra, CONFIG_ASSET), "w") as out:
            out.write(json.dumps(dataclasses.asdict(config), indent=2) + "\n")

    target = versions.write_version(base_path, write)
    logger.info("exported %s to %s", config.name, target)
    return target

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
import pathlib

import tensorflow as tf

from serving.contract import signatures as sig
from serving.contract import versions

logger = logging.getLogger(__name__)

CONFIG_ASSET = "vae_config.json"


class _VaeServingModule(tf.Module):
    """The serving graph around a trained ``trainer.vae.model.Vae``."""

    def __init__(self, model, config):
        super().__init__(name=f"{config.name}_serving")
        self.model = model
        self.alphabet = tf.constant(model.alphabet.codes, tf.int32)
        self.kind = config.kind
        self.output = config.output
        self.length = config.length
        self.latent_dim = config.latent_dim
        self.pad_code = model.alphabet.pad_code

    def _checked(self, codes: tf.Tensor) -> tf.Tensor:
        valid = tf.reduce_any(tf.equal(codes[..., None], self.alphabet), axis=-1)
        check = tf.debugging.Assert(
            tf.reduce_all(valid),
            [f"codes outside the {self.kind} alphabet, first ones:", tf.boolean_mask(codes, tf.logical_not(valid))[:10]],
        )
        with tf.control_dependencies([check]):
            return tf.identity(codes)

    def _decoded(self, z: tf.Tensor) -> dict[str, tf.Tensor]:
        return dict(self.model.decode(z))

    def info(self) -> dict[str, tf.Tensor]:
        return {
            sig.KIND: tf.constant(self.kind),
            sig.OUTPUT: tf.constant(self.output),
            sig.LENGTH: tf.constant(self.length, tf.int32),
            sig.LATENT_DIM: tf.constant(self.latent_dim, tf.int32),
            sig.ALPHABET: tf.identity(self.alphabet),
            sig.PAD_CODE: tf.constant(self.pad_code, tf.int32),
        }

    def encode(self, codes: tf.Tensor) -> dict[str, tf.Tensor]:
        mean, logvar = self.model.encode(self._checked(codes))
        return {sig.MEAN: mean, sig.LOGVAR: logvar}

    def decode(self, z: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._decoded(z)

    def reconstruct(self, codes: tf.Tensor) -> dict[str, tf.Tensor]:
        mean, _ = self.model.encode(self._checked(codes))
        return self._decoded(mean)

    def sample(self, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        z = tf.map_fn(
            lambda row_seed: tf.random.stateless_normal([self.latent_dim], seed=tf.stack([row_seed, 0])),
            seed,
            fn_output_signature=tf.TensorSpec([self.latent_dim], tf.float32),
        )
        return {**self._decoded(z), sig.Z: z}

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        codes_spec = tf.TensorSpec([None, self.length], tf.int32, name=sig.CODES)
        z_spec = tf.TensorSpec([None, self.latent_dim], tf.float32, name=sig.Z)
        seed_spec = tf.TensorSpec([None], tf.int32, name=sig.SEED)
        sample = tf.function(self.sample).get_concrete_function(seed_spec)
        return {
            sig.INFO: tf.function(self.info).get_concrete_function(),
            sig.ENCODE: tf.function(self.encode).get_concrete_function(codes_spec),
            sig.DECODE: tf.function(self.decode).get_concrete_function(z_spec),
            sig.RECONSTRUCT: tf.function(self.reconstruct).get_concrete_function(codes_spec),
            sig.SAMPLE: sample,
            sig.DEFAULT_SIGNATURE: sample,
        }


def _inference_copy(model):
    """The trained weights in a fresh, uncompiled VAE of the same config, so that the export holds
    no optimizer slots (Adam's two would triple its size)."""
    copy = type(model)(model.config)
    copy(tf.fill([1, model.config.length], model.alphabet.pad_code))
    copy.set_weights(model.get_weights())
    return copy


def export_vae(model, config, base_path: str | os.PathLike) -> pathlib.Path:
    """Writes ``base_path/<next integer version>/`` (SavedModel + ``assets.extra/vae_config.json``).

    ``model`` is a trained ``trainer.vae.model.Vae``, ``config`` its ``VaeConfig``.
    Returns the version directory.
    """
    module = _VaeServingModule(_inference_copy(model), config)

    def write(staging: pathlib.Path) -> None:
        tf.saved_model.save(module, str(staging), signatures=module.signatures())
        extra = staging / "assets.extra"
        extra.mkdir(exist_ok=True)
        (extra / CONFIG_ASSET).write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n")

    target = versions.write_version(base_path, write)
    logger.info("exported %s to %s", config.name, target)
    return target

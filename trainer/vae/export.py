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
import shutil
import tempfile

import tensorflow as tf

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
            "kind": tf.constant(self.kind),
            "output": tf.constant(self.output),
            "length": tf.constant(self.length, tf.int32),
            "latent_dim": tf.constant(self.latent_dim, tf.int32),
            "alphabet": tf.identity(self.alphabet),
            "pad_code": tf.constant(self.pad_code, tf.int32),
        }

    def encode(self, codes: tf.Tensor) -> dict[str, tf.Tensor]:
        mean, logvar = self.model.encode(self._checked(codes))
        return {"mean": mean, "logvar": logvar}

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
        return {**self._decoded(z), "z": z}

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        codes_spec = tf.TensorSpec([None, self.length], tf.int32, name="codes")
        z_spec = tf.TensorSpec([None, self.latent_dim], tf.float32, name="z")
        seed_spec = tf.TensorSpec([None], tf.int32, name="seed")
        sample = tf.function(self.sample).get_concrete_function(seed_spec)
        return {
            "info": tf.function(self.info).get_concrete_function(),
            "encode": tf.function(self.encode).get_concrete_function(codes_spec),
            "decode": tf.function(self.decode).get_concrete_function(z_spec),
            "reconstruct": tf.function(self.reconstruct).get_concrete_function(codes_spec),
            "sample": sample,
            "serving_default": sample,
        }


def _existing_versions(base_path: pathlib.Path) -> list[int]:
    return sorted(int(entry.name) for entry in base_path.iterdir() if entry.is_dir() and entry.name.isdigit())


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
    base_path = pathlib.Path(base_path)
    base_path.mkdir(parents=True, exist_ok=True)
    module = _VaeServingModule(_inference_copy(model), config)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=".tmp-export-", dir=base_path))
    try:
        tf.saved_model.save(module, str(staging), signatures=module.signatures())
        extra = staging / "assets.extra"
        extra.mkdir(exist_ok=True)
        (extra / CONFIG_ASSET).write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n")
        while True:
            versions = _existing_versions(base_path)
            target = base_path / str((versions[-1] if versions else 0) + 1)
            try:
                os.rename(staging, target)  # atomic; fails if another export took the number
                break
            except OSError:
                if not target.exists():
                    raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    logger.info("exported %s to %s", config.name, target)
    return target

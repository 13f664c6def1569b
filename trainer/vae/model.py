"""The dense VAE of the slides, trained separately on `notes` and on `rhythms` codes.

Encoder: Dense(hidden) -> LeakyReLU(0.2) -> Dense(hidden) -> LeakyReLU(0.2) -> two heads
(mean, log-variance), each Dense(latent). Decoder: Dense(hidden) -> LeakyReLU(0.2) ->
Dense(hidden) -> LeakyReLU(0.2) -> Dense(output) -> Sigmoid (slides) or a softmax per position
over the code alphabet (the ``*_cat`` presets). ``B`` is the batch, ``L`` the fixed length,
``Z`` the latent size, ``C`` the alphabet size.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from serving.contract import signatures as sig
from trainer.vae import data as vae_data
from trainer.vae.config import VaeConfig


def reparameterize(mean: tf.Tensor, logvar: tf.Tensor, eps: tf.Tensor) -> tf.Tensor:
    """z = mean + sigma * eps with sigma = exp(logvar / 2); all [B, Z].

    The slides write ``z = mean + logvar * eps``: that is a bug (the noise scale would be the
    log-variance itself, negative or zero for small variances); the standard deviation is
    ``exp(0.5 * logvar)``.
    """
    return mean + tf.exp(0.5 * logvar) * eps


def kl_divergence(mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) per row: [B, Z] -> [B]."""
    return -0.5 * tf.reduce_sum(1.0 + logvar - tf.square(mean) - tf.exp(logvar), axis=-1)


def _dense_stack(hidden_dim: int, name: str) -> keras.Sequential:
    return keras.Sequential(
        [
            keras.layers.Dense(hidden_dim, name=f"{name}_fc1"),
            keras.layers.LeakyReLU(negative_slope=0.2),
            keras.layers.Dense(hidden_dim, name=f"{name}_fc2"),
            keras.layers.LeakyReLU(negative_slope=0.2),
        ],
        name=name,
    )


def _codes_of(data) -> tf.Tensor:
    """The int32 codes [B, L] of a batch: a bare tensor (``fit``) or an ``(x, y, weights)`` tuple."""
    return data[0] if isinstance(data, (tuple, list)) else data


class Vae(keras.Model):
    """Dense VAE over integer code rows [B, L]; see the module docstring for the layers."""

    def __init__(self, config: VaeConfig, **kwargs):
        super().__init__(name=config.name, **kwargs)
        self.config = config
        self.alphabet = vae_data.alphabet_for(config.kind)
        outputs_per_position = 1 if config.output == "sigmoid" else self.alphabet.size
        self.encoder_body = _dense_stack(config.hidden_dim, "encoder")
        self.fc_mean = keras.layers.Dense(config.latent_dim, name="fc_mean")
        self.fc_logvar = keras.layers.Dense(config.latent_dim, name="fc_logvar")
        self.decoder_body = _dense_stack(config.hidden_dim, "decoder")
        self.fc_output = keras.layers.Dense(config.length * outputs_per_position, name="fc_output")
        self.kl_weight = keras.Variable(config.kl_weight, trainable=False, name="kl_weight", dtype="float32")
        self.seed_generator = keras.random.SeedGenerator(config.seed)
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in ("reconstruction_loss", "kl_loss", "total_loss")
        }
        table = np.full(self.alphabet.high + 1, -1, np.int32)
        table[list(self.alphabet.codes)] = np.arange(self.alphabet.size, dtype=np.int32)
        self._code_to_index = tf.constant(table)
        self._codes = tf.constant(self.alphabet.codes, tf.int32)

    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    def code_indices(self, codes: tf.Tensor) -> tf.Tensor:
        """int32 codes [B, L] (valid codes only) -> alphabet positions [B, L]."""
        return tf.gather(self._code_to_index, tf.cast(codes, tf.int32))

    def encoder_inputs(self, codes: tf.Tensor) -> tf.Tensor:
        """int32 codes [B, L] -> float32 [B, L] (normalised) or [B, L * C] (one-hot).

        Codes are cast to int32 first: Keras may trace ``call`` with float inputs on save.
        """
        codes = tf.cast(codes, tf.int32)
        if self.config.output == "sigmoid":
            low, high = float(self.alphabet.low), float(self.alphabet.high)
            return (tf.cast(codes, tf.float32) - low) / (high - low)
        one_hot = tf.one_hot(self.code_indices(codes), self.alphabet.size, dtype=tf.float32)
        return tf.reshape(one_hot, [-1, self.config.length * self.alphabet.size])

    def encode(self, codes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """int32 codes [B, L] -> (mean [B, Z], logvar [B, Z])."""
        hidden = self.encoder_body(self.encoder_inputs(codes))
        return self.fc_mean(hidden), self.fc_logvar(hidden)

    def decode_logits(self, z: tf.Tensor) -> tf.Tensor:
        """z [B, Z] -> logits [B, L] (sigmoid output) or [B, L, C] (categorical output)."""
        logits = self.fc_output(self.decoder_body(z))
        if self.config.output == "sigmoid":
            return logits
        return tf.reshape(logits, [-1, self.config.length, self.alphabet.size])

    def decode(self, z: tf.Tensor) -> dict[str, tf.Tensor]:
        """z [B, Z] -> {CODES: int32 [B, L], VALUES: float32 [B, L]} (sigmoid output) or
        {CODES: int32 [B, L], PROBABILITIES: float32 [B, L, C]} (categorical output), the names of
        ``serving.contract.signatures``.

        Sigmoid values are de-normalised and rounded, so a code may fall outside the alphabet.
        """
        logits = self.decode_logits(z)
        if self.config.output == "sigmoid":
            values = tf.sigmoid(logits)
            low, high = float(self.alphabet.low), float(self.alphabet.high)
            codes = tf.cast(tf.round(values * (high - low) + low), tf.int32)
            return {sig.CODES: codes, sig.VALUES: values}
        probabilities = tf.nn.softmax(logits, axis=-1)
        codes = tf.gather(self._codes, tf.argmax(logits, axis=-1, output_type=tf.int32))
        return {sig.CODES: codes, sig.PROBABILITIES: probabilities}

    def call(self, codes: tf.Tensor, training: bool = False) -> tf.Tensor:
        """int32 codes [B, L] -> decoder logits (see ``decode_logits``); z = mean when not training."""
        mean, logvar = self.encode(codes)
        z = self.sample_z(mean, logvar) if training else mean
        return self.decode_logits(z)

    def sample_z(self, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
        eps = keras.random.normal(tf.shape(mean), seed=self.seed_generator)
        return reparameterize(mean, logvar, eps)

    def reconstruction_loss(self, codes: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        """Per-row loss [B], summed over the L positions (padding included, as in the slides)."""
        if self.config.output == "sigmoid":
            targets = self.encoder_inputs(codes)
            per_position = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
        else:
            per_position = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=self.code_indices(codes), logits=logits
            )
        return tf.reduce_sum(per_position, axis=-1)

    def _loss_terms(self, codes: tf.Tensor, training: bool) -> tuple[tf.Tensor, tf.Tensor]:
        mean, logvar = self.encode(codes)
        z = self.sample_z(mean, logvar) if training else mean
        reconstruction = tf.reduce_mean(self.reconstruction_loss(codes, self.decode_logits(z)))
        return reconstruction, tf.reduce_mean(kl_divergence(mean, logvar))

    def _record(self, reconstruction: tf.Tensor, kl: tf.Tensor, total: tf.Tensor) -> dict[str, tf.Tensor]:
        self.trackers["reconstruction_loss"].update_state(reconstruction)
        self.trackers["kl_loss"].update_state(kl)
        self.trackers["total_loss"].update_state(total)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data) -> dict[str, tf.Tensor]:
        codes = _codes_of(data)
        with tf.GradientTape() as tape:
            reconstruction, kl = self._loss_terms(codes, training=True)
            total = reconstruction + self.kl_weight * kl
        gradients = tape.gradient(total, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self._record(reconstruction, kl, total)

    def test_step(self, data) -> dict[str, tf.Tensor]:
        """Validation losses with the posterior sampled, as in training, and the full KL weight."""
        codes = _codes_of(data)
        mean, logvar = self.encode(codes)
        logits = self.decode_logits(self.sample_z(mean, logvar))
        reconstruction = tf.reduce_mean(self.reconstruction_loss(codes, logits))
        kl = tf.reduce_mean(kl_divergence(mean, logvar))
        return self._record(reconstruction, kl, reconstruction + self.config.kl_weight * kl)


def build_vae(config: VaeConfig) -> Vae:
    """A compiled, built VAE (weights and optimizer variables created)."""
    model = Vae(config)
    model(tf.fill([1, config.length], model.alphabet.pad_code))
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=config.learning_rate, weight_decay=config.weight_decay or None
        )
    )
    model.optimizer.build(model.trainable_variables)
    return model

"""The joint melody VAE: (pitch, duration) events in, both codes and the length out.

Encoder: a pitch embedding and a duration embedding per event, concatenated with a "real event"
flag and zeroed past the tune's length -> Conv1D(C, 5) -> ``downsamplings`` strided Conv1D(C, 4,
stride 2) (L -> L / 2**downsamplings = L' positions) -> 1x1 convolutions ``mean`` and ``logvar``
[B, L', Zc], flattened, and one last dimension, the tune's length coded exactly
(``melody_length``): z [B, Z], Z = L' * Zc + 1. The latent is a short sequence, each part
describing a few events, which carries a tune unseen in training far better than one global
vector did (that version reached about 20% exact events on the validation split while
overfitting the training one). Decoder (non-autoregressive, so its export needs no sampling
loop): the parts as [B, L', Zc] -> Conv1D(C, 3) -> as many Conv1DTranspose(C, 4, stride 2) (back
to L positions) + a learned position embedding, beside the events left to the decoded length
(one channel) -> Conv1D(C, 5) -> per position a pitch softmax [B, L, P] and a duration softmax
[B, L, D]. (A length softmax over z, then an END class, gave prior samples far longer than the
corpus's tunes; the length dimension follows the corpus by construction.) ``B`` batch, ``L`` the
fixed length (a multiple of 2**downsamplings), ``Zc`` latent channels, ``C`` channels, ``P`` = 49
pitch codes (50..97, rest 99), ``D`` = 8 duration codes. Convolutions, not recurrent layers: an
epoch on erk takes seconds on a CPU, where a bidirectional GRU of the same width took about 20 s.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from serving.contract import signatures as sig
from trainer.vae.melody_config import MelodyVaeConfig
from trainer.vae.melody_data import NOTES, RHYTHMS
from trainer.vae.melody_length import code_length, length_cdf, length_code
from trainer.vae.model import kl_divergence, reparameterize

LOSSES = ("reconstruction_loss", "kl_loss", "total_loss", "event_accuracy")
LENGTH_LOGVAR = -20.0  # the length dimension is exact: its stated variance is ~0


LOGVAR_START = -4.0


def _convolutions(channels: int, halvings: int, name: str, transposed: bool) -> keras.Sequential:
    kind = keras.layers.Conv1DTranspose if transposed else keras.layers.Conv1D
    layers = [kind(channels, 4, strides=2, padding="same", activation="relu", name=f"{name}_{index}")
              for index in range(halvings)]
    return keras.Sequential(layers, name=name)


def free_bits_kl(mean: tf.Tensor, logvar: tf.Tensor, free_bits: float) -> tf.Tensor:
    """Sum over Z of max(batch-mean KL of that dimension, ``free_bits``): [B, Z] -> scalar."""
    per_dimension = -0.5 * (1.0 + logvar - tf.square(mean) - tf.exp(logvar))
    return tf.reduce_sum(tf.maximum(tf.reduce_mean(per_dimension, axis=0), free_bits))


class MelodyVae(keras.Model):
    """Joint VAE over (notes, rhythms, lengths); see the module docstring for the layers."""

    def __init__(self, config: MelodyVaeConfig, **kwargs):
        super().__init__(name=config.name, **kwargs)
        self.config = config
        self.pitch_embedding = keras.layers.Embedding(NOTES.size, config.pitch_embedding, name="pitch_embedding")
        self.duration_embedding = keras.layers.Embedding(
            RHYTHMS.size, config.duration_embedding, name="duration_embedding"
        )
        channels = config.channels
        self.encoder_input = keras.layers.Conv1D(channels, 5, padding="same", activation="relu", name="encoder_input")
        self.encoder_body = _convolutions(channels, config.downsamplings, "encoder", transposed=False)
        self.fc_mean = keras.layers.Conv1D(config.latent_channels, 1, name="fc_mean")
        # Starting near-deterministic (sigma = exp(LOGVAR_START / 2) = 0.14) lets the latent carry the
        # events from the first epochs; the KL warm-up and free bits then shape the posterior.
        self.fc_logvar = keras.layers.Conv1D(
            config.latent_channels, 1, bias_initializer=keras.initializers.Constant(LOGVAR_START), name="fc_logvar"
        )
        self.coarse = config.length // 2**config.downsamplings
        self.fc_decoder = keras.layers.Conv1D(channels, 3, padding="same", activation="relu", name="fc_decoder")
        self.decoder_body = _convolutions(channels, config.downsamplings, "decoder", transposed=True)
        self.position_embedding = keras.layers.Embedding(config.length, channels, name="positions")
        self.decoder_output = keras.layers.Conv1D(channels, 5, padding="same", activation="relu", name="decoder_output")
        self.pitch_head = keras.layers.Dense(NOTES.size, name="pitch_head")
        self.duration_head = keras.layers.Dense(RHYTHMS.size, name="duration_head")
        self.kl_weight = keras.Variable(config.kl_weight, trainable=False, name="kl_weight", dtype="float32")
        # The training split's length CDF (``set_lengths``), saved with the weights.
        self.length_cdf = keras.Variable(length_cdf(np.zeros(0, np.int32), config.length), trainable=False,
                                         name="length_cdf", dtype="float32")
        self.seed_generator = keras.random.SeedGenerator(config.seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in LOSSES}
        self._tables = {}
        for alphabet in (NOTES, RHYTHMS):
            table = np.full(alphabet.high + 1, 0, np.int32)
            table[list(alphabet.codes)] = np.arange(alphabet.size, dtype=np.int32)
            self._tables[alphabet.kind] = (tf.constant(table), tf.constant(alphabet.codes, tf.int32))

    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    def indices(self, kind: str, codes: tf.Tensor) -> tf.Tensor:
        """int32 codes [B, L] of ``kind`` (valid codes only) -> alphabet positions [B, L]."""
        return tf.gather(self._tables[kind][0], tf.cast(codes, tf.int32))

    def mask(self, lengths: tf.Tensor) -> tf.Tensor:
        """lengths [B] -> bool [B, L], true at the real events."""
        return tf.sequence_mask(tf.cast(lengths, tf.int32), self.config.length)

    def encode(self, notes: tf.Tensor, rhythms: tf.Tensor, lengths: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """notes, rhythms int32 [B, L], lengths int32 [B] -> (mean [B, Z], logvar [B, Z])."""
        real = tf.cast(self.mask(lengths), tf.float32)[..., None]
        events = tf.concat(
            [self.pitch_embedding(self.indices(NOTES.kind, notes)),
             self.duration_embedding(self.indices(RHYTHMS.kind, rhythms)), tf.ones_like(real)], axis=-1,
        ) * real
        coarse = self.encoder_body(self.encoder_input(events))  # [B, L', C]
        flat = [-1, self.config.latent_dim - 1]
        code = length_code(lengths, self.length_cdf)[:, None]
        return (tf.concat([tf.reshape(self.fc_mean(coarse), flat), code], axis=-1),
                tf.concat([tf.reshape(self.fc_logvar(coarse), flat), tf.fill(tf.shape(code), LENGTH_LOGVAR)], -1))

    def set_lengths(self, lengths: np.ndarray) -> None:
        """Codes lengths by the CDF of these (the training split's) lengths [N]."""
        self.length_cdf.assign(length_cdf(lengths, self.config.length))

    def decode_logits(self, z: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """z [B, Z] -> pitch logits [B, L, P], duration logits [B, L, D], lengths int32 [B]."""
        lengths = code_length(z[:, -1], self.length_cdf)
        coarse = self.fc_decoder(tf.reshape(z[:, :-1], [-1, self.coarse, self.config.latent_channels]))
        positions = self.position_embedding(tf.range(self.config.length))[None]
        left = tf.cast(lengths[:, None] - tf.range(self.config.length)[None], tf.float32) / self.config.length
        sequence = self.decoder_output(tf.concat([self.decoder_body(coarse) + positions, left[..., None]], axis=-1))
        return self.pitch_head(sequence), self.duration_head(sequence), lengths

    def decode(self, z: tf.Tensor) -> dict[str, tf.Tensor]:
        """z [B, Z] -> {NOTES, RHYTHMS: int32 [B, L] (argmax of each softmax), LENGTH: int32 [B]};
        positions at or past the length hold the pad codes (rest 99, whole note 7)."""
        pitch_logits, duration_logits, lengths = self.decode_logits(z)
        mask = self.mask(lengths)
        notes = tf.gather(self._tables[NOTES.kind][1], tf.argmax(pitch_logits, axis=-1, output_type=tf.int32))
        rhythms = tf.gather(self._tables[RHYTHMS.kind][1], tf.argmax(duration_logits, axis=-1, output_type=tf.int32))
        return {
            sig.NOTES: tf.where(mask, notes, NOTES.pad_code),
            sig.RHYTHMS: tf.where(mask, rhythms, RHYTHMS.pad_code),
            sig.LENGTH: lengths,
        }

    def call(self, inputs, training: bool = False):
        """(notes, rhythms, lengths) -> the decoder logits; z = mean when not training."""
        mean, logvar = self.encode(*inputs)
        return self.decode_logits(self.sample_z(mean, logvar) if training else mean)

    def sample_z(self, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
        """A posterior draw [B, Z]; the length dimension is kept exact."""
        eps = keras.random.normal(tf.shape(mean[:, :-1]), seed=self.seed_generator)
        content = reparameterize(mean[:, :-1], logvar[:, :-1], eps)  # mean + exp(0.5 * logvar) * eps, not the slides' logvar * eps
        return tf.concat([content, mean[:, -1:]], axis=-1)

    def _terms(self, data, sample: bool) -> dict[str, tf.Tensor]:
        notes, rhythms, lengths = data
        lengths = tf.cast(lengths, tf.int32)
        mean, logvar = self.encode(notes, rhythms, lengths)
        z = self.sample_z(mean, logvar) if sample else mean
        pitch_logits, duration_logits, _ = self.decode_logits(z)
        mask = tf.cast(self.mask(lengths), tf.float32)
        pitch_targets, duration_targets = self.indices(NOTES.kind, notes), self.indices(RHYTHMS.kind, rhythms)
        per_event = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=pitch_targets, logits=pitch_logits)
        per_event += tf.nn.sparse_softmax_cross_entropy_with_logits(labels=duration_targets, logits=duration_logits)
        exact = tf.logical_and(
            tf.equal(tf.argmax(pitch_logits, -1, output_type=tf.int32), pitch_targets),
            tf.equal(tf.argmax(duration_logits, -1, output_type=tf.int32), duration_targets),
        )
        return {
            "reconstruction_loss": tf.reduce_mean(tf.reduce_sum(per_event * mask, axis=-1)),
            "kl_loss": tf.reduce_mean(kl_divergence(mean[:, :-1], logvar[:, :-1])),  # the length's is not learned
            "free_kl": free_bits_kl(mean[:, :-1], logvar[:, :-1], self.config.free_bits),
            "event_accuracy": tf.reduce_sum(tf.cast(exact, tf.float32) * mask) / tf.reduce_sum(mask),
        }

    def _record(self, terms: dict[str, tf.Tensor], kl_weight) -> dict[str, tf.Tensor]:
        terms["total_loss"] = terms["reconstruction_loss"] + kl_weight * terms["free_kl"]
        for name, tracker in self.trackers.items():
            tracker.update_state(terms[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data) -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            terms = self._terms(data, sample=True)
            total = terms["reconstruction_loss"] + self.kl_weight * terms["free_kl"]
        self.optimizer.apply(tape.gradient(total, self.trainable_weights), self.trainable_weights)
        return self._record(terms, self.kl_weight)

    def test_step(self, data) -> dict[str, tf.Tensor]:
        """Validation losses with the posterior sampled, as in training, and the full KL weight."""
        return self._record(self._terms(data, sample=True), self.config.kl_weight)


def dummy_inputs(config: MelodyVaeConfig) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """One all-padding row (notes, rhythms [1, L], length [1]) that builds the weights."""
    return (tf.fill([1, config.length], NOTES.pad_code), tf.fill([1, config.length], RHYTHMS.pad_code),
            tf.ones([1], tf.int32))


def build_melody_vae(config: MelodyVaeConfig, compiled: bool = True) -> MelodyVae:
    """A built MelodyVae (weights created), compiled with Adam and its slots built when ``compiled``."""
    model = MelodyVae(config)
    model(dummy_inputs(config))
    if compiled:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate))
        model.optimizer.build(model.trainable_variables)
    return model

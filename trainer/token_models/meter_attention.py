"""Causal attention of a tune over its own past: the copy memory of the meter-aware LSTM.

At step ``t`` the query comes from the LSTM output ``h[t]``; slot ``s`` (one of the last
``window`` steps, ``t`` included) holds the key of the output before it, ``h[s - 1]`` (zeros at
``s = 0``), and the value of ``h[s]``. A query that matches the context before an earlier step
thus reads what that step held, which lets the model continue a phrase it has already played.
One learned *sink* slot per head lets a query attend to nothing. ``call`` runs a whole sequence
``[B, T, U] -> [B, T, H * D]``; ``step`` runs one step over a ring buffer of the last ``window``
keys and values, as the exported ``step`` signature carries them in its flat state.
"""
from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="folkgen")
class TuneMemoryAttention(keras.layers.Layer):
    """``heads`` heads of width ``dim`` over the last ``window`` steps; ``memory_size`` floats of state per row."""

    def __init__(self, window: int, heads: int, dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        for name, value in (("window", window), ("heads", heads), ("dim", dim)):
            if value < 1:
                raise ValueError(f"attention {name} must be >= 1, got {value!r}")
        self.window, self.heads, self.dim = window, heads, dim
        self.width = heads * dim

    @property
    def memory_size(self) -> int:
        """Floats of step state: ``window`` keys and values of ``heads * dim`` each, and a step counter."""
        return 2 * self.window * self.width + 1

    def build(self, input_shape) -> None:
        units = int(input_shape[-1])
        for name in ("query", "key", "value"):
            setattr(self, f"{name}_kernel", self.add_weight(name=f"{name}_kernel", shape=(units, self.width),
                                                             initializer="glorot_uniform"))
        self.key_bias = self.add_weight(name="key_bias", shape=(self.width,), initializer="zeros")
        self.value_bias = self.add_weight(name="value_bias", shape=(self.width,), initializer="zeros")
        self.sink_key = self.add_weight(name="sink_key", shape=(self.heads, self.dim), initializer="zeros")
        self.sink_value = self.add_weight(name="sink_value", shape=(self.heads, self.dim), initializer="zeros")

    def _split(self, x):
        """``[..., H * D] -> [..., H, D]``."""
        return ops.reshape(x, (*ops.shape(x)[:-1], self.heads, self.dim))

    def _keys_values(self, before, now):
        """Key of the output before a step, value of the step's own: ``[..., H * D]`` each."""
        key = ops.matmul(before, self.key_kernel) + self.key_bias
        return key, ops.matmul(now, self.value_kernel) + self.value_bias

    def _attend(self, query, keys, values, allowed):
        """query ``[B, (T,) H, D]``, keys/values ``[B, S, H, D]``, allowed bool ``[B, (T,) S]``
        -> ``[B, (T,) H * D]``."""
        timed = len(query.shape) == 4
        scores = ops.einsum("bthd,bshd->bths" if timed else "bhd,bshd->bhs", query, keys) / math.sqrt(self.dim)
        scores = ops.where(ops.expand_dims(allowed, -2), scores, ops.full_like(scores, -1e9))
        sink = ops.sum(query * self.sink_key, axis=-1)[..., None]  # [B, (T,) H, 1]
        weights = ops.softmax(ops.concatenate([sink, scores], axis=-1), axis=-1)
        read = ops.einsum("bths,bshd->bthd" if timed else "bhs,bshd->bhd", weights[..., 1:], values)
        read = read + weights[..., :1] * self.sink_value
        return ops.reshape(read, (*ops.shape(read)[:-2], self.width))

    def call(self, hidden):
        before = ops.pad(hidden[:, :-1], ((0, 0), (1, 0), (0, 0)))
        keys, values = self._keys_values(before, hidden)
        steps = ops.arange(ops.shape(hidden)[1])
        distance = steps[:, None] - steps[None, :]  # [T, S]: query step - slot step
        allowed = ops.logical_and(distance >= 0, distance < self.window)
        allowed = ops.broadcast_to(allowed[None], (ops.shape(hidden)[0], *ops.shape(allowed)))
        query = self._split(ops.matmul(hidden, self.query_kernel))
        return self._attend(query, self._split(keys), self._split(values), allowed)

    def step(self, before: tf.Tensor, hidden: tf.Tensor, memory: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The output before ``[B, U]``, this step's ``[B, U]`` and the memory ``[B, memory_size]`` (zeros at the
        start) -> (this step's read ``[B, H * D]``, the memory with this step written)."""
        batch, size = tf.shape(hidden)[0], self.window * self.width
        keys = tf.reshape(memory[:, :size], [batch, self.window, self.width])
        values = tf.reshape(memory[:, size:2 * size], [batch, self.window, self.width])
        count = tf.cast(tf.round(memory[:, -1]), tf.int32)  # steps already written
        key, value = self._keys_values(before, hidden)
        slot = tf.one_hot(tf.math.floormod(count, self.window), self.window, dtype=keys.dtype)[:, :, None]
        keys = keys * (1 - slot) + slot * key[:, None]
        values = values * (1 - slot) + slot * value[:, None]
        allowed = tf.range(self.window)[None] <= count[:, None]  # every slot once the ring is full
        query = self._split(tf.matmul(hidden, self.query_kernel))
        read = self._attend(query, self._split(keys), self._split(values), allowed)
        written = tf.cast(count + 1, memory.dtype)[:, None]
        return read, tf.concat([tf.reshape(keys, [batch, size]), tf.reshape(values, [batch, size]), written], axis=1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.width)

    def get_config(self) -> dict:
        return {**super().get_config(), "window": self.window, "heads": self.heads, "dim": self.dim}

"""The TensorFlow twin of ``serving.contract.sampling``: the same draws and choices, in the graph.

``graph_uniform`` and ``make_chooser`` must stay bit-identical to ``sampling.uniform`` and
``sampling.choose``, so that ``generate`` on the server and the client's loop over ``step`` give the
same melody for the same seed (the algorithm: ``serving/README.md``, "Sampling, bit for bit").
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from serving.contract.sampling import FLOAT32_MAX, MASK32


def graph_uniform(seed: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """Counter-based draws in [0, 1): int32 `seed`, `index` (same or broadcast shapes) -> float32."""
    bitwise = tf.bitwise
    x = bitwise.bitwise_and(tf.cast(seed, tf.int64), tf.constant(0x7FFFFFFF, tf.int64))
    x = x * 69069 + tf.cast(index, tf.int64) * 1013904223 + 1
    x = bitwise.bitwise_and(x, tf.constant(MASK32, tf.int64))
    x = tf.where(tf.equal(x, 0), tf.constant(0x9E3779B9, tf.int64), x)
    mask = tf.constant(MASK32, tf.int64)
    for _ in range(4):
        x = bitwise.bitwise_xor(x, bitwise.bitwise_and(bitwise.left_shift(x, 13), mask))
        x = bitwise.bitwise_xor(x, bitwise.right_shift(x, 17))
        x = bitwise.bitwise_xor(x, bitwise.bitwise_and(bitwise.left_shift(x, 5), mask))
    return tf.cast(bitwise.right_shift(x, 8), tf.float32) / float(2**24)


def make_chooser(
    temperature: tf.Tensor, top_k: tf.Tensor, top_p: tf.Tensor, vocab_size: int
) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Prepare per-row settings `[B]` once; the result maps (logits `[B, V]`, u `[B]`, optional bool
    `allowed` `[B, V]`) -> int32 `[B]`, as ``sampling.choose`` row by row."""
    neg_inf = tf.constant(-np.inf, tf.float32)
    temperature = temperature[:, None]
    top_p = top_p[:, None]
    positions = tf.range(vocab_size)[None, :]
    within_top_k = tf.logical_or(top_k[:, None] <= 0, positions < top_k[:, None])  # [B, V]
    first = tf.equal(positions, 0)

    def choose(logits: tf.Tensor, u: tf.Tensor, allowed: tf.Tensor | None = None) -> tf.Tensor:
        allowed = tf.ones_like(logits, tf.bool) if allowed is None else allowed
        possible = tf.logical_and(allowed, tf.logical_not(tf.math.is_nan(logits)))
        key = tf.minimum(tf.where(possible, logits, neg_inf), FLOAT32_MAX)
        finite = key > neg_inf
        any_finite = tf.reduce_any(finite, axis=1, keepdims=True)
        peak = tf.reduce_max(key, axis=1, keepdims=True)
        shifted = tf.where(finite, (key - peak) / temperature, neg_inf)
        p = tf.cast(tf.exp(tf.cast(shifted, tf.float64)), tf.float32)
        p = tf.where(any_finite, p, tf.cast(allowed, tf.float32))
        key = tf.where(any_finite, key, tf.where(allowed, tf.zeros_like(key), neg_inf))
        order = tf.math.top_k(key, k=vocab_size, sorted=True).indices
        q = tf.gather(p, order, batch_dims=1)
        zero = tf.zeros_like(q)
        q = tf.where(within_top_k, q, zero)
        c0 = tf.cumsum(q, axis=1)
        q = tf.where(tf.logical_or(c0 - q < top_p * c0[:, -1:], first), q, zero)
        c = tf.cumsum(q, axis=1)
        below = tf.reduce_sum(tf.cast(c <= u[:, None] * c[:, -1:], tf.int32), axis=1)
        last_kept = tf.reduce_max(tf.where(q > 0, positions, tf.zeros_like(positions)), axis=1)
        chosen = tf.minimum(below, last_kept)
        return tf.gather(order, chosen[:, None], batch_dims=1)[:, 0]

    return choose

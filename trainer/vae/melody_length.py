"""The melody VAE's explicit length: one latent dimension that is the tune's length, probit-coded.

A length k (1..L events) is coded as ``z = Phi^-1(u)`` with ``u`` the middle of its step of the
training split's length CDF (smoothed, so every length has some mass); decoding inverts it. The
code of a training tune is N(0, 1)-distributed by construction, so a prior sample's length
follows the corpus's length distribution, and the code round-trips every length exactly.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

SMOOTHING = 0.5  # pseudo-count of every length 1..L


def length_cdf(lengths: np.ndarray, length: int) -> np.ndarray:
    """Training lengths [N] (1..``length``) -> float32 CDF [length + 1]: cdf[k] = P(len <= k), cdf[0] = 0."""
    lengths = np.asarray(lengths)
    if lengths.size and (lengths.min() < 1 or lengths.max() > length):
        raise ValueError(f"lengths must be within 1..{length}, got {lengths.min()}..{lengths.max()}")
    counts = np.bincount(lengths, minlength=length + 1)[1:].astype(np.float64) + SMOOTHING
    return np.concatenate([[0.0], np.cumsum(counts) / counts.sum()]).astype(np.float32)


def length_code(lengths: tf.Tensor, cdf: tf.Tensor) -> tf.Tensor:
    """int lengths [B] (1..L), cdf [L + 1] -> float32 codes [B]."""
    lengths = tf.cast(lengths, tf.int32)
    middle = 0.5 * (tf.gather(cdf, lengths - 1) + tf.gather(cdf, lengths))
    return tf.sqrt(2.0) * tf.math.erfinv(2.0 * middle - 1.0)


def code_length(codes: tf.Tensor, cdf: tf.Tensor) -> tf.Tensor:
    """float codes [B], cdf [L + 1] -> int32 lengths [B] in 1..L (any real code gives a length)."""
    u = 0.5 * (1.0 + tf.math.erf(codes / tf.sqrt(2.0)))
    below = tf.reduce_sum(tf.cast(cdf[None, 1:-1] < u[:, None], tf.int32), axis=-1)
    return below + 1

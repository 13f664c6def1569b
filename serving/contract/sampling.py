"""Client-side sampling for token models, in pure NumPy.

Implements the algorithm of `serving/README.md` ("Sampling, bit for bit") exactly as the
`generate` signature does in TensorFlow (`serving.contract.sampling_graph`), so that the client looping over
`step` and the server running `generate` draw the same tokens for the same seed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MASK32 = 0xFFFFFFFF
_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
FLOAT32_MAX = np.float32(np.finfo(np.float32).max)

@dataclass(frozen=True)
class SamplingSettings:
    """How to pick each token: `top_k = 0` and `top_p = 1.0` switch those filters off."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        validate_settings(self.temperature, self.top_k, self.top_p)


def validate_settings(temperature: float, top_k: int, top_p: float) -> None:
    """Raise ValueError naming the first bad value (temperature <= 0, top_k < 0, top_p outside (0, 1])."""
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    if int(top_k) != top_k or top_k < 0:
        raise ValueError(f"top_k must be an integer >= 0 (0 = off), got {top_k!r}")
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1] (1.0 = off), got {top_p!r}")


GREEDY = SamplingSettings(temperature=1.0, top_k=1, top_p=1.0)


def uniform(seed: int, index: int) -> float:
    """The counter-based draw in [0, 1) for sample `index` of the melody with `seed` (int32)."""
    if not _INT32_MIN <= seed <= _INT32_MAX:
        raise ValueError(f"seed must fit in int32, got {seed!r}")
    if not 0 <= index <= _INT32_MAX:
        raise ValueError(f"index must be in [0, 2**31), got {index!r}")
    x = ((seed & 0x7FFFFFFF) * 69069 + index * 1013904223 + 1) & MASK32
    if x == 0:
        x = 0x9E3779B9
    for _ in range(4):
        x ^= (x << 13) & MASK32
        x ^= x >> 17
        x ^= (x << 5) & MASK32
    return (x >> 8) / 2**24


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities (float64, the shape of ``logits``: `[..., V]`) at temperature 1, unmasked."""
    values = np.asarray(logits, np.float64)
    shifted = values - values.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _ranked_weights(
    logits: np.ndarray, temperature: np.float32, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(rank key, unnormalised float32 probabilities), both `[V]`; p is non-increasing in the key.

    NaN and disallowed symbols get key -inf and p 0; with no finite possible logit every allowed
    symbol gets key 0 and p 1 (uniform).
    """
    possible = allowed & ~np.isnan(logits)
    key = np.minimum(np.where(possible, logits, -np.inf), FLOAT32_MAX).astype(np.float32)
    finite = key > -np.inf
    if not finite.any():
        return np.where(allowed, np.float32(0), np.float32(-np.inf)), allowed.astype(np.float32)
    shifted = np.where(finite, (key - key[finite].max()) / temperature, np.float32(-np.inf))
    return key, np.exp(shifted.astype(np.float64)).astype(np.float32)


def choose(
    logits: np.ndarray,
    temperature: float,
    top_k: int,
    top_p: float,
    u: float,
    allowed: np.ndarray | None = None,
) -> int:
    """Pick one symbol index from log-probabilities `logits` `[V]` with the draw `u` in [0, 1).

    `allowed` is an optional bool mask `[V]`; NaN logits are never chosen; if no symbol has a
    finite logit the choice is uniform over the allowed ones.
    """
    validate_settings(temperature, top_k, top_p)
    if not 0.0 <= u < 1.0:
        raise ValueError(f"u must be in [0, 1), got {u!r}")
    row = np.asarray(logits, dtype=np.float32)
    if row.ndim != 1 or row.size == 0:
        raise ValueError(f"logits must be a non-empty 1-D array, got shape {row.shape}")
    if allowed is None:
        mask = np.ones(row.shape, dtype=bool)
    else:
        mask = np.asarray(allowed, dtype=bool)
        if mask.shape != row.shape:
            raise ValueError(f"allowed must have shape {row.shape}, got {mask.shape}")
        if not mask.any():
            raise ValueError("allowed masks out every symbol")
    key, p = _ranked_weights(row, np.float32(temperature), mask)
    order = np.argsort(-key, kind="stable")
    q = p[order]
    positions = np.arange(q.size)
    if top_k > 0:
        q = np.where(positions < top_k, q, np.float32(0))
    c0 = np.cumsum(q, dtype=np.float32)
    keep = (c0 - q < np.float32(top_p) * c0[-1]) | (positions == 0)
    q = np.where(keep, q, np.float32(0))
    c = np.cumsum(q, dtype=np.float32)
    below = int(np.count_nonzero(c <= np.float32(u) * c[-1]))
    last_kept = int(np.max(np.where(q > 0, positions, 0)))
    return int(order[min(below, last_kept)])

"""Reference samplers for the tests, built on the product's ``choose``: one melody at a time, in NumPy.

``sample_loop`` is the contract's loop for one melody, written as plainly as possible, so that the
client's batched loop and the server's ``generate`` can both be compared with it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from serving.contract.sampling import SamplingSettings, choose, uniform

StepFn = Callable[[int, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""One model step: (token, state `[S]`) -> (logits `[V]`, new state `[S]`)."""
AllowedFn = Callable[[int, Sequence[int]], "np.ndarray | None"]
"""Per-step mask hook: (sample index, tokens sampled so far) -> bool `[V]` or None (all allowed)."""


def greedy(logits: np.ndarray, allowed: np.ndarray | None = None) -> int:
    """The most probable allowed symbol (ties to the lower index)."""
    return choose(logits, 1.0, 1, 1.0, 0.0, allowed)


def sample_temperature(
    logits: np.ndarray, temperature: float, u: float, allowed: np.ndarray | None = None
) -> int:
    """Sample from the whole distribution sharpened/flattened by `temperature`."""
    return choose(logits, temperature, 0, 1.0, u, allowed)


def sample_top_k(
    logits: np.ndarray, k: int, u: float, temperature: float = 1.0, allowed: np.ndarray | None = None
) -> int:
    """Sample among the `k` most probable symbols."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k!r}")
    return choose(logits, temperature, k, 1.0, u, allowed)


def sample_top_p(
    logits: np.ndarray, p: float, u: float, temperature: float = 1.0, allowed: np.ndarray | None = None
) -> int:
    """Sample from the smallest head of the distribution holding probability mass `p`."""
    return choose(logits, temperature, 0, p, u, allowed)


def sample_loop(
    step: StepFn,
    initial_state: np.ndarray,
    primer: Sequence[int],
    steps: int,
    settings: SamplingSettings,
    seed: int,
    allowed_fn: AllowedFn | None = None,
) -> list[int]:
    """The contract's loop for one melody: feed `primer` through `step`, then sample `steps` tokens.

    Returns the sampled tokens only (primer excluded); the same as `generate` for the same seed.
    """
    if len(primer) < 1:
        raise ValueError(f"primer must hold at least one token, got {list(primer)!r}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps!r}")
    state = np.asarray(initial_state, dtype=np.float32)
    logits = None
    for token in primer:
        logits, state = step(int(token), state)
    sampled: list[int] = []
    for index in range(steps):
        allowed = allowed_fn(index, sampled) if allowed_fn is not None else None
        token = choose(
            logits, settings.temperature, settings.top_k, settings.top_p, uniform(seed, index), allowed
        )
        sampled.append(token)
        if index + 1 < steps:
            logits, state = step(token, state)
    return sampled

"""Client-side sampling of many tunes in a fixed number of rows per `step` call (continuous batching).

``sample_in_slots`` queues the tunes (one primer, one seed each) and runs at most ``slots`` of them
at a time, one row each. When a row's tune is complete (its rules say so, or its ``steps`` are
spent) the next queued tune starts in that row in the same `step` call: its rules row restarted,
its recurrent state and logits those after the primer. Every tune shares the primer, so it is fed
once, from the zero state, in a row of its own (a row's results do not depend on the other rows of
a call). Constrained tunes end at different lengths, so rows that would idle in a batch's tail
keep sampling. Every tune draws its i-th token with ``uniform(seed, i)`` from its own row's logits,
exactly as ``tokens.sample_melodies`` does: its tokens depend on its seed, not on its row or on
which tunes shared the calls.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from serving.contract.sampling import SamplingSettings, choose, uniform
from serving.generation.constrained_rows import RowRules
from serving.generation.token_model import TokenModel


class SlotRules(RowRules, Protocol):
    """Row rules whose rows can start over (``constrained_rows.AbcRows``)."""

    def restart(self, row: int) -> None:
        """Row ``row`` starts a new tune."""


def sample_in_slots(model: TokenModel, primer: Sequence[int], steps: int, settings: SamplingSettings,
                    seeds: Sequence[int], slots: int,
                    rules: SlotRules | None = None) -> tuple[list[list[int]], list[bool]]:
    """Samples one tune per seed (in seed order) from ``primer`` in at most ``slots`` rows per
    `step` call; ``rules`` (``slots`` rows, or None: no constraints) mask each draw and end a
    tune. Returns (the sampled tokens per seed, primer excluded; whether its rules ended each
    tune). ValueError for no primer, ``steps`` or ``slots`` < 1, or a meter-aware model (whose
    `step` takes tune positions: ``tokens.sample_melodies`` feeds them)."""
    if not primer:
        raise ValueError("the primer needs at least one token")
    if steps < 1 or slots < 1:
        raise ValueError(f"steps and slots must be >= 1, got {steps} and {slots}")
    if model.conditioning:
        raise ValueError(f"model {model.name!r} is meter-aware: sample it with tokens.sample_melodies")
    primed_logits, primed_state = _primed(model, primer)
    logits = np.zeros((slots, len(model.symbols)), np.float32)
    state = np.zeros((slots, model.state_size), np.float32)
    fed = np.zeros(slots, np.int32)
    sampled: list[list[int]] = [[] for _ in seeds]
    ended = [False] * len(seeds)
    tune_of = [-1] * slots
    queued = iter(range(len(seeds)))

    def start(slot: int) -> bool:
        """The next queued tune into ``slot``, its primer fed; False when none is left."""
        tune_of[slot] = next(queued, -1)
        if tune_of[slot] < 0:
            return False
        logits[slot], state[slot] = primed_logits, primed_state
        if rules is not None:
            rules.restart(slot)
        return True

    def feed(slot: int) -> bool:
        """Draws ``slot``'s next token, to feed this call; a tune whose last token that is makes
        way for the next queued one. False when the slot falls idle."""
        while True:
            tune = tune_of[slot]
            index = len(sampled[tune])
            token = choose(logits[slot], settings.temperature, settings.top_k, settings.top_p,
                           uniform(seeds[tune], index), rules.allowed(slot) if rules is not None else None)
            sampled[tune].append(token)
            if rules is not None:
                rules.advance(slot, token)
                ended[tune] = rules.ended(slot)
            if not ended[tune] and index < steps - 1:
                fed[slot] = token
                return True
            if not start(slot):
                return False

    running = [slot for slot in range(slots) if start(slot)]
    while running:
        running = [slot for slot in running if feed(slot)]
        if running:
            rows = np.asarray(running)
            logits[rows], state[rows] = model.step(fed[rows], state[rows])
    return sampled, ended


def _primed(model: TokenModel, primer: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(logits `[V]`, state `[S]`) after feeding ``primer`` from the zero state, one row."""
    state = np.zeros((1, model.state_size), np.float32)
    for token in primer:
        logits, state = model.step(np.asarray([token], np.int32), state)
    return logits[0], state[0]

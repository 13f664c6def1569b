"""Evaluation metrics of next-symbol distributions against a song's symbols.

- ``nll_nats_per_step``: mean ``-ln p(target)`` over every song symbol;
- ``pitch_bits_per_note``: at each note onset (target is a pitch), ``-log2`` of the target's
  probability renormalised over the pitch symbols (IDyOM's unit);
- ``onset_accuracy``: share of onset steps (target not ``_``) whose most likely symbol is the target.
"""
from __future__ import annotations

import math

import numpy as np

from preprocessing.melody.timestep import HOLD

_FLOOR = 1e-12


def pitch_mask(symbols: tuple[str, ...] | list[str]) -> np.ndarray:
    """Boolean ``[V]``: which symbols are pitches (MIDI numbers)."""
    return np.array([symbol.isdigit() for symbol in symbols])


class MetricTotals:
    """Accumulates the metrics over batches of ``(probs [N, V], targets [N])``."""

    def __init__(self, symbols: tuple[str, ...] | list[str]) -> None:
        self._is_pitch = pitch_mask(symbols)
        if not self._is_pitch.any():
            raise ValueError(f"vocabulary {list(symbols)} has no pitch symbols")
        self._hold_id = list(symbols).index(HOLD) if HOLD in symbols else -1
        self.steps = 0
        self.nll_nats = 0.0
        self.notes = 0
        self.pitch_bits = 0.0
        self.onsets = 0
        self.onsets_correct = 0

    def add(self, probs: np.ndarray, targets: np.ndarray) -> None:
        """Adds ``N`` scored steps: ``probs`` float ``[N, V]`` (rows sum to 1), ``targets`` int ``[N]``."""
        probs = np.asarray(probs, dtype=np.float64)
        targets = np.asarray(targets, dtype=np.int64)
        if probs.ndim != 2 or targets.shape != probs.shape[:1]:
            raise ValueError(f"expected probs [N, V] and targets [N], got {probs.shape} and {targets.shape}")
        rows = np.arange(len(targets))
        target_probs = probs[rows, targets]
        self.steps += len(targets)
        self.nll_nats += float(-np.log(np.maximum(target_probs, _FLOOR)).sum())

        notes = self._is_pitch[targets]
        pitch_totals = probs[notes][:, self._is_pitch].sum(axis=1)
        renormalised = target_probs[notes] / np.maximum(pitch_totals, _FLOOR)
        self.notes += int(notes.sum())
        self.pitch_bits += float(-np.log2(np.maximum(renormalised, _FLOOR)).sum())

        onsets = targets != self._hold_id
        self.onsets += int(onsets.sum())
        self.onsets_correct += int((probs[onsets].argmax(axis=1) == targets[onsets]).sum())

    def result(self) -> dict[str, float | int]:
        """The metrics (NaN where nothing was counted) and the counts behind them."""
        def ratio(total: float, count: int) -> float:
            return total / count if count else math.nan

        return {
            "nll_nats_per_step": ratio(self.nll_nats, self.steps),
            "pitch_bits_per_note": ratio(self.pitch_bits, self.notes),
            "onset_accuracy": ratio(self.onsets_correct, self.onsets),
            "steps": self.steps,
            "notes": self.notes,
            "onsets": self.onsets,
        }

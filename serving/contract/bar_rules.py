"""The decode-time rules of a timestep tune, in NumPy: which tokens may come next (a mask `[V]`).

``bar_rules_graph.py`` is its TensorFlow twin (used by the token exports' ``generate``); both must
stay identical, so that client-side sampling over ``step`` and server-side ``generate`` give the
same tune for the same seed. ``serving.generation.timestep_constraints`` builds the rules from a
request (key, meter, bars, range, ending). A row's rules, as ``generate`` takes them batched:

- ``allowed`` bool `[V]`: the pitch tokens that may be struck (the key's scale, the range);
- ``tonic`` bool `[V]`: the pitch tokens of the tonic's pitch class (any octave);
- ``bar`` / ``beat``: steps per bar and per beat; ``min_bars`` / ``max_bars``: where the end
  symbol may come (a bar line from ``min_bars`` on; forced at ``max_bars``);
- ``end_on_tonic``: the final note is a tonic sounding from the last beat, held to the bar line.

The end symbol also needs at least one new note, and no rest on the last bar's downbeat.
Positions count steps from the tune's first downbeat: a tune whose primer has a ``pickup`` (steps
it sounds before that downbeat, ``0..bar - 1``) starts at position ``-pickup`` (after the
primer's last end symbol), so its first bar line falls after the pickup; its last bar is full
(``max_bars`` full bars after the pickup).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from serving.contract import signatures as sig


@dataclasses.dataclass(frozen=True)
class BarRules:
    """One row's rules; ``end``, ``hold`` and ``rest`` are the indices of ``/``, ``_`` and ``r``."""

    allowed: np.ndarray
    tonic: np.ndarray
    end: int
    hold: int
    rest: int
    bar: int
    beat: int
    min_bars: int
    max_bars: int
    end_on_tonic: bool
    pickup: int = 0


@dataclasses.dataclass(frozen=True)
class RowState:
    """One tune's progress: the event ``sounding`` (its token, -1 for none yet) began at ``onset``;
    ``is_note`` is False for a rest; ``bar_starts_with_rest`` for the current bar."""

    position: int = 0
    sounding: int = -1
    is_note: bool = False
    onset: int = 0
    new_notes: int = 0
    bar_starts_with_rest: bool = False
    ended: bool = False


def tune_start(rules: BarRules) -> RowState:
    """The state before a tune's first step: ``-pickup`` steps before its first downbeat."""
    return RowState(position=-rules.pickup)


def allowed_tokens(rules: BarRules, state: RowState) -> np.ndarray:
    """bool `[V]`: the tokens that keep a valid completion possible after ``state``."""
    p, last = state.position, rules.max_bars * rules.bar
    mask = np.zeros(rules.allowed.shape, bool)
    if p >= last:
        mask[rules.end] = True
        return mask
    final_beat = last - rules.beat
    tonic_sounds = state.is_note and bool(rules.tonic[state.sounding])
    begun = p > -rules.pickup  # something sounds that a hold can continue
    if p > final_beat:
        mask[rules.hold] = True  # the final note is held to the bar line
        return mask
    if p == final_beat:
        mask |= rules.allowed & rules.tonic if rules.end_on_tonic else rules.allowed
        mask[rules.hold] = begun and state.new_notes > 0 and (tonic_sounds or not rules.end_on_tonic)
        return mask
    mask |= rules.allowed
    final_downbeat = p == last - rules.bar  # no rest there, struck or held
    mask[rules.hold] = begun and not (final_downbeat and not state.is_note)
    mask[rules.rest] = not final_downbeat
    mask[rules.end] = (p % rules.bar == 0 and p >= rules.min_bars * rules.bar and state.new_notes > 0
                       and not state.bar_starts_with_rest and p - state.onset >= rules.beat
                       and (tonic_sounds or not rules.end_on_tonic))
    return mask


def advance(rules: BarRules, state: RowState, token: int, sampled: bool = True) -> RowState:
    """The state after ``token`` (an index); an end symbol in a primer starts a new tune, a sampled
    one ends it; ``sampled`` counts a struck pitch as a new note."""
    if token == rules.end:
        return dataclasses.replace(state, ended=True) if sampled else tune_start(rules)
    p = state.position
    if token == rules.hold:
        sounding, is_note, onset, new_notes = state.sounding, state.is_note, state.onset, state.new_notes
    else:
        is_note = token != rules.rest
        sounding, onset, new_notes = token, p, state.new_notes + (sampled and is_note)
    starts_rest = (not is_note) if p % rules.bar == 0 else state.bar_starts_with_rest
    return RowState(p + 1, sounding, is_note, onset, new_notes, starts_rest)


def rule_inputs(rows: list[BarRules | None], vocab_size: int) -> dict[str, np.ndarray]:
    """`generate`'s rule inputs (``sig.RULE_INPUTS``) for ``rows`` (None: a row without rules)."""
    free = BarRules(np.ones(vocab_size, bool), np.zeros(vocab_size, bool), -1, -1, -1, 0, 0, 0, 0, False)
    filled = [row or free for row in rows]
    return {
        sig.STEPS_PER_BAR: np.array([row.bar for row in filled], np.int32),
        sig.BEAT_STEPS: np.array([row.beat for row in filled], np.int32),
        sig.MIN_BARS: np.array([row.min_bars for row in filled], np.int32),
        sig.MAX_BARS: np.array([row.max_bars for row in filled], np.int32),
        sig.ALLOWED: np.array([row.allowed for row in filled], bool).reshape(len(rows), vocab_size),
        sig.TONIC: np.array([row.tonic for row in filled], bool).reshape(len(rows), vocab_size),
        sig.END_ON_TONIC: np.array([row.end_on_tonic for row in filled], bool),
    }


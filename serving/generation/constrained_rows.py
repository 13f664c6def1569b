"""Each sampled row's constraint state during client-side sampling: a mask before every draw.

``sample_melodies`` asks its ``RowRules`` which tokens a row may draw next, tells it the token
drawn, and stops a row when the rules say its tune is complete. Two kinds:

- ``TimestepRows``: the bar rules of ``serving.contract.bar_rules`` (the same rules the served
  ``generate`` takes, so both sampling modes agree);
- ``AbcRows``: ``preprocessing.melody.abc_constraints.AbcConstraint``, the ABC state machine,
  character by character after the header the client wrote and the primer's body
  (``serving.generation.abc_start``; client-side only, by design).
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from preprocessing.melody.abc_constraints import AbcConstraint
from preprocessing.melody.abc_reader import State as AbcState
from serving.contract import bar_rules
from serving.generation.abc_start import AbcStart
from serving.generation.timestep_constraints import MIN_BARS, TimestepConstraints

_MACHINES_KEPT = 8  # machines (and their mask tables) kept per process
_STATES_KEPT = 1 << 18  # masks kept per state, per machine (then the table starts over)


class RowRules(Protocol):
    """What the sampling loop needs of a constraint, per row index."""

    def allowed(self, row: int) -> np.ndarray:
        """bool `[V]`: the tokens row ``row`` may draw next."""

    def advance(self, row: int, token: int) -> None:
        """Row ``row`` drew ``token`` (an index)."""

    def ended(self, row: int) -> bool:
        """Row ``row``'s tune is complete: draw nothing more."""


class TimestepRows:
    """Bar rules per row, from each row's constraints (one for every row, or one per row), its
    primer and the token budget ``steps``."""

    def __init__(self, constraints: TimestepConstraints | Sequence[TimestepConstraints],
                 primers: Sequence[Sequence[int]], steps: int) -> None:
        rows = [constraints] * len(primers) if isinstance(constraints, TimestepConstraints) else list(constraints)
        if len(rows) != len(primers):
            raise ValueError(f"{len(rows)} constraints for {len(primers)} primers")
        self.states = [row.start(primer) for row, primer in zip(rows, primers)]
        self.rules = [row.rules(*row.bar_limits(state.position, steps)) for row, state in zip(rows, self.states)]
        self._starts = list(self.states)

    def allowed(self, row: int) -> np.ndarray:
        return bar_rules.allowed_tokens(self.rules[row], self.states[row])

    def advance(self, row: int, token: int) -> None:
        self.states[row] = bar_rules.advance(self.rules[row], self.states[row], token)

    def ended(self, row: int) -> bool:
        return self.states[row].ended

    def position(self, row: int) -> int:
        """Row ``row``'s next step's place in its tune, counted from the first downbeat (negative in
        the pickup)."""
        return self.states[row].position

    def restart(self, row: int) -> None:
        """Row ``row`` starts a new tune from its primer."""
        self.states[row] = self._starts[row]


class AbcRows:
    """The ABC state machine per row; every row starts where the primer's body left it.

    Masks are NumPy arrays (read-only), kept per class of states (``AbcConstraint.mask_key``) and,
    in front of that, per state (about half the states a row meets, it met before: its key need
    not be computed), in tables shared by every ``AbcRows`` of the same machine and vocabulary; a
    drawn token is checked against the mask the row was given, so ``advance`` only steps the machine."""

    def __init__(self, machine: AbcConstraint, vocabulary: Sequence[str], rows: int, start: AbcState) -> None:
        self.machine = machine
        self.vocabulary = tuple(vocabulary)
        self.start = start
        self.states = [start] * rows
        self._masks, self._seen = _mask_tables(machine, self.vocabulary)
        self._given: list[np.ndarray | None] = [None] * rows

    def allowed(self, row: int) -> np.ndarray:
        state = self.states[row]
        mask = self._seen.get(state)
        if mask is None:
            key = self.machine.mask_key(state)
            mask = self._masks.get(key)
            if mask is None:
                mask = np.array(self.machine.allowed(state, self.vocabulary), bool)
                mask.flags.writeable = False
                self._masks[key] = mask
            if len(self._seen) >= _STATES_KEPT:
                self._seen.clear()
            self._seen[state] = mask
        self._given[row] = mask
        return mask

    def advance(self, row: int, token: int) -> None:
        """ValueError (``AbcConstraint.advance``) for a token the row's mask did not allow."""
        given, self._given[row] = self._given[row], None
        state, char = self.states[row], self.vocabulary[token]
        self.states[row] = self.machine.step(state, char) if given is not None and given[token] \
            else self.machine.advance(state, char)

    def ended(self, row: int) -> bool:
        return self.machine.is_complete(self.states[row])

    def restart(self, row: int) -> None:
        """Row ``row`` starts a new tune (where the primer's body left the machine)."""
        self.states[row], self._given[row] = self.start, None


@functools.lru_cache(maxsize=_MACHINES_KEPT)
def _mask_tables(machine: AbcConstraint,
                 vocabulary: tuple[str, ...]) -> tuple[dict[object, np.ndarray], dict[AbcState, np.ndarray]]:
    """The masks of one machine over one vocabulary by class of states, and by state (filled as
    rows meet them)."""
    return {}, {}


# Notes, lengths and bar lines: enough to complete any bar and close the tune (the machine assumes them).
TUNE_CHARACTERS = frozenset("ABCDEFGabcdefg23/|:]")
ABC_CHARACTERS_PER_BAR = 60  # a safety cap on characters per requested bar (the Irish tunes average about 20)


def abc_rows(start: AbcStart, vocabulary: Sequence[str], rows: int) -> AbcRows:
    """The ABC state machine for a tune's start, fed the primer's body; ValueError for what it
    cannot take or meet (naming the primer character that breaks the constraints)."""
    request = start.request
    if request.low is not None or request.high is not None:
        raise ValueError("--range applies to timestep models; the ABC state machine takes --key, --meter, "
                         "--bars, --end, --chromatic and --form")
    machine = _machine(str(request.meter), start.unit, request.key.name, request.bars, request.form,
                       request.end_on_tonic, MIN_BARS if request.bars is None else 1, request.chromatic)
    missing = sorted((set(start.header) | TUNE_CHARACTERS) - set(vocabulary))
    if missing:
        raise ValueError(f"the model's vocabulary lacks the characters {missing} that the header or the "
                         "state machine needs")
    state = machine.start()
    for position, char in enumerate(start.body):
        try:
            state = machine.advance(state, char)
        except ValueError as error:
            raise ValueError(f"the primer's body breaks the constraints at its character {position + 1}: {error} "
                             "(--chromatic allows accidentals; --free samples without constraints)") from None
    if machine.is_complete(state):
        raise ValueError("the primer is already a complete tune under the constraints: nothing is left to sample")
    return AbcRows(machine, vocabulary, rows, state)


@functools.lru_cache(maxsize=_MACHINES_KEPT)
def _machine(meter: str, unit: str, key: str, bars: int | None, form: str | None, end_on_tonic: bool,
             min_bars: int, chromatic: bool) -> AbcConstraint:
    """One machine per plan in this process, so later requests of the same shape find its caches warm."""
    return AbcConstraint.from_request(meter=meter, unit=unit, key=key, bars=bars, form=form,
                                      end_on_tonic=end_on_tonic, min_bars=min_bars, chromatic=chromatic)

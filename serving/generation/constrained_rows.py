"""Each sampled row's constraint state during client-side sampling: a mask before every draw.

``sample_melodies`` asks its ``RowRules`` which tokens a row may draw next, tells it the token
drawn, and stops a row when the rules say its tune is complete. Two kinds:

- ``TimestepRows``: the bar rules of ``serving.contract.bar_rules`` (the same rules the served
  ``generate`` takes, so both sampling modes agree);
- ``AbcRows``: ``preprocessing.melody.abc_constraints.AbcConstraint``, the ABC state machine,
  character by character after the header the client wrote (client-side only, by design).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from preprocessing.melody.abc_constraints import AbcConstraint
from serving.contract import bar_rules
from serving.generation.timestep_constraints import TimestepConstraints
from serving.generation.tune_request import TuneRequest


class RowRules(Protocol):
    """What the sampling loop needs of a constraint, per row index."""

    def allowed(self, row: int) -> np.ndarray:
        """bool `[V]`: the tokens row ``row`` may draw next."""

    def advance(self, row: int, token: int) -> None:
        """Row ``row`` drew ``token`` (an index)."""

    def ended(self, row: int) -> bool:
        """Row ``row``'s tune is complete: draw nothing more."""


class TimestepRows:
    """Bar rules per row, from each row's primer and the token budget ``steps``."""

    def __init__(self, constraints: TimestepConstraints, primers: Sequence[Sequence[int]], steps: int) -> None:
        self.states = [constraints.start(primer) for primer in primers]
        self.rules = [constraints.rules(*constraints.bar_limits(state.position, steps)) for state in self.states]

    def allowed(self, row: int) -> np.ndarray:
        return bar_rules.allowed_tokens(self.rules[row], self.states[row])

    def advance(self, row: int, token: int) -> None:
        self.states[row] = bar_rules.advance(self.rules[row], self.states[row], token)

    def ended(self, row: int) -> bool:
        return self.states[row].ended


class AbcRows:
    """The ABC state machine per row; every row starts at the first body character."""

    def __init__(self, machine: AbcConstraint, vocabulary: Sequence[str], rows: int) -> None:
        self.machine = machine
        self.vocabulary = tuple(vocabulary)
        self.states = [machine.start()] * rows

    def allowed(self, row: int) -> np.ndarray:
        return np.array(self.machine.allowed(self.states[row], self.vocabulary), bool)

    def advance(self, row: int, token: int) -> None:
        self.states[row] = self.machine.advance(self.states[row], self.vocabulary[token])

    def ended(self, row: int) -> bool:
        return self.machine.is_complete(self.states[row])


ABC_UNIT = "1/8"
# Notes, lengths and bar lines: enough to complete any bar and close the tune (the machine assumes them).
TUNE_CHARACTERS = frozenset("ABCDEFGabcdefg23/|:]")
ABC_CHARACTERS_PER_BAR = 60  # a safety cap on characters per requested bar (the Irish tunes average about 20)


def abc_header(request: TuneRequest) -> str:
    """The header the client writes for an ABC request, in the corpus's field order (X, L, M, K)."""
    return f"X:1\nL:{ABC_UNIT}\nM:{request.meter}\nK:{request.key.name}\n"


def abc_rows(request: TuneRequest, vocabulary: Sequence[str], rows: int) -> AbcRows:
    """The ABC state machine for ``request``; ValueError for what it cannot take or meet."""
    if request.low is not None or request.high is not None or request.chromatic:
        raise ValueError("--range and --chromatic apply to timestep models; the ABC state machine takes "
                         "--key, --meter, --bars, --end and --form")
    machine = AbcConstraint.from_request(meter=str(request.meter), unit=ABC_UNIT, key=request.key.name,
                                         bars=request.bars, form=request.form, end_on_tonic=request.end_on_tonic)
    missing = sorted((set(abc_header(request)) | TUNE_CHARACTERS) - set(vocabulary))
    if missing:
        raise ValueError(f"the model's vocabulary lacks the characters {missing} that the header or the "
                         "state machine needs")
    return AbcRows(machine, vocabulary, rows)

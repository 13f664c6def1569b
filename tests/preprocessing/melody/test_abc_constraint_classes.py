"""The machine's cached masks, per class of states, against masks computed with no classes at all.

``Unfolded`` asks the same rules but remembers viability per whole state (only the bar number is
folded, by distance to the strain's last bar, which keeps the search short): every fold of
``AbcConstraint`` (open notes, pitches, pickups in far bars) must leave every mask as it was.
"""
from __future__ import annotations

import random

import pytest

from preprocessing.melody.abc_constraints import AbcConstraint
from preprocessing.melody.abc_reader import State
from tests.preprocessing.melody.test_abc_constraint_walks import NOTE_CHARS, REQUESTS, VOCABULARY

# The bench's requests (chromatic off, as the CLI's default), and a short 3/8 one, where a pickup
# leaves the last bar one unit: a tie into it can then not end on the tonic.
CLASS_REQUESTS = REQUESTS + [
    dict(meter="4/4", unit="1/8", key="C", bars=16, form=None, end_on_tonic=True, chromatic=False),
    dict(meter="6/8", unit="1/8", key="D", bars=16, form=None, end_on_tonic=True, chromatic=False),
    dict(meter="3/8", unit="1/8", key="G", bars=6, form=None, end_on_tonic=True),
    dict(meter="2/4", unit="1/8", key="Am", bars=None, form="AABB", end_on_tonic=True, chromatic=False),
]
WALKS = range(6)


class Unfolded(AbcConstraint):
    """Masks with viability remembered per state, not per class of states."""

    def __init__(self, plan) -> None:
        super().__init__(plan)
        self._exact: dict[State, bool] = {}

    def _viable(self, s: State) -> bool:
        count = self.plan.strains[s.bars.strain].bars
        bar = min(s.bars.bar, self.plan.min_bars) if count is None else count - min(count - s.bars.bar, 3)
        key = s._replace(bars=s.bars._replace(bar=bar))
        if key not in self._exact:
            self._exact[key] = self._viable_uncached(s)
        return self._exact[key]

    def allowed(self, state: State, vocabulary) -> list[bool]:
        return [len(char) == 1 and (after := self.step(state, char)) is not None and self._viable(after)
                for char in vocabulary]


def _walk(machine: AbcConstraint, reference: Unfolded, seed: int) -> int:
    """One random walk (note letters and pickups favoured); asserts the masks agree at every step;
    returns the characters written."""
    rng = random.Random(seed)
    state, written = machine.start(), 0
    while not machine.is_complete(state):
        mask = machine.allowed(state, VOCABULARY)
        assert mask == reference.allowed(state, VOCABULARY), (seed, written, state)
        choices = [char for char, ok in zip(VOCABULARY, mask) if ok]
        notes = [char for char in choices if char in NOTE_CHARS]
        bar = [char for char in choices if char == "|"]
        early = state.bars.pickup is None and state.pos > 0
        char = rng.choice(bar if bar and early and rng.random() < 0.5 else
                          notes if notes and rng.random() < 0.5 else choices)
        state = machine.advance(state, char)
        written += 1
    return written


@pytest.mark.parametrize("request_", CLASS_REQUESTS,
                         ids=lambda r: f"{r['meter']}-{r['key']}-{r['form'] or r['bars']}")
def test_cached_masks_equal_masks_computed_per_state(request_: dict) -> None:
    machine = AbcConstraint.from_request(**request_)
    reference = Unfolded(machine.plan)
    assert sum(_walk(machine, reference, seed) for seed in WALKS) > 0


def test_pickups_of_every_length_share_a_far_bar_class() -> None:
    """In a bar far from the end, the pickup changes no mask (by the unfolded rules), so the
    machine keeps one class for every pickup."""
    machine = AbcConstraint.from_request(meter="6/8", key="D", bars=16, end_on_tonic=True)
    reference = Unfolded(machine.plan)
    masks, keys = [], set()
    for pickup in ("A", "A2", "A3", "A4"):
        state = machine.start()
        for char in pickup + "|" + "DEF GAB|" * 3 + "D":
            state = machine.advance(state, char)
        masks.append(reference.allowed(state, VOCABULARY))
        keys.add(machine.mask_key(state))
    assert all(mask == masks[0] for mask in masks) and len(keys) == 1

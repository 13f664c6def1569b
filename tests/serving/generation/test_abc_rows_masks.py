"""``AbcRows``' mask tables (per class of states and per state, shared by rows and by every
``AbcRows`` of one machine) against masks computed per whole state with no cache."""
from __future__ import annotations

import random

import numpy as np
import pytest

from preprocessing.melody.keys import parse_key, parse_meter
from serving.generation.abc_start import abc_start
from serving.generation.constrained_rows import abc_rows
from serving.generation.tune_request import TuneRequest
from tests.preprocessing.melody.test_abc_constraint_classes import Unfolded
from tests.preprocessing.melody.test_abc_constraint_walks import NOTE_CHARS, VOCABULARY


@pytest.mark.parametrize("meter, key, form", [("6/8", "D", None), ("4/4", "G", "AABB")])
def test_row_masks_equal_masks_computed_per_state(meter: str, key: str, form: str | None) -> None:
    request = TuneRequest(meter=parse_meter(meter), key=parse_key(key), bars=None if form else 8, form=form)
    start = abc_start(request, "X:1\n")
    rows = abc_rows(start, VOCABULARY, 2)
    reference = Unfolded(rows.machine.plan)
    rng = random.Random(7)
    for _ in range(3):  # tunes in turn in two rows, restarted: later tunes meet masks the first ones made
        for row in (0, 1):
            rows.restart(row)
        while not all(rows.ended(row) for row in (0, 1)):
            for row in (0, 1):
                if rows.ended(row):
                    continue
                mask = rows.allowed(row)
                assert not mask.flags.writeable
                np.testing.assert_array_equal(mask, reference.allowed(rows.states[row], VOCABULARY))
                choices = np.flatnonzero(mask)
                notes = [index for index in choices if VOCABULARY[index] in NOTE_CHARS]
                rows.advance(row, int(rng.choice(notes if notes and rng.random() < 0.5 else choices)))


def test_a_token_the_mask_refused_is_named() -> None:
    start = abc_start(TuneRequest(bars=4), "X:1\n")
    rows = abc_rows(start, VOCABULARY, 1)
    refused = int(np.flatnonzero(~rows.allowed(0))[0])
    with pytest.raises(ValueError, match="is not allowed"):
        rows.advance(0, refused)

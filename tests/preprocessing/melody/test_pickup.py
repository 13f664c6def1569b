"""A tune's pickup: how long it sounds before its first downbeat, from its first bar and meter."""
from __future__ import annotations

import pytest

from preprocessing import schema
from preprocessing.melody.keys import pickup_quarters
from preprocessing.melody.music21_reader import abc_melody, score_melody
from preprocessing.records import RawTune
from preprocessing.tunes import process_tune


@pytest.mark.parametrize(("first_bar", "meter", "expected"), [
    (0.5, "2/4", 0.5),  # one eighth before the bar line
    (2.0, "2/4", 0.0),  # a full bar
    (1.0, "3/4", 1.0),
    (1.5, "6/8", 1.5),
    (5.0, "4/4", 1.0),  # a first line without bar lines: what is left over whole bars
    (8.0, "4/4", 0.0),
    (0.75, "", 0.0),  # no meter: no bar to measure against
    (0.75, "free", 0.0),
    (0.0, "3/4", 0.0),
])
def test_pickup_is_the_first_bar_short_of_a_whole_bar(first_bar: float, meter: str, expected: float) -> None:
    assert pickup_quarters(first_bar, meter) == pytest.approx(expected)


TUNES = {  # ABC, pickup in quarters
    "X:1\nT:Pickup of one eighth\nM:2/4\nL:1/8\nK:D\nE | A2AB | =c2BA | G3 z|]\n": 0.5,
    "X:2\nT:Full first bar\nM:2/4\nL:1/16\nK:G\nc6cc | c6c2 | G8|]\n": 0.0,
    "X:3\nT:Quarter pickup\nM:3/4\nL:1/4\nK:C\nG | c2 e | g3-|g2|]\n": 1.0,
    "X:4\nT:Leading bar line\nM:6/8\nL:1/8\nK:G\n|AB|c3 d3|e6|]\n": 1.0,
    "X:5\nT:Grace notes do not count\nM:4/4\nL:1/8\nK:C\n{d}c2 | e2 g2 c'4 | c'8|]\n": 1.0,
}


@pytest.mark.parametrize("text", sorted(TUNES))
def test_abc_reader_keeps_the_pickup_as_music21s_score_does(text: str) -> None:
    import music21  # pylint: disable=import-outside-toplevel

    melody = abc_melody(text, "test#0")
    assert melody.pickup == pytest.approx(TUNES[text])
    assert score_melody(music21.converter.parse(text, format="abc"), "test#0").pickup == pytest.approx(TUNES[text])


def test_a_kept_tune_carries_its_pickup_in_16th_steps() -> None:
    text = "X:1\nT:Pickup\nM:3/4\nL:1/8\nK:G\nDE | G2 B2 d2 | g6|]\n"
    result = process_tune(RawTune("unit", "unit.abc", 0, "abc", text.encode()))
    assert result.example[schema.FEATURE_PICKUP] == 4  # a quarter: four 16ths
    assert result.example[schema.FEATURE_METER] == "3/4" and result.example[schema.FEATURE_MODE] == "major"
    # the timestep text itself is unchanged: 2 + 2 eighths, then a bar and a dotted half
    assert len(result.example[schema.FEATURE_TIMESTEP]) == 4 + 12 + 12

"""Primers: a named primer written as ABC text for a character model, and encoded per vocabulary."""
from __future__ import annotations

import logging

import pytest
from music21 import converter

from preprocessing.melody.keys import parse_key, parse_meter
from serving.generation import primers


def test_character_primers_are_abc_text():
    characters = sorted(set("X:1\nL/8M4K:CDEFGABcdefgabz|,'^_=- 2356"))
    text = "".join(primers.abc_primer(primers.PrimerSource(name="twinkle")))
    assert text.startswith("X:1\nL:1/8\nM:4/4\nK:C\n")
    score = converter.parse(text, format="abc")
    assert [n.pitch.midi for n in score.flatten().notes][:7] == [60, 60, 67, 67, 69, 69, 67]
    assert primers.encode(list("CDE"), characters) == [characters.index(c) for c in "CDE"]


def test_timestep_primers_start_a_song_in_sixteenths():
    named = primers.timestep_primer(primers.PrimerSource(name="twinkle"))
    assert named.symbols[:6] == ["/", "60", "_", "_", "_", "60"] and named.key is None and named.meter is None
    assert primers.timestep_primer(primers.PrimerSource(symbols="64 _ 62")).symbols == ["64", "_", "62"]


def test_an_abc_primer_keeps_its_key_and_meter_and_is_moved_to_c():
    stated = primers.timestep_primer(primers.PrimerSource(abc="X:1\nM:3/4\nL:1/4\nK:G\nG A B|d2 B|"))
    assert (stated.key, stated.meter) == (parse_key("G"), parse_meter("3/4"))
    assert stated.symbols[:6] == ["/", "72", "_", "_", "_", "74"]  # G4 -> C5, the smallest move (up a fourth)


def test_a_triplet_is_refused_with_its_bar_unless_quantised(caplog):
    text = "X:1\nM:2/4\nL:1/8\nK:C\nC2 D2|(3EFG A2|"
    with pytest.raises(ValueError, match=r"note 3 \(bar 2\) lasts 0.333333 quarters.*--quantise"):
        primers.timestep_primer(primers.PrimerSource(abc=text))
    with caplog.at_level(logging.WARNING):
        rounded = primers.timestep_primer(primers.PrimerSource(abc=text, quantise=True))
    assert "rounded 3 primer notes" in caplog.text and "bar 2" in caplog.text
    assert rounded.symbols[9:12] == ["64", "65", "67"]  # each a 16th


TWO_TUNES = "X:1\nT:First\nK:D\nDEF|\n\nX:7\nT:Second\nK:G\nGAB|\n"


def test_an_abc_text_with_two_tunes_needs_one_picked():
    with pytest.raises(ValueError, match=r"holds 2 tunes: X:1 'First', X:7 'Second'; pick one with --tune"):
        primers.timestep_primer(primers.PrimerSource(abc=TWO_TUNES))
    with pytest.raises(ValueError, match=r"has no tune X:3: X:1 'First', X:7 'Second'"):
        primers.timestep_primer(primers.PrimerSource(abc=TWO_TUNES, tune="3"))
    assert primers.timestep_primer(primers.PrimerSource(abc=TWO_TUNES, tune="7")).key == parse_key("G")
    assert primers.abc_primer(primers.PrimerSource(abc=TWO_TUNES, tune="1")).startswith("X:1\nT:First\nK:D")

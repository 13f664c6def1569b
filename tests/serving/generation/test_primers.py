"""Primers: a named primer written as ABC text for a character model, and encoded per vocabulary."""
from __future__ import annotations

from music21 import converter

from serving.generation import primers


def test_character_primers_are_abc_text():
    characters = sorted(set("X:1\nL/8M4K:CDEFGABcdefgabz|,'^_=- 2356"))
    text = "".join(primers.abc_primer(primers.PrimerSource(name="twinkle")))
    assert text.startswith("X:1\nL:1/8\nM:4/4\nK:C\n")
    score = converter.parse(text, format="abc")
    assert [n.pitch.midi for n in score.flatten().notes][:7] == [60, 60, 67, 67, 69, 69, 67]
    assert primers.encode(list("CDE"), characters) == [characters.index(c) for c in "CDE"]


def test_timestep_primers_start_a_song_in_sixteenths():
    symbols = primers.timestep_primer(primers.PrimerSource(name="twinkle"))
    assert symbols[:6] == ["/", "60", "_", "_", "_", "60"]
    assert primers.timestep_primer(primers.PrimerSource(symbols="64 _ 62")) == ["64", "_", "62"]

"""Where a constrained ABC tune starts: the primer's header fields against the flags, then its body."""
from __future__ import annotations

import pytest
from music21 import converter

from preprocessing.melody.keys import parse_key, parse_meter
from serving.generation import primers
from serving.generation.abc_start import abc_start
from serving.generation.constrained_rows import abc_rows
from serving.generation.tune_request import TuneRequest

VOCABULARY = sorted(set("X:1\nLMK/8462CDEFGABcdefgabz|:]^_=[ ,'(3>-"))


def test_a_header_primer_sets_the_key_meter_and_unit_and_is_rewritten_in_corpus_order() -> None:
    start = abc_start(TuneRequest(bars=8), "X:5\nT:A title\nM:6/8\nK:Ador\nL:1/16\n")
    assert start.request.key == parse_key("Ador") and start.request.meter == parse_meter("6/8")
    assert start.header == "X:5\nL:1/8\nM:6/8\nK:Ador\n"  # T: dropped; L: after K: is body, not header
    assert start.body == "L:1/16"


def test_fields_the_primer_lacks_come_from_the_request() -> None:
    start = abc_start(TuneRequest(key=parse_key("G"), meter=parse_meter("3/4")), "X:1\n")
    assert start.text == "X:1\nL:1/8\nM:3/4\nK:G\n" and start.unit == "1/8"


@pytest.mark.parametrize("primer, key, meter, message", [
    ("X:1\nM:6/8\nK:D\n", parse_key("G"), None, "the primer states K:D but --key is G"),
    ("X:1\nM:6/8\nK:D\n", None, parse_meter("3/4"), "the primer states M:6/8 but --meter is 3/4"),
    ("X:1\nDEF|\nK:D\n", None, None, "line 2"),
    ("X:1\nK:H\n", None, None, "unknown key 'H'"),
])
def test_a_primer_that_disagrees_with_the_flags_is_refused(primer, key, meter, message) -> None:
    with pytest.raises(ValueError, match=message):
        abc_start(TuneRequest(key=key, meter=meter), primer)


def test_the_primer_body_counts_towards_the_bars() -> None:
    start = abc_start(TuneRequest(bars=2, end_on_tonic=True), "X:1\nL:1/8\nM:4/4\nK:D\nDEFG ABcd|")
    rows = abc_rows(start, VOCABULARY, 1)
    assert not rows.ended(0)
    for char in "defg fed":  # the second and last bar must end on the tonic, D
        assert rows.allowed(0)[VOCABULARY.index(char)], char
        rows.advance(0, VOCABULARY.index(char))
    allowed = {VOCABULARY[i] for i, ok in enumerate(rows.allowed(0)) if ok}
    assert "|" not in allowed and {"d", "D"} <= allowed  # one unit left in the last bar
    for char in "d|]":
        rows.advance(0, VOCABULARY.index(char))
    assert rows.ended(0)


def test_a_primer_body_the_constraints_cannot_continue_names_its_character() -> None:
    start = abc_start(TuneRequest(), "X:1\nL:1/8\nM:4/4\nK:D\nDE^F")
    with pytest.raises(ValueError, match="character 3.*'\\^' is not allowed.*--chromatic"):
        abc_rows(start, VOCABULARY, 1)
    abc_rows(abc_start(TuneRequest(chromatic=True), "X:1\nL:1/8\nM:4/4\nK:D\nDE^F"), VOCABULARY, 1)


def test_a_complete_tune_as_primer_is_continued() -> None:
    start = abc_start(TuneRequest(bars=3), "X:1\nL:1/8\nM:4/4\nK:D\nDEFG ABcd|dcBA GFED|]\n")
    assert start.body == "DEFG ABcd|dcBA GFED|"
    rows = abc_rows(start, VOCABULARY, 1)
    assert not rows.ended(0) and rows.allowed(0)[VOCABULARY.index("D")]  # bar 3 still to write


@pytest.mark.parametrize("meter, ending", [("4/4", "C4 |"), ("6/8", "D2")])
def test_a_named_primer_is_written_in_the_key_and_meter_and_left_open(meter, ending) -> None:
    key = parse_key("C" if meter == "4/4" else "D")
    text = primers.abc_primer(primers.PrimerSource(name="twinkle"), key, parse_meter(meter))
    assert text.endswith(ending) and "| |" not in text  # a full last bar closes once; a short one stays open
    notes = converter.parse(text + ("" if meter == "4/4" else "2 |"), format="abc").flatten().notes
    assert notes[0].pitch.midi == (60 if meter == "4/4" else 62)

"""Keys, modes and meters: parsing, transposition to C major / A minor, the -6..+5 fold, music21 spelling."""
from __future__ import annotations

import re
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from preprocessing.melody import keys
from preprocessing.melody.events import Event
from preprocessing.melody.keys import parse_key, parse_meter


@given(st.lists(st.builds(Event, st.one_of(st.none(), st.integers(20, 100)), st.just(1.0)), max_size=30),
       st.integers(-6, 5))
def test_transpose_there_and_back(tune: list[Event], semitones: int) -> None:
    moved = keys.transpose_events(tune, semitones)
    assert [event.pitch is None for event in moved] == [event.pitch is None for event in tune]
    assert keys.transpose_events(moved, -semitones) == tune


@pytest.mark.parametrize(
    ("tonic", "mode", "semitones"),
    [
        ("C", "major", 0), ("D", "major", -2), ("E", "minor", 5), ("A", "minor", 0), ("G", "major", 5),
        ("F#", "major", -6), ("Bb", "major", 2), ("b-", "major", 2), ("e-", "minor", 6 - 12),
        ("E", "dorian", -2), ("A", "mixolydian", -2), ("D", "Dor", 0), ("C#", "min", -4),
    ],
)
def test_transposition_semitones(tonic: str, mode: str, semitones: int) -> None:
    assert keys.transposition_semitones(tonic, mode) == semitones
    assert -6 <= semitones <= 5


def test_transposition_rejects_unknown_tonic_and_mode() -> None:
    with pytest.raises(ValueError, match="'H'"):
        keys.transposition_semitones("H", "major")
    with pytest.raises(ValueError, match="'bluesy'"):
        keys.transposition_semitones("C", "bluesy")


def test_mode_family() -> None:
    assert [keys.mode_family(mode) for mode in ("major", "minor", "dorian", "mixolydian", "m")] == [
        "major", "minor", "minor", "major", "minor"]


@pytest.mark.parametrize("text, fifths", [("D", 2), ("Em", 1), ("Bb", -2), ("F#m", 3), ("D dorian", 0),
                                          ("ebm", -6), ("C#", 7)])
def test_keys_parse(text, fifths):
    assert parse_key(text).fifths == fifths


@pytest.mark.parametrize("bad", ["H", "G#", "Cx", "Dfoo", ""])
def test_bad_key_is_named(bad):
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        parse_key(bad)


@pytest.mark.parametrize("bad", ["3/5", "0/4", "3-4", "waltz", "64/4"])
def test_bad_meter_is_named(bad):
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        parse_meter(bad)


def test_meter_bar_length():
    assert parse_meter("6/8").bar_quarters == Fraction(3) and parse_meter("C|").bar_quarters == Fraction(4)


@pytest.mark.parametrize(("semitones", "folded"), [(0, 0), (5, 5), (6, -6), (7, -5), (-7, 5), (-6, -6), (14, 2)])
def test_fold_semitones_is_the_smallest_move(semitones: int, folded: int) -> None:
    assert keys.fold_semitones(semitones) == folded


def test_key_moves_from_c_by_its_signature() -> None:
    assert [parse_key(name).semitones_from_c() for name in ("C", "G", "D", "F#", "Bb", "Em", "Ddor")] == [
        0, -5, 2, -6, -2, -5, 0]


def test_music21_flat_spelling_both_ways() -> None:
    assert [keys.tonic_name(name) for name in ("B-", "E--", "F#", "C")] == ["Bb", "Ebb", "F#", "C"]
    assert [keys.music21_tonic(name) for name in ("Bb", "Eb", "F#", "B")] == ["B-", "E-", "F#", "B"]

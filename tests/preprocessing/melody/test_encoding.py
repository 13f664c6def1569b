"""Pure-Python encodings: round trips (hypothesis), transposition, duration filter, ABC normalisation."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from preprocessing.melody import abc_text, keys, timestep, vae_codes
from preprocessing.melody.events import ACCEPTABLE_DURATIONS, EncodingError, Event
from preprocessing.melody.timestep import DELIMITER, HOLD, REST
from preprocessing.melody.vae_codes import NOTE_MAX, NOTE_MIN, NOTE_REST

pitches = st.one_of(st.none(), st.integers(min_value=0, max_value=127))
events = st.lists(st.builds(Event, pitches, st.sampled_from(ACCEPTABLE_DURATIONS)), max_size=40)
vae_events = st.lists(
    st.builds(Event, st.one_of(st.none(), st.integers(NOTE_MIN, NOTE_MAX)), st.sampled_from(ACCEPTABLE_DURATIONS)),
    max_size=40,
)
songs = st.lists(st.sampled_from(["60", "62", REST, HOLD, "71"]), max_size=10)


@given(events)
def test_timestep_round_trip(tune: list[Event]) -> None:
    symbols = timestep.encode_timestep(tune)
    assert len(symbols) == round(sum(event.quarters for event in tune) / timestep.STEP_QUARTERS)
    assert timestep.decode_timestep(symbols) == tune


@given(vae_events)
def test_vae_round_trip(tune: list[Event]) -> None:
    notes, rhythms = vae_codes.encode_notes(tune), vae_codes.encode_rhythms(tune)
    assert all(NOTE_MIN <= note <= NOTE_MAX or note == NOTE_REST for note in notes)
    assert all(0 <= code < len(ACCEPTABLE_DURATIONS) for code in rhythms)
    assert vae_codes.decode_vae(notes, rhythms) == tune


@given(st.lists(songs, max_size=6))
def test_join_split_round_trip(song_list: list[list[str]]) -> None:
    joined = timestep.join_songs(song_list)
    assert joined.count(DELIMITER) == len(song_list)
    assert timestep.split_songs(joined) == song_list


@given(st.lists(st.builds(Event, st.one_of(st.none(), st.integers(20, 100)), st.just(1.0)), max_size=30),
       st.integers(-6, 5))
def test_transpose_there_and_back(tune: list[Event], semitones: int) -> None:
    moved = keys.transpose_events(tune, semitones)
    assert [event.pitch is None for event in moved] == [event.pitch is None for event in tune]
    assert keys.transpose_events(moved, -semitones) == tune


def test_timestep_symbols_of_a_small_tune() -> None:
    tune = [Event(60, 1.0), Event(None, 0.5), Event(62, 0.25)]
    assert timestep.encode_timestep(tune) == ["60", HOLD, HOLD, HOLD, REST, HOLD, "62"]


def test_unacceptable_duration_names_value_and_position() -> None:
    tune = [Event(60, 1.0)] * 12 + [Event(62, 1.25)]
    with pytest.raises(EncodingError, match=r"duration 1\.25 quarter notes at event 12") as caught:
        timestep.encode_timestep(tune)
    assert caught.value.reason == "unacceptable_duration"
    with pytest.raises(EncodingError, match="1.25"):
        vae_codes.encode_rhythms(tune)


def test_decode_timestep_names_unknown_symbol_and_orphan_hold() -> None:
    with pytest.raises(EncodingError, match="'C4' at position 1"):
        timestep.decode_timestep(["60", "C4"])
    with pytest.raises(EncodingError, match="position 0") as caught:
        timestep.decode_timestep([HOLD, "60"])
    assert caught.value.reason == "orphan_hold"


def test_pitch_out_of_vae_range_is_named() -> None:
    with pytest.raises(EncodingError, match="pitch 48 at event 1 is outside 50..97") as caught:
        vae_codes.encode_notes([Event(60, 1.0), Event(48, 1.0)])
    assert caught.value.reason == "pitch_out_of_range"


def test_decode_vae_rejects_mismatched_or_unknown_codes() -> None:
    with pytest.raises(EncodingError, match="2 note codes but 1 rhythm codes"):
        vae_codes.decode_vae([60, 62], [3])
    with pytest.raises(EncodingError, match="note code 98"):
        vae_codes.decode_vae([98], [3])
    with pytest.raises(EncodingError, match="rhythm code 8"):
        vae_codes.decode_vae([60], [8])


def test_vocabulary_order_structural_symbols_then_pitches_numerically() -> None:
    order = timestep.timestep_vocabulary_order(["72", HOLD, "9", "60", REST, "72", "100"])
    assert order == [DELIMITER, HOLD, REST, "9", "60", "72", "100"]


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


def test_normalise_abc_keeps_x_l_m_k_and_body_only() -> None:
    text = (
        "X: 17\nT:The Title\nC:Trad.\n% a comment\nM: 6/8\nR:jig\nZ:someone\nK: G  \n"
        "GAG   BAG | d2 B c2 A |   % trailing comment\n\nw: some lyrics\nP:B\nM:9/8\n"
        "GAG BAG d3 |]   \n"
    )
    assert abc_text.normalise_abc(text) == (
        "X:1\nL:1/8\nM:6/8\nK:G\nGAG BAG | d2 B c2 A |\nM:9/8\nGAG BAG d3 |]\n"
    )


def test_normalise_abc_tune_fields_override_inherited_file_header() -> None:
    text = "X:3\nL:1/4\nM:3/4\nT:t\nL:1/8\nK:Am\nA2 B2 c2 |]\n"
    assert abc_text.normalise_abc(text) == "X:1\nL:1/8\nM:3/4\nK:Am\nA2 B2 c2 |]\n"
    assert abc_text.normalise_abc(text) == abc_text.normalise_abc(text + "\n\n")


def test_normalise_abc_keeps_music_lines_that_start_like_a_field() -> None:
    text = "X:1\nM:2/4\nK:D\nA2 d2|\nA:|B2 c2|]\n"
    assert abc_text.normalise_abc(text) == "X:1\nL:1/16\nM:2/4\nK:D\nA2 d2|\nA:|B2 c2|]\n"


def test_normalise_abc_without_music_is_an_error() -> None:
    with pytest.raises(EncodingError, match="no music lines") as caught:
        abc_text.normalise_abc("X:1\nT:Only a title\nK:D\n")
    assert caught.value.reason == "empty_body"

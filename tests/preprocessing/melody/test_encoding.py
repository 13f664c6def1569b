"""Timestep and VAE encodings: round trips (hypothesis), the duration filter, bad symbols and codes."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from preprocessing.melody import timestep, vae_codes
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

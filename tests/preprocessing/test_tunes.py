"""process_tune with real music21: transposition, duration filter, chords, ties, formats, bad input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preprocessing import corpora, schema
from preprocessing.melody.events import ACCEPTABLE_DURATIONS
from preprocessing.melody.timestep import decode_timestep
from preprocessing.melody.vae_codes import NOTE_MAX, NOTE_MIN, NOTE_REST, decode_vae
from preprocessing.records import RawTune
from preprocessing.tunes import process_tune

TINY_CORPUS = Path(__file__).resolve().parents[1] / "testdata" / "tiny_corpus"
WHITE_KEYS = {0, 2, 4, 5, 7, 9, 11}


def abc_tune(text: str, index: int = 0) -> RawTune:
    return RawTune("test", "tunes.abc", index, "abc", text.encode("utf-8"))


@pytest.fixture(scope="module")
def tiny_results() -> dict[str, object]:
    raws = [item for source in corpora.list_sources(f"dir:{TINY_CORPUS}") for item in corpora.read_source(source)]
    return {raw.tune_id: process_tune(raw) for raw in raws}


def test_every_tiny_corpus_tune_is_kept_with_all_features(tiny_results) -> None:
    assert len(tiny_results) == 12
    for tune_id, result in tiny_results.items():
        assert result.dead_letters == (), tune_id
        example = result.example
        assert example[schema.FEATURE_ID] == tune_id
        assert example[schema.FEATURE_TIMESTEP] and example[schema.FEATURE_ABC].startswith("X:1\nL:")
        assert len(example[schema.FEATURE_NOTES]) == len(example[schema.FEATURE_RHYTHMS]) > 0
        assert decode_vae(example[schema.FEATURE_NOTES], example[schema.FEATURE_RHYTHMS]) == (
            decode_timestep(example[schema.FEATURE_TIMESTEP]))
        assert all(NOTE_MIN <= note <= NOTE_MAX or note == NOTE_REST
                   for note in example[schema.FEATURE_NOTES])


def test_d_major_tune_lands_in_c_major(tiny_results) -> None:
    example = tiny_results["tiny_corpus/german_songs.abc#2"].example  # Wanderweg, K:D, M:2/4
    assert (example["title"], example["key"], example["mode"], example["meter"]) == ("Wanderweg", "D", "major", "2/4")
    assert example["transpose"] == -2
    assert example["timestep"][:4] == ["60", "_", "64", "_"]  # D4 F#4 -> C4 E4, eighth notes
    assert {note % 12 for note in example["notes"] if note != NOTE_REST} <= WHITE_KEYS


def test_e_minor_tune_lands_in_a_minor(tiny_results) -> None:
    example = tiny_results["tiny_corpus/german_songs.abc#5"].example  # Winterlied, K:Em, M:3/4
    assert (example["key"], example["mode"], example["meter"], example["transpose"]) == ("E", "minor", "3/4", 5)
    assert example["notes"][:3] == [69, 72, 76]  # E4 G4 B4 -> A4 C5 E5
    assert example["notes"][-1] == 69 and example["rhythms"][-1] == 6  # ends on A, dotted half
    assert {note % 12 for note in example["notes"]} <= WHITE_KEYS


def test_flat_and_modal_keys(tiny_results) -> None:
    hornpipe = tiny_results["tiny_corpus/irish_tunes.abc#5"].example  # K:Bb
    assert (hornpipe["key"], hornpipe["transpose"], hornpipe["notes"][0]) == ("Bb", 2, 72)
    air = tiny_results["tiny_corpus/irish_tunes.abc#2"].example  # K:Edor: D major's signature
    assert (air["key"], air["mode"], air["transpose"]) == ("E", "minor", -2)
    assert {note % 12 for note in air["notes"]} <= WHITE_KEYS


def test_five_sixteenths_note_is_a_timestep_dead_letter_naming_it() -> None:
    result = process_tune(abc_tune("X:1\nT:Odd\nM:4/4\nL:1/16\nK:Em\nE4 G4 B4 e4|B5 A3 G8|]\n"))
    assert result.example is not None and result.example["timestep"] == [] and result.example["notes"] == []
    assert result.example["abc"] == "X:1\nL:1/16\nM:4/4\nK:Em\nE4 G4 B4 e4|B5 A3 G8|]\n"
    by_encoding = {letter.encoding: letter for letter in result.dead_letters}
    assert set(by_encoding) == {"timestep", "vae"}
    timestep = by_encoding["timestep"]
    assert (timestep.reason, timestep.title, timestep.tune_id) == ("unacceptable_duration", "Odd", "test/tunes.abc#0")
    assert "duration 1.25 quarter notes at event 4" in timestep.detail
    assert timestep.excerpt.startswith("X:1 T:Odd") and len(timestep.excerpt) <= 80


def test_ties_are_merged_and_grace_notes_dropped() -> None:
    result = process_tune(abc_tune("X:1\nT:Tied\nM:4/4\nL:1/8\nK:C\n{g}c2 e2- e2 g2|g4- g2 z2|]\n"))
    notes, rhythms = result.example["notes"], result.example["rhythms"]
    assert notes == [72, 76, 79, 79, 99]
    assert [ACCEPTABLE_DURATIONS[code] for code in rhythms] == [1, 2, 1, 3, 1]


def test_pitch_outside_vae_range_skips_only_vae() -> None:
    result = process_tune(abc_tune("X:1\nT:Low\nM:4/4\nL:1/4\nK:C\nC,, D,, E,, F,,|]\n"))
    assert [(letter.encoding, letter.reason) for letter in result.dead_letters] == [("vae", "pitch_out_of_range")]
    assert "pitch 36 at event 0" in result.dead_letters[0].detail
    assert result.example["timestep"][0] == "36"


def test_one_broken_tune_among_good_ones(tmp_path: Path) -> None:
    (tmp_path / "mixed.abc").write_text(
        "X:1\nT:Good\nM:4/4\nL:1/4\nK:G\nG A B c|d4|]\n\n"
        "X:2\nT:Broken\nM:4/4\nL:1/4\nK:G\n@@ ## }}|]\n\n"
        "X:3\nT:No key, no length\nz4 z4|]\n\n"
        "X:4\nT:Also good\nM:3/4\nL:1/4\nK:F\nF A c|f3|]\n"
    )
    raws = [item for source in corpora.list_sources(f"dir:{tmp_path}") for item in corpora.read_source(source)]
    results = [process_tune(raw) for raw in raws]
    assert [result.example is not None for result in results] == [True, False, False, True]
    assert [result.example["title"] for result in results if result.example] == ["Good", "Also good"]
    skipped = [result.dead_letters[0] for result in results if result.example is None]
    assert [(letter.encoding, letter.tune_id) for letter in skipped] == [
        ("tune", f"{tmp_path.name}/mixed.abc#1"), ("tune", f"{tmp_path.name}/mixed.abc#2")]
    assert skipped[0].reason == "no_notes" and skipped[0].title == "Broken"
    assert skipped[1].reason == "parse_error" and skipped[1].title == "No key, no length"


def test_kern_chord_is_a_dead_letter_naming_where() -> None:
    kern = "**kern\n*M3/4\n*k[f#]\n*G:\n=1\n4g\n4a\n4b\n=2\n4G 4B 4d\n2r\n=3\n2.g\n*-\n"
    result = process_tune(RawTune("test", "chord.krn", 0, "kern", kern.encode()))
    assert result.example is None
    (letter,) = result.dead_letters
    assert (letter.encoding, letter.reason) == ("tune", "chord")
    assert "[G3 B3 D4] at measure 2" in letter.detail


def test_kern_monophonic_tune_with_tie() -> None:
    kern = "**kern\n*M3/4\n*k[f#]\n*G:\n=1\n4g\n4a\n4b\n=2\n[4d\n4d]\n4r\n=3\n2.g\n*-\n"
    example = process_tune(RawTune("test", "tied.krn", 0, "kern", kern.encode())).example
    assert (example["key"], example["transpose"], example["abc"]) == ("G", 5, "")
    assert example["notes"] == [72, 74, 76, 67, 99, 72] and example["rhythms"] == [3, 3, 3, 5, 3, 6]


def test_irishman_records(tmp_path: Path) -> None:
    records = [
        {"control code": "S:2\nB:5\n", "abc notation": "X:1\nL:1/8\nM:4/4\nK:Emin\n E2 EF  G2 FE | B4 E4 |\n"},
        {"control code": "S:1\nB:25\n"},
    ]
    path = tmp_path / "validation.json"
    path.write_text(json.dumps(records))
    raws = list(corpora.read_source(corpora.list_sources(f"irishman:{path}")[0]))
    good, missing = (process_tune(raw) for raw in raws)
    assert good.example["abc"] == "X:1\nL:1/8\nM:4/4\nK:Emin\nE2 EF G2 FE | B4 E4 |\n"
    assert (good.example["mode"], good.example["transpose"], good.example["notes"][0]) == ("minor", 5, 69)
    assert missing.example is None
    assert (missing.dead_letters[0].reason, missing.dead_letters[0].tune_id) == (
        "missing_abc_notation", "irishman/validation.json#1")
    assert "'abc notation'" in missing.dead_letters[0].detail


def test_midi_and_musicxml_files(tmp_path: Path) -> None:
    import music21  # pylint: disable=import-outside-toplevel

    part = music21.stream.Part([music21.meter.TimeSignature("3/4"), music21.key.Key("A")])
    for name, quarters in [("A4", 1.0), ("C#5", 0.5), ("E5", 0.5), ("A5", 1.0), ("E5", 3.0)]:
        part.append(music21.note.Note(name, quarterLength=quarters))
    part.write("midi", fp=str(tmp_path / "tune.mid"))
    part.write("musicxml", fp=str(tmp_path / "tune.musicxml"))
    raws = [item for source in corpora.list_sources(f"dir:{tmp_path}") for item in corpora.read_source(source)]
    assert sorted(raw.fmt for raw in raws) == ["midi", "musicxml"]
    for raw in raws:
        example = process_tune(raw).example
        assert (example["transpose"], example["meter"]) == (3, "3/4"), raw.fmt
        assert [note for note in example["notes"] if note != NOTE_REST] == [72, 76, 79, 84, 79]


def test_irishman_record_that_is_not_json_is_a_parse_error() -> None:
    result = process_tune(RawTune("irishman", "train.json", 3, "irishman", b"{not json"))
    assert result.example is None and result.dead_letters[0].reason == "parse_error"


def test_binary_garbage_in_a_midi_file_is_a_parse_error() -> None:
    result = process_tune(RawTune("test", "bad.mid", 0, "midi", b"MThd\x00\x00\x00\x06garbage\xff\x00"))
    assert result.example is None and result.dead_letters[0].reason == "parse_error"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="XKLMT:\n |ABCDEFGabcz2/,'[]^_=%-(){}\"", max_size=60))
def test_process_tune_never_raises_on_arbitrary_abc(text: str) -> None:
    result = process_tune(abc_tune(text))
    assert result.example is not None or result.dead_letters


def test_abc_chord_is_a_dead_letter_naming_the_bar() -> None:
    result = process_tune(abc_tune("X:1\nT:Chordy\nM:4/4\nL:1/4\nK:C\nC D E F|[CEG]4|]\n"))
    assert result.example is None
    (letter,) = result.dead_letters
    assert (letter.reason, letter.title) == ("chord", "Chordy")
    assert "'[CEG]4' in bar 2" in letter.detail


def test_tune_whose_every_encoding_fails_is_skipped_with_a_tune_dead_letter() -> None:
    kern = "**kern\n*M5/16\n*k[]\n*C:\n=1\n16.c\n16d\n8e\n*-\n"  # dotted 16th: 0.375 quarters
    result = process_tune(RawTune("test", "odd.krn", 0, "kern", kern.encode()))
    assert result.example is None
    assert [(letter.encoding, letter.reason) for letter in result.dead_letters] == [
        ("tune", "no_encoding"), ("timestep", "unacceptable_duration"), ("vae", "unacceptable_duration")]
    assert "timestep: unacceptable_duration" in result.dead_letters[0].detail

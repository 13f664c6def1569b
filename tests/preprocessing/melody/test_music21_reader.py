"""The music21 reader: ABC tokens against music21's Score, the client's reading of scores and files."""
from __future__ import annotations

from pathlib import Path

import pytest

from preprocessing import corpora
from preprocessing.melody.events import TuneError
from preprocessing.melody.keys import parse_key, parse_meter
from preprocessing.melody.music21_reader import (
    abc_melody,
    declared_key,
    declared_meter,
    melody_events,
    parse_abc_text,
    parse_music_file,
    score_melody,
)

TINY_CORPUS = Path(__file__).resolve().parents[2] / "testdata" / "tiny_corpus"

TRICKY_ABC = [
    "X:1\nT:Broken rhythm and carried accidentals\nM:4/4\nL:1/8\nK:G\nA>B c<d ^c2 c2|=c2 _B2 B4|]\n",
    "X:2\nT:Triplets\nM:2/4\nL:1/8\nK:Am\n(3ABc d2|(3efg a2|]\n",
    "X:3\nT:Ties across bars\nM:3/4\nL:1/4\nK:D\nd2 f-|f3-|f a b|]\n",
    "X:4\nT:Grace and pickup\nM:6/8\nL:1/8\nK:Dmix\nA|{B}d2 e {ef}f2 g|a3 z3|]\n",
    "X:5\nT:Meter change\nM:C\nL:1/8\nK:F\nFGAB c4|\nM:3/4\nf2 e2 d2|c6|]\n",
    "X:6\nT:Two voices\nM:4/4\nL:1/4\nK:C\nV:1\nc d e f|g4|]\nV:2\nC D E F|G4|]\n",
]


@pytest.mark.parametrize("text", TRICKY_ABC)
def test_abc_token_reader_matches_music21_score(text: str) -> None:
    import music21  # pylint: disable=import-outside-toplevel

    fast = abc_melody(text, "test/tricky.abc#0")
    assert fast == score_melody(music21.converter.parse(text, format="abc"), "test/tricky.abc#0")
    assert fast.events and fast.title


def test_abc_token_reader_matches_music21_score_on_tiny_corpus() -> None:
    import music21  # pylint: disable=import-outside-toplevel

    raws = [item for source in corpora.list_sources(f"dir:{TINY_CORPUS}") for item in corpora.read_source(source)]
    for raw in raws:
        text = raw.content.decode()
        assert abc_melody(text, raw.tune_id) == score_melody(music21.converter.parse(text, format="abc"), raw.tune_id)


def test_client_reading_takes_a_chords_top_note_where_the_corpus_reading_refuses_it() -> None:
    score = parse_abc_text("X:1\nT:t\nM:3/4\nL:1/4\nK:Bb\nB [DF] d|f3|]\n")
    assert [event.pitch for event in melody_events(score, "primer")] == [70, 65, 74, 77]
    assert (declared_key(score), declared_meter(score)) == (parse_key("Bb"), parse_meter("3/4"))
    with pytest.raises(TuneError, match="monophonic tune t#0") as caught:
        score_melody(score, "tune t#0")
    assert caught.value.reason == "chord"


def test_score_without_notes_is_named() -> None:
    with pytest.raises(TuneError, match="primer 'z' holds no melody") as caught:
        melody_events(parse_abc_text("X:1\nL:1/4\nK:C\nz4|\n"), "primer 'z'")
    assert caught.value.reason == "no_notes"


def test_music_file_with_an_unknown_extension_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tune.pdf"
    path.write_text("not music")
    with pytest.raises(ValueError, match=r"unknown extension '\.pdf'; expected one of \['\.abc'"):
        parse_music_file(str(path))

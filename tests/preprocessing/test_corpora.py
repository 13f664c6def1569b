"""Corpus listing and splitting: named music21 corpora, dir: and irishman: corpora, bad files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from preprocessing import corpora
from preprocessing.melody import abc_text
from preprocessing.records import DeadLetter, RawTune, Source

TINY_CORPUS = Path(__file__).resolve().parents[1] / "testdata" / "tiny_corpus"


def read_all(corpus: str) -> list[RawTune | DeadLetter]:
    return [item for source in corpora.list_sources(corpus) for item in corpora.read_source(source)]


def test_tiny_corpus_lists_two_files_and_twelve_tunes() -> None:
    sources = corpora.list_sources(f"dir:{TINY_CORPUS}")
    assert [source.label for source in sources] == ["german_songs.abc", "irish_tunes.abc"]
    assert {source.corpus for source in sources} == {"tiny_corpus"}
    items = read_all(f"dir:{TINY_CORPUS}")
    assert all(isinstance(item, RawTune) and item.fmt == "abc" for item in items)
    assert [item.tune_id for item in items][:2] == ["tiny_corpus/german_songs.abc#0", "tiny_corpus/german_songs.abc#1"]
    assert len(items) == 12


def test_abc_split_inherits_file_header_after_each_x_line() -> None:
    text = "% file comment\nM:3/4\nL:1/4\n\nX:1\nT:One\nK:G\nG A B|]\n\nX:2\nT:Two\nL:1/8\nK:D\nD2 F2 A2|]\n"
    first, second = abc_text.split_abc_tunes(text)
    assert first == "X:1\nM:3/4\nL:1/4\nT:One\nK:G\nG A B|]\n"
    assert second.startswith("X:2\nM:3/4\nL:1/4\nT:Two\nL:1/8\n")


def test_dir_corpus_walks_recursively_and_sorts(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.krn").write_text("**kern\n4c\n*-\n")
    (tmp_path / "a.abc").write_text("X:1\nK:C\nCDEF|]\n")
    (tmp_path / "notes.txt").write_text("not music")
    (tmp_path / ".hidden.abc").write_text("X:1\nK:C\nC|]\n")
    sources = corpora.list_sources(f"dir:{tmp_path}")
    assert [source.label for source in sources] == ["a.abc", "sub/b.krn"]
    kern = list(corpora.read_source(sources[1]))
    assert [(item.fmt, item.index, item.tune_id) for item in kern] == [("kern", 0, f"{tmp_path.name}/sub/b.krn#0")]


def test_a_file_that_is_not_utf8_is_read_as_cp1252_with_a_warning_naming_the_bytes(tmp_path: Path, caplog) -> None:
    (tmp_path / "latin1.abc").write_bytes("X:1\nT:Cé\nK:C\nCDE|]\n".encode("latin-1"))
    (tmp_path / "utf8.abc").write_bytes("X:1\nT:Cé\nK:C\nCDE|]\n".encode("utf-8"))
    with caplog.at_level("WARNING", logger="preprocessing.corpora"):
        read_all(f"dir:{tmp_path}")
    warned = [record.getMessage() for record in caplog.records]
    assert len(warned) == 1 and "latin1.abc is not UTF-8 (byte 7: b'\\xe9\\nK:')" in warned[0], warned


def test_empty_and_binary_files_become_dead_letters(tmp_path: Path) -> None:
    (tmp_path / "empty.abc").write_bytes(b"  \n\n")
    (tmp_path / "binary.abc").write_bytes(b"X:1\nK:C\n\x00\x01\x02\xff\xfe binary")
    (tmp_path / "latin1.abc").write_bytes("X:1\nT:Cé\nK:C\nCDE|]\n".encode("latin-1"))
    letters = {item.tune_id.rsplit("/", 1)[1]: item for item in read_all(f"dir:{tmp_path}")}
    assert letters["empty.abc"].reason == "empty_file" and letters["empty.abc"].encoding == "tune"
    assert letters["binary.abc"].reason == "not_text"
    assert "binary.abc" in letters["binary.abc"].detail
    latin = letters["latin1.abc#0"]
    assert isinstance(latin, RawTune) and "T:Cé" in latin.content.decode("utf-8")


def test_a_tune_without_music_is_still_split_out_alone(tmp_path: Path) -> None:
    (tmp_path / "mixed.abc").write_text("X:1\nT:Good\nK:C\nCDEF|]\n\nX:2\nT:Broken\n\nX:3\nK:G\nGABc|]\n")
    items = read_all(f"dir:{tmp_path}")
    assert [item.index for item in items] == [0, 1, 2]
    assert items[1].content.decode() == "X:2\nT:Broken\n"
    assert items[2].content.decode() == "X:3\nK:G\nGABc|]\n"


def test_irishman_json_list_and_json_lines(tmp_path: Path) -> None:
    records = [{"control code": "S:2\nB:5\n", "abc notation": "X:1\nL:1/8\nM:4/4\nK:Emin\nE2 EF E2 EF|]\n"},
               {"control code": "S:1\n"}]
    (tmp_path / "train.json").write_text(json.dumps(records))
    (tmp_path / "more.jsonl").write_text(json.dumps(records[0]) + "\n{not json\n" + json.dumps([1]) + "\n")
    listed = read_all(f"irishman:{tmp_path / 'train.json'}")
    assert [(item.corpus, item.tune_id, item.fmt) for item in listed] == [
        ("irishman", "irishman/train.json#0", "irishman"), ("irishman", "irishman/train.json#1", "irishman")]
    assert json.loads(listed[0].content) == records[0]
    folder = read_all(f"irishman:{tmp_path}")
    assert [type(item).__name__ for item in folder] == ["RawTune", "DeadLetter", "DeadLetter", "RawTune", "RawTune"]
    assert "line 2 is not JSON" in folder[1].detail and folder[1].reason == "parse_error"
    assert "list, not a JSON object" in folder[2].detail


def test_unknown_corpus_and_missing_path_name_the_value_and_known_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown corpus 'erkk'.*'erk'.*'han'"):
        corpora.list_sources("erkk")
    with pytest.raises(ValueError, match=r"nowhere.*does not exist.*'oneills'"):
        corpora.list_sources(f"dir:{tmp_path / 'nowhere'}")
    with pytest.raises(ValueError, match="missing.json"):
        corpora.list_sources(f"irishman:{tmp_path / 'missing.json'}")
    (tmp_path / "train.csv").write_text("control code,abc notation\n")
    with pytest.raises(ValueError, match=r"train.csv' is not .json or .jsonl"):
        corpora.list_sources(f"irishman:{tmp_path / 'train.csv'}")


def test_named_music21_corpora_counts() -> None:
    assert {"erk", "han", "kinder", "essen", "oneills", "ryans", "irish"} <= set(corpora.corpus_names())
    erk = corpora.list_sources("erk")
    assert [source.label for source in erk] == [
        "essenFolksong/erk10.abc", "essenFolksong/erk20.abc", "essenFolksong/erk30.abc", "essenFolksong/erk5.abc"]
    assert len(read_all("erk")) == 1781
    assert len(read_all("han")) == 1224
    assert not any("test" in source.label for source in corpora.list_sources("essen"))


def test_oneills_second_transcriptions_are_duplicate_dead_letters() -> None:
    items = read_all("oneills")
    duplicates = [item for item in items if isinstance(item, DeadLetter)]
    assert len(items) == 2009
    assert {item.reason for item in duplicates} == {"duplicate"}
    assert len(items) - len(duplicates) == 1840
    kept_ids = {item.tune_id for item in items if isinstance(item, RawTune)}
    # Tune 732 is transcribed twice (_bs and _mh): the first file in name order is kept.
    assert "oneills/oneills1850/0732-0758_bs.abc#0" in kept_ids
    assert "oneills/oneills1850/0732-0758_mh.abc#0" not in kept_ids
    # Same X number, different tunes (a mislabelled 700 and two different 1781s): both kept.
    assert {"oneills/oneills1850/0626-0700.abc#74", "oneills/oneills1850/0759-0810.abc#41",
            "oneills/oneills1850/1701-1780.abc#80", "oneills/oneills1850/1781-1800.abc#0"} <= kept_ids


def test_source_and_raw_tune_records() -> None:
    source = Source("erk", "/x/erk5.abc", "essenFolksong/erk5.abc")
    assert source.label == "essenFolksong/erk5.abc"
    with pytest.raises(ValueError, match="'pdf'"):
        RawTune("erk", "a.abc", 0, "pdf", b"")

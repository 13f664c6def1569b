"""The folk ABC corpora: ``airds``, ``miscfolk`` and ``folk_abc`` (ids kept from the smaller corpora,
repeats dropped), on music21's real corpus and on a tiny corpus folder made here."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import tensorflow_datasets as tfds

from preprocessing import corpora, folk_collections, schema, split
from preprocessing.job import run_preprocessing
from preprocessing.records import DeadLetter, RawTune

TUNE = "X:{n}\nT:{title}\nM:4/4\nL:1/8\nK:G\n{body}|]\n"
# three lines of 31, 32 and 30 note letters: long enough for a full 64-letter note key
REEL = "\n".join(["GABc dBAG|FGAB cAFA|GABc dBAG|FAdc BGG2|"] * 3)
JIG = "\n".join(["DEFG ABcd|edcB AGFE|DEFG ABcd|ecAF G4G4|"] * 3)
AIR = "\n".join(["B2dB A2GA|B2dB e4|d2BG A2FD|G2B2 G4|"] * 3)


def _labels(corpus: str) -> list[str]:
    return [source.label for source in corpora.list_sources(corpus)]


def test_the_folk_collections_resolve_to_musics21_folders():
    assert _labels("airds") == [f"airdsAirs/book{n}.abc" for n in range(1, 7)]
    assert _labels("miscfolk") == ["miscFolk/americanfifeopus.abc", "miscFolk/northumbrianminstrelsyopus.abc"]
    assert _labels("folk_abc") == _labels("irish") + _labels("airds") + _labels("miscfolk")
    assert {"airds", "miscfolk", "folk_abc"} <= set(corpora.corpus_names())


def test_folk_abc_tunes_keep_the_ids_of_the_smaller_corpora():
    def ids(corpus: str, label: str) -> list[str]:
        source = next(source for source in corpora.list_sources(corpus) if source.label == label)
        return [item.tune_id for item in corpora.read_source(source)]

    label = "ryansMammoth/" + sorted(Path(corpora.music21_corpus_root(), "ryansMammoth").glob("*.abc"))[0].name
    assert ids("folk_abc", "airdsAirs/book2.abc")[:3] == ids("airds", "airdsAirs/book2.abc")[:3]
    assert ids("folk_abc", "airdsAirs/book2.abc")[0] == "airds/airdsAirs/book2.abc#0"
    folk, irish = ids("folk_abc", label), ids("irish", label)
    assert folk[0] == irish[0] == f"irish/{label}#0"
    assert split.split_of(folk[0]) == split.split_of(irish[0])


def test_note_key_reads_only_the_bodys_note_letters():
    text = "X:1\nT:Tune\nK:D\n%comment ABC\nd2 (3fed ^c2 z2| % more ABC\nW:words\nP:B\n" + REEL
    assert folk_collections.note_key(text) == ("dfedcz" + "".join(c for c in REEL if c in "ABCDEFGabcdefgz"))[:64]
    assert folk_collections.note_key("X:1\nK:G\nGABc|") == ""  # too short to call a repeat


def test_repeats_name_the_first_tune_with_the_same_notes():
    tunes = [("a/1.abc", 0, TUNE.format(n=1, title="One", body=REEL)),
             ("a/1.abc", 1, TUNE.format(n=2, title="Two", body=JIG)),
             ("b/2.abc", 0, TUNE.format(n=7, title="One again", body=REEL + "|" + JIG)),
             ("b/2.abc", 1, TUNE.format(n=8, title="Three", body=AIR))]
    assert folk_collections.repeats(tunes) == {("b/2.abc", 0): ("a/1.abc", 0)}


@pytest.fixture
def tiny_music21(tmp_path, monkeypatch):
    """A music21 corpus folder with the four folk collections, one small file each; Ryan's second
    tune repeats O'Neill's first, and miscFolk's second tune repeats its first."""
    root = tmp_path / "corpus"
    files = {
        "oneills1850/0001-0002.abc": [("1", "Reel", REEL), ("2", "Jig", JIG)],
        "ryansMammoth/ryans1.abc": [("1", "Air", AIR), ("2", "The Reel", REEL)],
        "airdsAirs/book1.abc": [("1", "Aird's air", AIR.replace("B2dB", "c2ec"))],
        "miscFolk/misc.abc": [("1", "March", JIG.replace("DEFG", "GFED")), ("2", "March again", JIG.replace("DEFG", "GFED"))],
    }
    for name, tunes in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("\n".join(TUNE.format(n=n, title=title, body=body) for n, title, body in tunes))
    monkeypatch.setattr(corpora, "music21_corpus_root", lambda: str(root))
    corpora._oneills_duplicates.cache_clear()
    corpora._folk_duplicates.cache_clear()
    yield root
    corpora._oneills_duplicates.cache_clear()
    corpora._folk_duplicates.cache_clear()


def test_repeats_become_duplicate_dead_letters_naming_the_kept_tune(tiny_music21):
    items = [item for source in corpora.list_sources("folk_abc") for item in corpora.read_source(source)]
    kept = [item.tune_id for item in items if isinstance(item, RawTune)]
    assert kept == ["irish/oneills1850/0001-0002.abc#0", "irish/oneills1850/0001-0002.abc#1",
                    "irish/ryansMammoth/ryans1.abc#0", "airds/airdsAirs/book1.abc#0", "miscfolk/miscFolk/misc.abc#0"]
    letters = {item.tune_id: item for item in items if isinstance(item, DeadLetter)}
    assert sorted(letters) == ["irish/ryansMammoth/ryans1.abc#1", "miscfolk/miscFolk/misc.abc#1"]
    assert letters["irish/ryansMammoth/ryans1.abc#1"].reason == "duplicate"
    assert "repeats the notes of irish/oneills1850/0001-0002.abc#0" in letters["irish/ryansMammoth/ryans1.abc#1"].detail
    irish = [item for source in corpora.list_sources("irish") for item in corpora.read_source(source)]
    assert all(isinstance(item, RawTune) for item in irish) and len(irish) == 4  # irish is as it was


@pytest.mark.beam
def test_a_tiny_folk_abc_run_writes_the_kept_tunes_and_the_repeats(tiny_music21, tmp_path):
    output = tmp_path / "out"
    stats = run_preprocessing(corpus="folk_abc", output=str(output),
                              beam_args=["--runner", "FnApiRunner", "--direct_num_workers", "1"])
    assert stats["tunes_read"] == 7 and stats["tunes_kept"] == 5 and stats["skipped_by_reason"] == {"duplicate": 2}
    builder = tfds.builder_from_directory(str(output))
    ids = {example[schema.FEATURE_ID].numpy().decode(): name for name in builder.info.splits
           for example in builder.as_dataset(split=name)}
    assert sorted(ids) == ["airds/airdsAirs/book1.abc#0", "irish/oneills1850/0001-0002.abc#0",
                           "irish/oneills1850/0001-0002.abc#1", "irish/ryansMammoth/ryans1.abc#0",
                           "miscfolk/miscFolk/misc.abc#0"]
    assert all(split.split_of(tune_id) == name for tune_id, name in ids.items())
    letters = [json.loads(line) for line in (output / schema.DEAD_LETTERS_FILE).read_text().splitlines()]
    assert sorted(letter["tune_id"] for letter in letters) == ["irish/ryansMammoth/ryans1.abc#1",
                                                              "miscfolk/miscFolk/misc.abc#1"]

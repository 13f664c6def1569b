"""End to end: ``python -m preprocessing.run`` (real Beam runner, subprocess) on tiny corpora; its refusals of a
bad corpus or output through the same ``main()`` in this process."""
from __future__ import annotations

import json
import time
from collections import Counter

import pytest
import tensorflow_datasets as tfds

from preprocessing import schema
from preprocessing.run import parse_flags
from tests.conftest import TINY_CORPUS, run_preprocessing_cli, run_preprocessing_main

pytestmark = pytest.mark.beam

GOOD_TUNE = "X:{n}\nT:Good {n}\nM:3/4\nL:1/4\nK:D\nD F A | d2 A | B A G | F3 |]\n"
BROKEN_TUNE = "X:9\nT:Broken Chords\nM:4/4\nL:1/4\nK:G\n[GBd] [Ace] | [GBd]4 |]\n"


def read_dead_letters(output) -> list[dict]:
    text = (output / schema.DEAD_LETTERS_FILE).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _read_vocabulary(path) -> list[tuple[str, int]]:
    return schema.parse_vocabulary(path.read_text(encoding="utf-8"), str(path))


def test_tiny_corpus_output_loads_with_tfds_and_counts_add_up(tiny_dataset):
    stats = json.loads((tiny_dataset / schema.STATS_FILE).read_text())
    tune_files = sorted(TINY_CORPUS.glob("*.abc"))
    tunes_in_files = sum(path.read_text().count("\nX:") for path in tune_files)
    assert stats["tunes_read"] == tunes_in_files
    assert stats["invariant_holds"] and stats["tunes_read"] == stats["tunes_kept"] + stats["tunes_skipped"]
    assert sum(stats["tunes_per_split"].values()) == stats["tunes_kept"]

    builder = tfds.builder_from_directory(str(tiny_dataset))
    ids, steps = [], 0
    for split, info in builder.info.splits.items():
        examples = list(builder.as_dataset(split=split))
        assert len(examples) == info.num_examples == stats["tunes_per_split"][split]
        for example in examples:
            ids.append(example[schema.FEATURE_ID].numpy().decode())
            steps += int(example[schema.FEATURE_TIMESTEP].shape[0])
            assert example[schema.FEATURE_NOTES].shape == example[schema.FEATURE_RHYTHMS].shape
            assert example[schema.FEATURE_MODE].numpy().decode() in ("major", "minor")
    assert len(ids) == len(set(ids)) == stats["tunes_kept"]
    assert steps == stats["timestep_steps"]

    vocabulary = _read_vocabulary(tiny_dataset / schema.VOCABULARY_FILE)
    assert [symbol for symbol, _ in vocabulary][:3] == ["/", "_", "r"]
    assert len(vocabulary) == stats["timestep_vocabulary_size"]
    train_steps = Counter()
    for example in builder.as_dataset(split="train"):
        train_steps.update(symbol.decode() for symbol in example[schema.FEATURE_TIMESTEP].numpy())
    assert dict((symbol, count) for symbol, count in vocabulary if count) == dict(train_steps)
    abc_vocabulary = [symbol for symbol, _ in _read_vocabulary(tiny_dataset / schema.ABC_VOCABULARY_FILE)]
    assert abc_vocabulary == sorted(abc_vocabulary) and "K" in abc_vocabulary


def test_bad_files_and_a_broken_tune_become_dead_letters_and_good_tunes_are_kept(tmp_path):
    corpus = tmp_path / "bad_corpus"
    corpus.mkdir()
    (corpus / "empty.abc").write_bytes(b"")
    (corpus / "binary.abc").write_bytes(bytes(range(256)) * 4)
    (corpus / "mixed.abc").write_text("\n".join([GOOD_TUNE.format(n=1), BROKEN_TUNE, GOOD_TUNE.format(n=2)]))
    output = tmp_path / "out"
    process = run_preprocessing_cli(
        "--corpus", f"dir:{corpus}", "--output", str(output),
        "--direct_num_workers", "1", "--direct_running_mode", "in_memory",
    )
    assert process.returncode == 0, process.stderr[-3000:]
    stats = json.loads((output / schema.STATS_FILE).read_text())
    assert stats["tunes_kept"] == 2 and stats["invariant_holds"]
    assert stats["tunes_read"] == stats["tunes_kept"] + stats["tunes_skipped"] == 5

    whole = [letter for letter in read_dead_letters(output) if letter["encoding"] == "tune"]
    skipped_ids = sorted(letter["tune_id"] for letter in whole)
    assert [tune_id.split("#")[0] for tune_id in skipped_ids] == [
        "bad_corpus/binary.abc", "bad_corpus/empty.abc", "bad_corpus/mixed.abc"]
    assert skipped_ids[-1] == "bad_corpus/mixed.abc#1"
    assert all(letter["reason"] and letter["detail"] for letter in whole)
    assert Counter(letter["reason"] for letter in whole) == Counter(stats["skipped_by_reason"])

    builder = tfds.builder_from_directory(str(output))
    kept = [ex[schema.FEATURE_TITLE].numpy().decode() for split in builder.info.splits for ex in builder.as_dataset(split=split)]
    assert sorted(kept) == ["Good 1", "Good 2"]


def test_unknown_corpus_fails_fast_naming_it(tmp_path, capsys):
    started = time.monotonic()
    assert run_preprocessing_main("--corpus", "no_such_corpus", "--output", str(tmp_path / "out")) != 0
    assert "no_such_corpus" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert time.monotonic() - started < 60


def test_output_that_is_a_file_fails_fast_naming_it(tmp_path, capsys):
    a_file = tmp_path / "not_a_folder"
    a_file.write_text("keep me")
    assert run_preprocessing_main("--corpus", f"dir:{TINY_CORPUS}", "--output", str(a_file)) != 0
    assert str(a_file) in capsys.readouterr().err
    assert a_file.read_text() == "keep me"


def test_output_under_a_file_fails_naming_it(tmp_path, capsys):
    a_file = tmp_path / "blocker"
    a_file.write_text("")
    assert run_preprocessing_main("--corpus", f"dir:{TINY_CORPUS}", "--output", str(a_file / "out")) != 0
    assert str(a_file / "out") in capsys.readouterr().err


def test_unknown_flags_go_to_beam_with_local_runner_defaults():
    flags, beam_args = parse_flags(["--corpus", "erk", "--output", "o", "--direct_num_workers", "3", "--foo=bar"])
    assert (flags.corpus, flags.output) == ("erk", "o")
    assert beam_args[:3] == ["--direct_num_workers", "3", "--foo=bar"]
    assert "--runner" in beam_args and "FnApiRunner" in beam_args
    assert beam_args.count("--direct_num_workers") == 1 and "multi_processing" in beam_args
    _, dataflow_args = parse_flags(["--corpus", "erk", "--output", "gs://b/o", "--runner", "DataflowRunner", "--project", "p"])
    assert dataflow_args == ["--runner", "DataflowRunner", "--project", "p"]

"""The job and an output folder that already holds a dataset: refused, replaced with --overwrite, and
left whole by a run that dies (a step made to raise in-process: no timing)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import tensorflow_datasets as tfds

from preprocessing import schema, staging, tfds_output
from preprocessing.job import run_preprocessing
from preprocessing.run import parse_flags
from tests.conftest import run_preprocessing_main
from tests.preprocessing.test_staging import USER_FILE, snapshot

pytestmark = pytest.mark.beam

IN_PROCESS = ["--runner", "FnApiRunner", "--direct_num_workers", "1", "--direct_running_mode", "in_memory"]
TUNE = "X:{n}\nT:New {n}\nM:3/4\nL:1/4\nK:D\nD F A | d2 A | B A G | F3 |]\n"


def two_tune_corpus(root: Path) -> str:
    """A corpus of two good tunes (not the tiny corpus: the replacement must show)."""
    corpus = root / "new_corpus"
    corpus.mkdir()
    (corpus / "tunes.abc").write_text("\n".join(TUNE.format(n=n) for n in (1, 2)))
    return f"dir:{corpus}"


def earlier_dataset(tiny_dataset: Path, root: Path) -> Path:
    """A copy of the tiny corpus's dataset (the earlier run) with a user's file beside it."""
    output = root / "out"
    shutil.copytree(tiny_dataset, output)
    (output / USER_FILE).write_text("my notes")
    return output


def titles(output: Path) -> list[str]:
    builder = tfds.builder_from_directory(str(output))
    return sorted(ex[schema.FEATURE_TITLE].numpy().decode() for split in builder.info.splits
                  for ex in builder.as_dataset(split=split))


def test_a_non_empty_output_is_refused_and_overwrite_replaces_only_the_job_files(tiny_dataset, tmp_path, capsys):
    output = earlier_dataset(tiny_dataset, tmp_path)
    corpus = two_tune_corpus(tmp_path)
    before = snapshot(output)
    code = run_preprocessing_main("--corpus", corpus, "--output", str(output))  # the command line's main()
    stderr = capsys.readouterr().err
    assert code == 2 and "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"'{output}' is not empty" in errors[0] and "--overwrite" in errors[0]
    assert snapshot(output) == before and sorted(p.name for p in tmp_path.iterdir()) == ["new_corpus", "out"]

    assert parse_flags(["--corpus", "c", "--output", "o", "--overwrite"])[0].overwrite
    stats = run_preprocessing(corpus=corpus, output=str(output), overwrite=True, beam_args=IN_PROCESS)
    after = snapshot(output)
    assert after.pop(USER_FILE) == b"my notes"
    marker = json.loads(after[schema.COMPLETE_FILE])
    assert sorted(after) == sorted([*marker["files"], schema.COMPLETE_FILE])
    assert (marker["corpus"], marker["tunes_kept"], stats["tunes_kept"]) == (corpus, 2, 2)
    old_shards = {name for name in before if name.startswith(f"{schema.DATASET_NAME}-") and name != USER_FILE}
    assert old_shards - set(after), "the earlier run's shards (other names) are gone"
    assert titles(output) == ["New 1", "New 2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new_corpus", "out"]


def test_a_run_that_dies_leaves_the_earlier_dataset_and_the_next_run_cleans_up(tiny_dataset, tmp_path, monkeypatch):
    output = earlier_dataset(tiny_dataset, tmp_path)
    corpus = two_tune_corpus(tmp_path)
    before = snapshot(output)
    finalize = tfds_output.finalize_dataset

    def dies_after_renaming_shards(*args, **kwargs):
        finalize(*args, **kwargs)  # the shards get their final names, then the worker dies
        raise RuntimeError("simulated kill")

    monkeypatch.setattr(tfds_output, "finalize_dataset", dies_after_renaming_shards)
    with pytest.raises(Exception, match="simulated kill"):
        run_preprocessing(corpus=corpus, output=str(output), overwrite=True, beam_args=IN_PROCESS)
    monkeypatch.undo()
    assert snapshot(output) == before
    (left,) = [path for path in tmp_path.iterdir() if path.name.startswith("out.tmp-")]
    assert (left / staging.IN_PROGRESS_FILE).exists() and any(left.glob(f"{schema.DATASET_NAME}-*.tfrecord-*"))

    run_preprocessing(corpus=corpus, output=str(output), overwrite=True, beam_args=IN_PROCESS)
    assert not left.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["new_corpus", "out"]
    assert titles(output) == ["New 1", "New 2"] and (output / USER_FILE).read_text() == "my notes"

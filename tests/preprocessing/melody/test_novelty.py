"""Novelty: note keys read from timestep songs and ABC tunes, and the longest run shared with an index."""
from __future__ import annotations

import pytest

from preprocessing.melody.novelty import ANCHOR, SharedRun, TrainingIndex, abc_note_keys, timestep_note_keys


def test_abc_note_keys_are_the_written_notes_of_the_body() -> None:
    tune = 'X:1\nT:Reel A\nM:4/4\nL:1/8\nK:D\n"D"!trill!A2 {g}B/c/ [df]2 z2 ~e|\n%comment dEF\nP:B\n|:^c3 d,:|\n'
    assert abc_note_keys(tune) == ["A2", "B/", "c/", "d", "f", "e", "^c3", "d,"]


def test_timestep_note_keys_decode_pitches_and_lengths() -> None:
    assert timestep_note_keys(["60", "_", "_", "_", "r", "_", "62", "64", "_"]) == ["60:1", "62:0.25", "64:0.5"]


INDEX = TrainingIndex(["Planted", "Other"], [list("abcdefghij"), list("zzzzzzabcdeyy")])


def test_the_longest_run_names_its_training_tune() -> None:
    assert INDEX.longest_shared_run(list("xxcdefghiyy")) == SharedRun(7, "Planted")
    assert INDEX.longest_shared_run(list("qqabcdeyyq")) == SharedRun(7, "Other")  # a..e then yy: Other's run
    assert INDEX.longest_shared_run(list("abcde")) == SharedRun(0)  # shorter than ANCHOR: new
    assert "7 notes, of 'Planted'" in SharedRun(7, "Planted").describe()
    assert f"no run of {ANCHOR} notes" in SharedRun(0).describe()
    assert SharedRun(7, "Planted").short() == "7 notes of 'Planted'" and SharedRun(0).short() == f"none of {ANCHOR}+ notes"


def test_the_index_travels_as_ascii_bytes() -> None:
    data = INDEX.to_bytes()
    assert data.isascii() and not data.endswith(b"\0")
    again = TrainingIndex.from_bytes(data)
    assert (again.titles, again.tunes) == (INDEX.titles, INDEX.tunes)
    with pytest.raises(ValueError, match="not a training index"):
        TrainingIndex.from_bytes(b"not gzip at all")

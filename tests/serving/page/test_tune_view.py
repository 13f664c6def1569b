"""What the page shows of a tune, from tunes written here: the ABC file read once, and the bar count."""
from __future__ import annotations

import json

import pytest

from serving.generation.tokens import GeneratedMelody, GenerationConfig
from serving.music import render
from serving.page.studio import Tune
from serving.page.tune_view import tune_json

pytestmark = pytest.mark.unit

PLAIN = "X:1\nT:Plain\nM:4/4\nL:1/8\nK:G\n|GABc d2B2|c2A2 B2G2|A2F2 G4|]\n"


def abc_tune(text: str, tmp_path) -> Tune:
    """A character model's tune as the studio keeps it: its ABC written, its tokens the text's characters."""
    melody = render.melody_from_abc(text)
    paths = render.write_formats(melody, ["abc"], str(tmp_path), "tune_seed1")
    return Tune("a1b2c3", "abc_irish", GenerationConfig(out_dir=str(tmp_path)),
                GeneratedMelody(1, tuple(text), 0, paths, melody), str(tmp_path), files=dict(paths))


def test_the_abc_file_is_read_once_per_tune(tmp_path):
    tune = abc_tune(PLAIN, tmp_path)
    first = tune_json(tune)
    assert first["abc"] == PLAIN and first["bars"] == 3 and first["title"] == "Plain"
    with open(tune.result.paths["abc"], "w", encoding="utf-8") as handle:
        handle.write("X:1\nK:C\n")  # not read again: the poll answers from the tune's kept text
    assert json.dumps(tune_json(tune)) == json.dumps(first)

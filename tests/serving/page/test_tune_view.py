"""What the page shows of a tune, from tunes written here: the ABC file read once, and the bar count
(a pickup not counted: 8 bars asked for with an upbeat are 8, though Vary numbers the upbeat bar 0)."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from preprocessing.melody.keys import parse_key, parse_meter
from serving.generation.tokens import GeneratedMelody, GenerationConfig
from serving.generation.vary import bar_spans
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


@pytest.mark.parametrize("text, bars, vary_bars", [
    (PLAIN, 3, 3),
    ("X:1\nT:Upbeat\nM:4/4\nL:1/8\nK:G\nGA|B2dB c2ec|B2dB A2GA|B2dB c2ec|BAGF G2|]\n", 4, 5),
    ("X:1\nT:Jig\nM:6/8\nL:1/8\nK:D\nA|d2f a2f|g3 f2|]\n", 2, 3),
], ids=["no pickup", "reel upbeat", "jig upbeat"])
def test_an_abc_pickup_is_not_counted_as_a_bar(text, bars, vary_bars, tmp_path):
    tune = abc_tune(text, tmp_path)
    assert tune_json(tune)["bars"] == bars and len(bar_spans(tune.result)) == vary_bars  # Vary's bar 0 is the pickup


def test_a_timestep_pickup_is_not_counted_as_a_bar(tmp_path):
    # 4/4 after a 4-step upbeat (60): two full bars of 16 steps.
    tokens = ("/ 60 _ _ _ " + "62 _ _ _ " * 4 + "64 _ _ _ " * 4 + "/").split()
    melody = replace(render.melody_from_timesteps(tokens, 1, parse_key("C"), parse_meter("4/4")),
                     pickup=render.steps_to_quarters(4))
    paths = render.write_formats(melody, ["abc"], str(tmp_path), "steps_seed1")
    tune = Tune("d4e5f6", "lstm_erk", GenerationConfig(out_dir=str(tmp_path)),
                GeneratedMelody(1, tuple(tokens), 1, paths, melody), str(tmp_path))
    assert tune_json(tune)["bars"] == 2 and len(bar_spans(tune.result)) == 3

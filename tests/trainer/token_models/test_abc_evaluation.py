"""Generated-ABC quality (parse share, full bars) and the character model's evaluation tool."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from preprocessing.melody.abc_text import first_abc_tune
from serving.contract.signatures import TOKEN_CHARACTERS
from trainer import abc_eval
from trainer.token_models import abc_evaluation, abc_quality, data
from trainer.token_models import evaluation as token_evaluation
from trainer.token_models.builders import build_model
from trainer.token_models.config import resolve_config
from trainer.token_models.export import export_token_model

HEADER = "X:1\nL:1/8\nM:3/4\nK:G\n"


def test_a_tune_whose_bars_fill_the_meter_is_all_full():
    quality = abc_quality.score_tune(HEADER + "ABc def | g2 f2 e2 | d6 |]\n")
    assert quality == abc_quality.TuneQuality(True, has_meter=True, bars=3, full_bars=3, exempt_bars=0)


def test_pickup_and_section_end_bars_are_exempt_but_a_short_middle_bar_is_not():
    # pickup "D", short bar "GA" in the middle, short bar before ":|", pickup after it
    quality = abc_quality.score_tune(HEADER + "D | GAB cde | GA | d6 | B4 :| D | G6 |]\n")
    assert (quality.bars, quality.full_bars, quality.exempt_bars) == (7, 3, 3)
    summary = abc_quality.summarise([quality])
    assert summary.full_bar_share == pytest.approx(3 / 4)
    assert summary.strict_full_bar_share == pytest.approx(3 / 7)


def test_an_overfull_bar_counts_once_and_not_full():
    # music21's Score would re-bar "ABCDEFGAB" into a full bar and a remainder
    quality = abc_quality.score_tune(HEADER + "ABc def | ABCDEFGAB | d6 |]\n")
    assert (quality.bars, quality.full_bars, quality.exempt_bars) == (3, 2, 0)


def test_triplets_and_meter_changes_are_measured():
    quality = abc_quality.score_tune(HEADER + "(3ABc d2 e2 | g6 ||\nM:2/4\nA2 B2 | c4 |]\n")
    assert (quality.bars, quality.full_bars) == (4, 4)


def test_unparsable_or_empty_text_is_not_parsed_and_says_why():
    garbage = abc_quality.score_tune("garbage ))) [[[")
    assert not garbage.parsed and garbage.error
    empty = abc_quality.score_tune("X:1\nK:C\n")
    assert (empty.parsed, empty.error) == (False, "no notes")
    no_meter = abc_quality.score_tune("X:1\nL:1/8\nK:C\nCDEF GABc |]\n")
    assert no_meter.parsed and not no_meter.has_meter and no_meter.bars == 0


def test_first_tune_ends_at_a_blank_line_or_the_next_x_field():
    assert first_abc_tune(HEADER + "abc|\n\nX:1\nK:C\n") == (HEADER + "abc|\n", True)
    assert first_abc_tune(HEADER + "abc|\nX:2\n") == (HEADER + "abc|\n", True)
    assert first_abc_tune(HEADER + "abc|") == (HEADER + "abc|", False)


def test_only_ends_the_generation_writes_or_completes_count():
    def cut(primer: str, generated: str) -> str:
        return first_abc_tune(primer + generated, search_from=len(primer))[0]

    assert cut(HEADER, "\nDEF|") == HEADER  # the primer's last newline and a generated one
    assert cut(HEADER, "X:2\nK:G\nG|") == HEADER
    assert cut(HEADER + "DE", "F|\nFED|\nX:2\n") == HEADER + "DEF|\nFED|\n"
    assert cut("X:1\n\nK:D\n", "DEF|") == "X:1\n\nK:D\nDEF|"  # the primer's own blank line


def test_primer_characters_outside_the_vocabulary_are_named():
    with pytest.raises(ValueError, match=r"\['ü', '€'\]"):
        abc_evaluation.encode_primer("X:1\nü€", ["X", ":", "1", "\n"])
    with pytest.raises(ValueError, match="empty"):
        abc_evaluation.encode_primer("", ["X"])
    assert abc_evaluation.encode_primer("X:1\n", ["\n", "1", ":", "X"]) == [3, 2, 1, 0]


def test_bad_sampling_settings_are_refused(caplog):
    with pytest.raises(ValueError, match="tunes"):
        abc_evaluation.TuneDraw(tunes=0)
    for flag, value, name in (("--temperature", "0", "temperature"), ("--top-k", "-1", "top_k")):
        caplog.clear()
        assert abc_eval.main(["--model", "unused", flag, value]) == 2  # the client sampler's check
        assert f"{name} must be" in caplog.text


@pytest.fixture(scope="module")
def untrained_abc_model(tiny_dataset, tmp_path_factory):
    """A freshly initialised seed-preset character model exported on the tiny corpus's vocabulary."""
    vocabulary = data.load_vocabulary(tiny_dataset, "abc")
    model = build_model(resolve_config("abc_lstm_seed"), np.array(vocabulary.counts))
    base = tmp_path_factory.mktemp("abc_model") / "abc_tiny"
    export_token_model(model, list(vocabulary.symbols), base, warmup=False, model_kind=TOKEN_CHARACTERS)
    return base, vocabulary


def test_evaluation_generates_scores_and_writes_samples(untrained_abc_model, tiny_dataset, tmp_path):
    base, vocabulary = untrained_abc_model
    samples, output = tmp_path / "samples.abc", tmp_path / "report.json"
    code = abc_eval.main(["--model", str(base), "--data", str(tiny_dataset), "--split", "train", "--tunes", "3", "--steps", "40",
                          "--samples", str(samples), "--output", str(output)])
    assert code == 0
    report = json.loads(output.read_text())
    assert report["generated"]["tunes"] == 3
    assert report["sampling"]["steps"] == 40 and report["primer"] == "X:1\n"
    # an untrained model predicts nearly uniformly: log V nats per character
    assert report["loss"]["nats_per_character"] == pytest.approx(math.log(vocabulary.size), abs=0.05)
    assert report["loss"]["tunes"] > 0 and report["loss"]["characters"] > 100
    assert report["real_tunes"]["parse_share"] == 1.0 and report["real_tunes"]["full_bar_share"] > 0.9
    written = samples.read_text()
    assert [line for line in written.splitlines() if line.startswith("X:")][:3] == ["X:1", "X:2", "X:3"]


def test_same_seed_same_tunes_and_a_timestep_model_is_refused(untrained_abc_model, tmp_path):
    base, _ = untrained_abc_model
    version = next(base.iterdir())
    settings = abc_evaluation.TuneDraw(tunes=2, steps=30, seed=5)
    first = abc_evaluation.generate_tunes(version, "X:1\n", settings)
    assert first == abc_evaluation.generate_tunes(version, "X:1\n", settings)
    assert all(text.startswith("X:1\n") for text, _ in first)
    assert abc_eval.main(["--model", str(base), "--primer", "X:1\\n€", "--tunes", "1"]) == 2


def test_a_note_of_hundreds_of_units_is_refused_before_music21_parses_it():
    quality = abc_quality.score_tune(HEADER + "DEF e943 | ABc |]\n")  # music21 alone takes ~20 s on it
    assert not quality.parsed and "'e943'" in quality.error and "943 unit lengths" in quality.error
    assert abc_quality.score_tune("X:100\nT:Reel 100\n" + HEADER[4:] + "g6 |]\n").parsed  # fields may hold 100


def test_novelty_counts_reproduced_tunes_and_copied_music_lines():
    training = [HEADER + "ABc def | g2 f2 e2 |\nd6 | B6 |]\n", HEADER + "GAB cde |]\n"]
    generated = [training[0], HEADER + "ABc def | g2 f2 e2 |\nc6 | A6 |]\n", training[0]]
    report = abc_evaluation.novelty(generated, training)
    assert report["distinct_tunes"] == 2 and report["training_tunes_reproduced"] == 1
    # music lines of 10+ characters, header fields excluded: 3 tunes x 2 lines, 5 of them copied
    assert report["music_lines"] == 6 and report["music_lines_copied_share"] == pytest.approx(5 / 6, abs=1e-4)


def test_the_timestep_evaluation_refuses_a_character_model(untrained_abc_model, tiny_dataset):
    base, _ = untrained_abc_model
    with pytest.raises(ValueError, match="character-level ABC model.*trainer.abc_eval"):
        token_evaluation.evaluate(str(base), str(tiny_dataset), "train")

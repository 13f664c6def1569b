"""trainer.evaluate and trainer.token_models.metrics: metric arithmetic, and scoring real exported SavedModels."""
import json
import math

import numpy as np
import pytest

from serving.contract.sampling import SamplingSettings
from serving.contract.signatures import TOKEN_CHARACTERS, TOKEN_TIMESTEP
from serving.contract.versions import latest_version_dir
from trainer import evaluate
from trainer.token_models import data
from trainer.token_models.abc_evaluation import TuneDraw, generate_tunes
from trainer.token_models.builders import build_lstm_model, build_random_model
from trainer.token_models.config import resolve_config
from trainer.token_models.evaluation import format_table
from trainer.token_models.export import export_token_model
from trainer.token_models.metrics import MetricTotals
from trainer.token_models.scoring import StepScorer

SYMBOLS = ["/", "_", "r", "60", "62"]


def test_perfect_and_uniform_predictions():
    targets = np.array([3, 1, 4, 2])
    perfect = MetricTotals(SYMBOLS)
    perfect.add(np.eye(5)[targets], targets)
    assert perfect.result()["nll_nats_per_step"] == pytest.approx(0.0, abs=1e-9)
    assert perfect.result()["onset_accuracy"] == 1.0
    uniform = MetricTotals(SYMBOLS)
    uniform.add(np.full((4, 5), 0.2), targets)
    result = uniform.result()
    assert result["nll_nats_per_step"] == pytest.approx(math.log(5))
    assert result["pitch_bits_per_note"] == pytest.approx(1.0)  # renormalised over 2 pitches
    assert (result["steps"], result["notes"], result["onsets"]) == (4, 2, 3)


def test_pitch_bits_renormalise_over_pitches_and_accuracy_counts_onsets_only():
    totals = MetricTotals(SYMBOLS)
    probs = np.array([[0.0, 0.7, 0.1, 0.05, 0.15], [0.0, 0.7, 0.1, 0.05, 0.15]])
    totals.add(probs, np.array([3, 1]))  # a note onset (60), then a hold
    result = totals.result()
    assert result["pitch_bits_per_note"] == pytest.approx(-math.log2(0.05 / 0.2))
    assert result["onset_accuracy"] == 0.0 and result["onsets"] == 1  # argmax "_" is wrong at the onset
    assert result["nll_nats_per_step"] == pytest.approx(-(math.log(0.05) + math.log(0.7)) / 2)
    with pytest.raises(ValueError, match=r"\[N, V\]"):
        totals.add(probs, np.array([1]))


def test_random_baseline_scores_its_own_frequencies(tiny_dataset, tmp_path):
    vocabulary = data.load_vocabulary(tiny_dataset)
    counts = vocabulary.stream_counts(data.count_songs(tiny_dataset, "train"))
    export_token_model(build_random_model(counts), list(vocabulary.symbols), tmp_path / "random", warmup=False, model_kind=TOKEN_TIMESTEP)
    output = tmp_path / "metrics.json"
    assert evaluate.main(["--model", str(tmp_path / "random"), "--data", str(tiny_dataset), "--output", str(output)]) == 0
    report = json.loads(output.read_text())
    songs, _ = data.load_song_arrays(tiny_dataset, "test", vocabulary)
    targets = np.concatenate(songs)
    expected = -np.log(np.maximum(counts / counts.sum(), math.exp(-30)))[targets].mean()
    assert report["model_metrics"]["nll_nats_per_step"] == pytest.approx(expected, rel=1e-4)
    assert report["model_metrics"]["steps"] == len(targets) == report["ngram_metrics"]["steps"]
    assert report["ngram_metrics"]["nll_nats_per_step"] < report["model_metrics"]["nll_nats_per_step"]
    assert "5-gram" in format_table(report)


def test_stepping_the_savedmodel_matches_the_keras_model_on_whole_songs(tiny_dataset, tmp_path):
    vocabulary = data.load_vocabulary(tiny_dataset)
    model = build_lstm_model(resolve_config("lstm", {"units": "8"}), vocabulary.size)
    export_token_model(model, list(vocabulary.symbols), tmp_path / "lstm", warmup=False, model_kind=TOKEN_TIMESTEP)
    scorer = StepScorer(latest_version_dir(tmp_path / "lstm"))
    assert scorer.symbols == vocabulary.symbols and scorer.state_size == 16
    songs, _ = data.load_song_arrays(tiny_dataset, "test", vocabulary)
    stepped = scorer.song_probs(songs, vocabulary.delimiter_id)
    for song, probs in zip(songs, stepped):
        inputs = np.concatenate([[vocabulary.delimiter_id], song[:-1]])[None, :].astype(np.int32)
        np.testing.assert_allclose(probs, np.asarray(model(inputs))[0], rtol=1e-4, atol=1e-6)


def test_missing_versions_are_named(tmp_path):
    with pytest.raises(ValueError, match=str(tmp_path)):
        latest_version_dir(tmp_path)


def test_the_scorers_read_the_stated_kind_and_refuse_the_wrong_one(tmp_path):
    export_token_model(build_random_model(np.ones(5)), SYMBOLS, tmp_path / "timestep", warmup=False,
                       model_kind=TOKEN_TIMESTEP)
    export_token_model(build_random_model(np.ones(3)), ["a", "b", "\n"], tmp_path / "chars", warmup=False,
                       model_kind=TOKEN_CHARACTERS)
    assert StepScorer(latest_version_dir(tmp_path / "timestep")).model_kind == TOKEN_TIMESTEP
    chars = latest_version_dir(tmp_path / "chars")
    assert StepScorer(chars).model_kind == TOKEN_CHARACTERS
    draw = TuneDraw(tunes=1, steps=4, settings=SamplingSettings(), seed=0, batch_size=1)
    with pytest.raises(ValueError, match="is a token_timestep model, not token_characters"):
        generate_tunes(latest_version_dir(tmp_path / "timestep"), "X:1\n", draw)

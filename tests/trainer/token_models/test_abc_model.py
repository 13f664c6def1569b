"""The character-level ABC model: presets, the abc data stream, a real training run and its export.

The tiny dataset's ``abc_vocabulary.tsv`` holds the training split's characters only (as the
report built it), and its one validation tune uses a character ("a") no training tune has, so
``song_tokens`` drops it and no abc run could validate. The training test therefore copies the
dataset and widens its ABC vocabulary to every character of every split (count 0 for the unseen
ones).
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from preprocessing import schema
from trainer import fitting, task
from trainer.run_paths import RunPaths
from trainer.token_models import data
from trainer.token_models.builders import build_model
from trainer.token_models.config import resolve_config
from trainer.token_models.train import train

pytestmark = pytest.mark.server

REPO = pathlib.Path(__file__).resolve().parents[3]
SPLITS = ("train", "validation", "test")
TRAIN_FLAGS = ["epochs=1", "window=32", "batch_size=4"]


def _lstm_parameters(inputs: int, units: int) -> int:
    return 4 * units * (inputs + units + 1)


@pytest.mark.parametrize("preset, embedding_dim, units, layers", [
    ("abc_lstm_seed", 16, 64, 1),
    ("abc_lstm", 32, 256, 2),
])
def test_presets_build_their_layer_sizes(preset, embedding_dim, units, layers):
    config = resolve_config(preset)
    assert (config.feature, config.architecture, config.input_encoding) == ("abc", "lstm", "embedding")
    vocab_size = 41
    model = build_model(config, np.ones(vocab_size))
    assert model.get_layer("embedding").output_dim == embedding_dim
    lstms = [layer for layer in model.layers if layer.name.startswith("lstm")]
    assert [layer.units for layer in lstms] == [units] * layers
    expected = embedding_dim * vocab_size + _lstm_parameters(embedding_dim, units)
    expected += (layers - 1) * _lstm_parameters(units, units) + (units + 1) * vocab_size
    assert model.count_params() == expected
    assert model.output_shape == (None, None, vocab_size)


def test_seed_preset_parameter_count_is_the_reports_formula():
    vocab_size = 35
    model = build_model(resolve_config("abc_lstm_seed"), np.ones(vocab_size))
    assert model.count_params() == 16 * vocab_size + 4 * 64 * (16 + 64 + 1) + 65 * vocab_size


def test_abc_vocabulary_is_characters_ended_by_a_newline(tiny_dataset):
    vocabulary = data.load_vocabulary(tiny_dataset, "abc")
    assert vocabulary.feature == "abc" and vocabulary.delimiter == "\n"
    assert vocabulary.symbols[vocabulary.delimiter_id] == "\n"
    assert all(len(symbol) == 1 for symbol in vocabulary.symbols)
    assert {"X", ":", "|", " ", "K"} <= set(vocabulary.symbols)
    assert data.load_vocabulary(tiny_dataset).delimiter == "/"  # the timestep default is unchanged


def _decode(ids, vocabulary: data.Vocabulary) -> str:
    return "".join(vocabulary.symbols[index] for index in ids)


def test_abc_windows_decode_to_tunes_separated_by_a_blank_line(tiny_dataset):
    vocabulary = data.load_vocabulary(tiny_dataset, "abc")
    songs = data.song_tokens(data.song_symbols(tiny_dataset, "train", feature="abc"), vocabulary)
    pairs = list(data.windows(songs, 32, vocabulary.delimiter_id).as_numpy_iterator())
    assert len(pairs) >= 2
    for (inputs, targets), (following, _) in zip(pairs, pairs[1:]):
        np.testing.assert_array_equal(targets, np.append(inputs[1:], following[0]))
    stream = "".join(_decode(inputs, vocabulary) for inputs, _ in pairs)
    assert stream.startswith("X:1\n")
    assert stream.count("\n\nX:1\n") >= 2
    assert "\n\n\n" not in stream


def test_a_tune_round_trips_through_the_ids(tiny_dataset):
    vocabulary = data.load_vocabulary(tiny_dataset, "abc")
    first = next(data.song_symbols(tiny_dataset, "train", feature="abc").as_numpy_iterator())
    text = b"".join(first).decode("utf-8")
    assert text.startswith("X:1\n") and "K:" in text
    ids = next(data.song_tokens(data.song_symbols(tiny_dataset, "train", feature="abc"), vocabulary)
               .as_numpy_iterator())
    assert ids.dtype == np.int32 and len(ids) == len(text)
    assert _decode(ids, vocabulary) == text


def _widened_copy(tiny_dataset: pathlib.Path, destination: pathlib.Path) -> pathlib.Path:
    """A copy of the dataset whose ABC vocabulary also lists the characters of every split (count 0)."""
    shutil.copytree(tiny_dataset, destination)
    entries = dict(data.read_vocabulary_file(str(destination / schema.ABC_VOCABULARY_FILE)))
    for split in SPLITS:
        for song in data.song_symbols(destination, split, feature="abc").as_numpy_iterator():
            for character in song:
                entries.setdefault(character.decode("utf-8"), 0)
    data.write_vocabulary_file(str(destination / schema.ABC_VOCABULARY_FILE),
                               sorted(entries.items(), key=lambda item: ord(item[0])))
    return destination


@pytest.fixture(scope="module")
def trained(tiny_dataset, tmp_path_factory):
    """One short abc_lstm_seed run through the CLI: (data folder, job dir, export base)."""
    root = tmp_path_factory.mktemp("abc_run")
    dataset = _widened_copy(tiny_dataset, root / "data")
    job_dir, export = root / "job", root / "saved_models" / "abc_tiny"
    argv = ["--model", "abc_lstm_seed", "--data", str(dataset), "--job-dir", str(job_dir),
            "--export", str(export), "--verbose", "0"]
    argv += [arg for item in TRAIN_FLAGS for arg in ("--set", item)]
    assert task.main(argv) == 0
    return dataset, job_dir, export


def test_the_widened_vocabulary_keeps_the_validation_tune(trained, tiny_dataset):
    dataset, _, _ = trained
    original = data.load_vocabulary(tiny_dataset, "abc")
    widened = data.load_vocabulary(dataset, "abc")
    assert set(original.symbols) < set(widened.symbols)
    assert data.count_windows(dataset, "validation", widened, 32) >= 1


def test_a_short_run_writes_metrics_and_the_config(trained):
    dataset, job_dir, export = trained
    vocabulary = data.load_vocabulary(dataset, "abc")
    metrics = json.loads((job_dir / fitting.METRICS_FILE).read_text())
    assert metrics["preset"] == "abc_lstm_seed" and metrics["epochs"] == 1
    assert metrics["vocab_size"] == vocabulary.size
    assert metrics["parameter_count"] == 16 * vocabulary.size + 4 * 64 * 81 + 65 * vocabulary.size
    assert 0 < metrics["best_val_loss"] < 2 * np.log(vocabulary.size)
    assert metrics["export"] == str(export / "1")
    config = json.loads((job_dir / fitting.CONFIG_FILE).read_text())["config"]
    assert config["feature"] == "abc" and config["window"] == 32 and config["units"] == 64
    saved = [symbol for symbol, _ in data.read_vocabulary_file(str(job_dir / "checkpoints" / schema.VOCABULARY_FILE))]
    assert tuple(saved) == vocabulary.symbols


def test_the_export_answers_vocabulary_step_and_generate_in_a_fresh_process(trained):
    dataset, _, export = trained
    vocabulary = data.load_vocabulary(dataset, "abc")
    primer = "X:1\nL:1/8\nM:6/8\nK:D\n"
    process = subprocess.run([sys.executable, "-m", "tests.helpers.abc_export_probe", str(export / "1"), primer], cwd=REPO,
                             capture_output=True, text=True, timeout=180,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)})
    assert process.returncode == 0, process.stderr[-3000:]
    answer = json.loads(process.stdout.strip().splitlines()[-1])
    assert tuple(answer["symbols"]) == vocabulary.symbols and "\n" in answer["symbols"]
    assert all(len(symbol) == 1 for symbol in answer["symbols"])
    assert answer["state_size"] == 2 * 64
    logits = np.array(answer["logits"])
    assert logits.shape == (1, vocabulary.size)
    np.testing.assert_allclose(np.exp(logits).sum(), 1.0, rtol=1e-4)
    tokens = np.array(answer["tokens"])
    assert tokens.shape == (1, 40) and ((tokens >= 0) & (tokens < vocabulary.size)).all()
    assert tokens[0, 0] == int(np.argmax(logits[0]))  # greedy: the first token is the step's argmax


def test_resuming_with_another_feature_or_size_is_refused(trained):
    dataset, job_dir, _ = trained
    other_checkpoints = str(job_dir / "other_checkpoints")
    paths = RunPaths.resolve(str(job_dir), preset="lstm", checkpoint_dir=other_checkpoints, environ={})
    with pytest.raises(ValueError, match=r"has feature='abc', this run feature='timestep'"):
        train(resolve_config("lstm", {"window": "16"}), str(dataset), paths, preset="lstm")
    with pytest.raises(ValueError, match=r"has units=64, this run units=256"):
        train(resolve_config("abc_lstm", {"window": "32"}), str(dataset), paths, preset="abc_lstm")
    # In the run's own checkpoint folder the abc vocabulary is what stops a timestep run.
    own = RunPaths.resolve(str(job_dir), preset="lstm", environ={})
    with pytest.raises(ValueError, match="checkpoint vocabulary.*differs"):
        train(resolve_config("lstm", {"window": "16"}), str(dataset), own, preset="lstm")
    history = (job_dir / fitting.HISTORY_FILE).read_text().strip().splitlines()
    assert len(history) == 2  # header + the one epoch: nothing was trained
    assert not os.path.exists(other_checkpoints)

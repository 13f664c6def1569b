"""Fine-tuning (``--init-from``): a run starts from an export's weights and vocabulary; bad sources.

The source exports are tiny LSTMs written by the real exporter; their vocabulary is the tiny
dataset's in another order with one symbol more, so a run that took the data's vocabulary instead
would be told apart.
"""
from __future__ import annotations

import csv
import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from preprocessing import schema
from serving.contract import signatures as sig
from trainer import fitting, presets, task
from trainer.run_paths import RunPaths
from trainer.token_models import data
from trainer.token_models.config import TrainConfig, resolve_config
from trainer.token_models.export import export_token_model
from trainer.token_models.init_from import read_export
from trainer.token_models.lstm import build_lstm_model
from trainer.token_models.train import train
from trainer.vae.export import export_vae
from trainer.vae.model import build_vae

pytestmark = pytest.mark.train

SMALL = {"units": "16", "window": "16", "batch_size": "4", "patience": "2", "epochs": "1"}


def _source(base_path, symbols, units=16, seed=5):
    keras.utils.set_random_seed(seed)
    model = build_lstm_model(TrainConfig(architecture="lstm", units=units), len(symbols))
    return export_token_model(model, list(symbols), base_path, warmup=False, model_kind=sig.TOKEN_TIMESTEP)


def _export_weights(folder):
    loaded = tf.saved_model.load(str(folder))  # kept alive while its variables are read
    return {variable.name.removesuffix(":0"): variable.numpy() for variable in loaded.signatures[sig.STEP].variables}


def _export_symbols(folder):
    symbols = tf.saved_model.load(str(folder)).signatures[sig.VOCABULARY]()[sig.SYMBOLS].numpy()
    return [symbol.decode("utf-8") for symbol in symbols]


class _FirstWeights(keras.callbacks.Callback):
    """Records the model's weights when training begins."""

    def on_train_begin(self, logs=None):
        self.weights = {weight.path: weight.numpy() for weight in self.model.weights}


def _paths(tmp_path, export=None):
    return RunPaths.resolve(str(tmp_path / "job"), preset="lstm", environ={}, export_path=export)


@pytest.fixture
def source_symbols(tiny_dataset):
    return tuple(reversed(data.load_vocabulary(tiny_dataset).symbols)) + ("90",)


def test_fine_tuning_starts_from_the_exports_weights_and_keeps_its_vocabulary(tiny_dataset, tmp_path, source_symbols):
    source = _source(tmp_path / "source", source_symbols)
    first = _FirstWeights()
    export = tmp_path / "saved_models" / "tuned"
    metrics = train(resolve_config("lstm", SMALL), str(tiny_dataset), _paths(tmp_path, str(export)), preset="lstm",
                    callbacks=[first], init_from=str(tmp_path / "source"))

    expected = _export_weights(source)
    assert sorted(first.weights) == sorted(expected)
    for path, value in expected.items():
        np.testing.assert_array_equal(first.weights[path], value, err_msg=path)
    assert metrics["init_from"] == source and metrics["vocab_size"] == len(source_symbols)
    saved = [symbol for symbol, _ in data.read_vocabulary_file(str(tmp_path / "job" / "checkpoints" / "vocabulary.tsv"))]
    assert saved == list(source_symbols)
    tuned = export / "1"
    assert _export_symbols(tuned) == list(source_symbols)
    changed = [path for path, value in _export_weights(tuned).items() if not np.array_equal(value, expected[path])]
    assert changed, "one epoch of fine-tuning left every weight as it was"
    assert not (tmp_path / "job" / schema.DEAD_LETTERS_FILE).exists()


def test_tunes_outside_the_exports_vocabulary_are_dead_letters_naming_the_symbol(tiny_dataset, tmp_path, caplog):
    symbols = tuple(symbol for symbol in data.load_vocabulary(tiny_dataset).symbols if symbol != "r")
    _source(tmp_path / "source", symbols)
    with caplog.at_level("WARNING", logger="trainer.token_models.train"):
        train(resolve_config("lstm", SMALL), str(tiny_dataset), _paths(tmp_path), preset="lstm",
              init_from=str(tmp_path / "source" / "1"))
    letters = [json.loads(line) for line in (tmp_path / "job" / schema.DEAD_LETTERS_FILE).read_text().splitlines()]
    with_rest = [song for song in data.song_symbols(tiny_dataset, "train").as_numpy_iterator() if b"r" in song]
    assert len(letters) == len(with_rest) == 2
    assert all(letter["symbols"] == ["r"] and letter["split"] == "train" and "['r']" in letter["detail"]
               for letter in letters)
    assert any("2 of 9 tunes dropped" in record.getMessage() and "{'r': 2}" in record.getMessage()
               for record in caplog.records)


def test_a_corpus_wholly_outside_the_vocabulary_is_refused_with_the_count_and_symbols(tiny_dataset, tmp_path):
    _source(tmp_path / "source", ("/", "_", "60"))
    with pytest.raises(ValueError, match=r"all 9 tunes of split 'train' .* outside the model's vocabulary \(tunes per symbol: \{'72': 7, '67': 7, "):
        train(resolve_config("lstm", SMALL), str(tiny_dataset), _paths(tmp_path), preset="lstm",
              init_from=str(tmp_path / "source"))
    assert not (tmp_path / "job").exists()


def test_a_preset_of_other_shapes_is_refused_naming_the_weight_and_both_shapes(tiny_dataset, tmp_path, source_symbols):
    _source(tmp_path / "source", source_symbols, units=8)
    with pytest.raises(ValueError, match=r"weight 'lstm/lstm_cell/kernel' has shape \(20, 64\) in the preset, "
                                         r"\(20, 32\) in the export"):
        train(resolve_config("lstm", SMALL), str(tiny_dataset), _paths(tmp_path), preset="lstm",
              init_from=str(tmp_path / "source"))


def test_an_export_of_another_kind_is_refused_naming_both_kinds(tiny_dataset, tmp_path, source_symbols):
    _source(tmp_path / "source", source_symbols)
    config = resolve_config("abc_lstm", {"units": "16", "window": "16"})
    with pytest.raises(ValueError, match=r"is a 'token_timestep' model, but this preset trains a 'token_characters'"):
        train(config, str(tiny_dataset), _paths(tmp_path), preset="abc_lstm", init_from=str(tmp_path / "source"))


def test_cli_refuses_a_folder_that_is_no_export_and_a_vae_preset(tiny_dataset, tmp_path, caplog):
    (tmp_path / "not_export" / "1").mkdir(parents=True)
    (tmp_path / "not_export" / "1" / "notes.txt").write_text("no model")
    argv = ["--model", "lstm", "--data", str(tiny_dataset), "--job-dir", str(tmp_path / "job")]
    with caplog.at_level("ERROR"):
        assert task.main(argv + ["--init-from", str(tmp_path / "not_export")]) == 2
        assert task.main(argv + ["--init-from", str(tmp_path / "missing")]) == 2
        assert task.main(["--model", "vae_notes", *argv[2:], "--init-from", str(tmp_path / "not_export")]) == 2
    messages = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert "no export: its version folder" in messages[0] and "no saved_model.pb" in messages[0]
    assert f"--init-from {str(tmp_path / 'missing')!r} does not exist" in messages[1]
    assert "--init-from fine-tunes token models; preset 'vae_notes' is a VaeConfig" in messages[2]
    assert not (tmp_path / "job").exists()


def test_a_vae_export_is_named_as_the_other_kind(tmp_path):
    config = dataclasses.replace(presets.get("vae_notes"), length=16, hidden_dim=8, latent_dim=2)
    export_vae(build_vae(config), config, tmp_path / "vae")
    with pytest.raises(ValueError, match=r"is a 'vae_notes' model, but this preset trains a 'token_timestep'"):
        read_export(tmp_path / "vae", model_kind=sig.TOKEN_TIMESTEP)


def test_max_minutes_stops_training_after_the_epoch_that_crosses_it(tiny_dataset, tmp_path):
    argv = ["--model", "lstm", "--data", str(tiny_dataset), "--job-dir", str(tmp_path / "job"), "--max-minutes", "1e-6"]
    argv += [arg for name, value in {**SMALL, "epochs": "4", "patience": "4"}.items() for arg in ("--set", f"{name}={value}")]
    assert task.main(argv) == 0
    with open(tmp_path / "job" / fitting.HISTORY_FILE) as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0"]

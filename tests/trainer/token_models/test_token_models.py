"""The token models: shapes, the slides' parameter count, serialisation."""
import dataclasses
from pathlib import Path

import keras
import numpy as np
import pytest

from trainer.token_models.builders import build_lstm_model, build_model, build_random_model
from trainer.token_models.config import resolve_config
from trainer.token_models.layers import OneHot


def test_lstm_preset_has_the_slides_parameter_count():
    model = build_lstm_model(resolve_config("lstm"), vocab_size=38)
    counts = {layer.name: layer.count_params() for layer in model.layers}
    assert counts["lstm"] == 302_080
    assert counts["dense"] == 9_766
    assert model.count_params() == 302_080 + 9_766


def test_lstm_maps_token_windows_to_distributions_without_cudnn():
    config = resolve_config("lstm", {"units": "16", "layers": "2"})
    model = build_lstm_model(config, vocab_size=7)
    probs = model(np.array([[0, 3, 6, 1], [2, 2, 2, 2]], dtype=np.int32))
    assert probs.shape == (2, 4, 7)
    np.testing.assert_allclose(np.sum(probs, axis=-1), 1.0, rtol=1e-5)
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    assert len(lstms) == 2 and all(layer.return_sequences and not layer.use_cudnn for layer in lstms)
    assert sum(isinstance(layer, keras.layers.Dropout) for layer in model.layers) == 2


def test_embedding_input_encoding():
    model = build_model(resolve_config("lstm", {"units": "8", "input_encoding": "embedding", "embedding_dim": "4"}), np.ones(5))
    assert any(isinstance(layer, keras.layers.Embedding) for layer in model.layers)
    assert model(np.zeros((1, 3), np.int32)).shape == (1, 3, 5)


def test_one_hot_works_on_any_rank():
    layer = OneHot(4)
    assert layer(np.array(2)).shape == (4,)
    np.testing.assert_array_equal(layer(np.array([[1, 3]])), [[[0, 1, 0, 0], [0, 0, 0, 1]]])


def test_random_model_outputs_the_training_frequencies_at_every_step():
    counts = np.array([1, 0, 3, 6])
    model = build_random_model(counts)
    probs = np.asarray(model(np.array([[0, 1, 2], [3, 3, 3]], dtype=np.int32)))
    assert probs.shape == (2, 3, 4)
    np.testing.assert_allclose(probs, np.broadcast_to(counts / counts.sum(), probs.shape), atol=1e-6)
    assert not model.trainable_weights
    assert not any(isinstance(layer, keras.layers.LSTM) for layer in model.layers)


def test_random_model_rejects_bad_frequencies():
    with pytest.raises(ValueError, match="-1"):
        build_random_model(np.array([1, -1, 2]))


@pytest.mark.parametrize("architecture", ["lstm", "random"])
def test_models_reload_from_keras_files(tmp_path, architecture):
    model = build_model(resolve_config(architecture, {"units": "8"}), np.array([5, 1, 2, 2]))
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    tokens = np.array([[0, 1, 2, 3]], dtype=np.int32)
    np.testing.assert_allclose(reloaded(tokens), model(tokens), rtol=1e-6)


def test_unknown_architecture_is_named():
    config = resolve_config("lstm")
    with pytest.raises(ValueError, match="'gru'"):
        build_model(dataclasses.replace(config, architecture="gru"), np.ones(3))


@pytest.mark.parametrize("name", ["lstm_one_hot", "random"])
def test_checkpoints_written_before_the_layout_change_still_load(name):
    """tests/testdata/checkpoints_v0 was saved by the code as it stood before trainer/models/ moved to
    trainer/token_models/: the layers' registered names ("folkgen>OneHot", ...) keep it loadable."""
    folder = Path(__file__).resolve().parents[2] / "testdata" / "checkpoints_v0"
    expected = np.load(folder / "expected.npz")
    reloaded = keras.saving.load_model(folder / f"{name}.keras")
    np.testing.assert_allclose(reloaded.predict(expected["tokens"], verbose=0), expected[name], rtol=1e-6)

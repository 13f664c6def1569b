"""Noisy input pitches in the meter-aware model's training (``input_noise``), and a token model's
output bias fitted on the validation split after training (``output_bias`` "validation")."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from serving.contract.versions import latest_version_dir
from trainer.run_paths import RunPaths
from trainer.token_models import meter_data, output_bias
from trainer.token_models.config import TrainConfig, resolve_config
from trainer.token_models.meter_lstm import TOKENS
from trainer.token_models.train import train

PITCHES = [3, 4, 5, 6]
HOLD = 1


def _examples(steps: int) -> tf.data.Dataset:
    """One song example whose inputs alternate a pitch (3..6 in turn) and a hold, after ``/`` (0)."""
    tokens = np.array([0] + [PITCHES[(step // 2) % 4] if step % 2 == 0 else HOLD for step in range(steps)], np.int32)
    return tf.data.Dataset.from_tensors(({TOKENS: tokens}, np.roll(tokens, -1), np.ones(steps + 1, np.float32)))


def _noised(share: float, passes: int = 2) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    noisy = meter_data.noisy_pitches(_examples(4000), PITCHES, share, seed=1)
    return [(inputs[TOKENS], targets, clean[TOKENS])
            for _ in range(passes)
            for (inputs, targets, _), (clean, _, _) in zip(noisy.as_numpy_iterator(), _examples(4000).as_numpy_iterator())]


def test_noise_replaces_the_share_of_input_pitches_and_nothing_else() -> None:
    (first, targets, clean), (second, _, _) = _noised(0.4)
    pitch = np.isin(clean, PITCHES)
    np.testing.assert_array_equal(first[~pitch], clean[~pitch])  # holds and the start symbol stay
    np.testing.assert_array_equal(targets, np.roll(clean, -1))  # the targets are the song's
    assert set(first[pitch]) == set(PITCHES)
    # a replaced pitch is drawn from all four, so a quarter of the draws give it back
    assert (first[pitch] != clean[pitch]).mean() == pytest.approx(0.4 * 3 / 4, abs=0.03)
    assert (first != second).any()  # drawn afresh on each pass


def test_no_share_leaves_the_inputs_and_validation_batches_are_never_noised() -> None:
    (unchanged, _, clean), = _noised(0.0, passes=1)
    np.testing.assert_array_equal(unchanged, clean)
    config = TrainConfig(architecture="lstm_meter", batching="songs", window=64, batch_size=1, input_noise=0.9)
    songs = tf.data.Dataset.from_tensors((np.array([3, 1, 4, 1, 5], np.int32), np.zeros([6, 4], np.int32)))
    (inputs, _, _), = meter_data.song_batches(songs, config, 0, pitch_ids=PITCHES).as_numpy_iterator()
    np.testing.assert_array_equal(inputs[TOKENS], [[0, 3, 1, 4, 1, 5]])
    with pytest.raises(ValueError, match=r"input_noise=0.9 replaces pitches, but no pitch ids were given"):
        meter_data.song_batches(songs, config, 0, training=True)


@pytest.mark.parametrize(("fields", "message"), [
    ({"input_noise": 1.0}, r"input_noise must be in \[0, 1\), got 1.0"),
    ({"input_noise": 0.1, "batching": "stream"}, "input_noise=0.1 noises whole training songs: it needs batching='songs'"),
    ({"output_bias": "test"}, r"output_bias 'test' is not one of \('as_trained', 'validation'\)"),
])
def test_a_bad_setting_is_refused_naming_it(fields, message) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(architecture="lstm_meter", **{"batching": "songs", **fields})


def test_the_fitted_offset_matches_each_symbols_share_and_lowers_the_loss() -> None:
    rng = np.random.default_rng(0)
    targets = rng.choice(3, size=5000, p=[0.5, 0.3, 0.2])
    # a model that knows something of each step but over-predicts symbol 0
    logits = np.eye(3)[targets] + rng.normal(size=(5000, 3)) + np.array([1.5, 0.0, 0.0])
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    offset = output_bias.best_offset(log_probs, targets)
    before, _ = output_bias.loss_and_gradient(log_probs, targets, np.zeros(3))
    after, gradient = output_bias.loss_and_gradient(log_probs, targets, offset)
    assert after < before - 0.01
    np.testing.assert_allclose(gradient, 0.0, atol=1e-3)  # mean probabilities = the shares (one count added)
    assert offset[0] < min(offset[1:]) - 0.3 and offset.sum() == pytest.approx(0.0)  # the over-predicted falls
    for nudged in (offset + [0.05, 0, 0], offset - [0, 0.05, 0]):  # a minimum: either way costs more
        assert output_bias.loss_and_gradient(log_probs, targets, nudged)[0] > after


def test_symbols_too_rare_to_measure_share_one_offset_and_an_absent_one_keeps_its_probability() -> None:
    rng = np.random.default_rng(1)
    targets = np.concatenate([rng.choice(2, size=4000), [2] * 10])  # symbol 3 never comes
    log_probs = np.log(np.tile([0.45, 0.45, 0.05, 0.05], (len(targets), 1)))
    offset = output_bias.best_offset(log_probs, targets, min_steps=50)
    assert offset[2] == pytest.approx(offset[3])
    shifted = np.exp(log_probs[0] + offset) / np.exp(log_probs[0] + offset).sum()
    # the pool's share: its 10 targets and one added count, of 4010 and 3 groups
    assert shifted[2] + shifted[3] == pytest.approx(11 / 4013, rel=1e-3)
    assert shifted[3] > 1e-3


def test_a_model_without_a_softmax_output_is_refused_naming_its_last_layer() -> None:
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(inputs), name="raw")
    with pytest.raises(ValueError, match=r"model 'raw' ends in Dense 'logits'"):
        output_bias.softmax_layer(model)


@pytest.mark.train
def test_a_noisy_run_fits_its_output_bias_and_exports_the_fitted_model(tiny_dataset, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(output_bias, "MIN_STEPS", 1)  # the tiny split's 32 steps: each symbol its own offset
    config = resolve_config("lstm_meter", {"units": "16", "window": "32", "batch_size": "4", "epochs": "1", "attention_window": "8",
                                           "input_noise": "0.2", "output_bias": "validation"})
    paths = RunPaths.resolve(str(tmp_path / "job"), preset="lstm_meter", environ={},
                             export_path=str(tmp_path / "lstm_meter"))
    metrics = train(config, str(tiny_dataset), paths, preset="lstm_meter", verbose=0)
    fitted = metrics["output_bias"]
    assert fitted["steps"] > 0 and fitted["loss_after"] < fitted["loss_before"]
    trained = keras.models.load_model(paths.checkpoint_dir + "/best.keras")
    loaded = tf.saved_model.load(str(latest_version_dir(tmp_path / "lstm_meter")))
    shipped = {variable.name: variable.numpy() for variable in loaded.variables}
    np.testing.assert_array_equal(shipped["dense/kernel:0"], trained.layers[-1].kernel.numpy())
    moved = shipped["dense/bias:0"] - trained.layers[-1].bias.numpy()
    assert np.abs(moved).max() > 1e-3  # the export's output bias is the fitted one, not the checkpoint's


@pytest.mark.train
def test_the_seeds_lstm_fits_its_output_bias_on_its_validation_windows(tiny_dataset, tmp_path) -> None:
    config = resolve_config("lstm", {"units": "16", "window": "16", "batch_size": "4", "epochs": "1",
                                     "output_bias": "validation"})
    paths = RunPaths.resolve(str(tmp_path / "job"), preset="lstm", environ={})
    fitted = train(config, str(tiny_dataset), paths, preset="lstm", verbose=0)["output_bias"]
    assert fitted["steps"] > 0 and fitted["loss_after"] < fitted["loss_before"]

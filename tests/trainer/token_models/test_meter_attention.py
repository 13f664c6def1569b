"""The meter-aware LSTM's memory of its own tune: the attention, whole-song batches, training and the stepped export."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from serving.contract import signatures as sig
from serving.contract.versions import latest_version_dir
from tests.trainer.token_models.test_meter_model import assert_steps_as_the_model
from trainer.run_paths import RunPaths
from trainer.token_models import data, meter_data
from trainer.token_models.config import TrainConfig, resolve_config
from trainer.token_models.meter_attention import TuneMemoryAttention
from trainer.token_models.meter_lstm import CONDITIONING, TOKENS
from trainer.token_models.train import train

ATTENTION = {"units": "16", "window": "48", "batch_size": "4", "epochs": "1", "batching": "songs",
             "attention_window": "8", "attention_heads": "2", "attention_dim": "4"}


def _layer(window: int, units: int = 6, heads: int = 2, dim: int = 3, seed: int = 3) -> TuneMemoryAttention:
    """A built layer whose weights (sink included) are all drawn at random, so none is a no-op."""
    layer = TuneMemoryAttention(window, heads, dim)
    layer.build((None, None, units))
    generator = np.random.default_rng(seed)
    for weight in layer.weights:
        weight.assign(generator.normal(size=weight.shape).astype(np.float32))
    return layer


def _stepped(layer: TuneMemoryAttention, hidden: np.ndarray) -> np.ndarray:
    """``layer.step`` over ``hidden [B, T, U]`` one step at a time from the zero memory -> ``[B, T, H * D]``."""
    memory = tf.zeros([hidden.shape[0], layer.memory_size])
    before, reads = tf.zeros(hidden.shape[::2]), []
    for t in range(hidden.shape[1]):
        read, memory = layer.step(before, tf.constant(hidden[:, t]), memory)
        reads.append(read.numpy())
        before = tf.constant(hidden[:, t])
    assert memory.numpy()[:, -1].tolist() == [hidden.shape[1]] * hidden.shape[0]  # the steps written
    return np.stack(reads, axis=1)


@pytest.mark.parametrize("window", [1, 5, 13, 40])
def test_stepping_the_ring_of_keys_reads_what_the_whole_sequence_reads(window: int) -> None:
    layer = _layer(window)
    hidden = np.random.default_rng(window).normal(size=(2, 13, 6)).astype(np.float32)
    whole = layer(tf.constant(hidden)).numpy()
    assert whole.shape == (2, 13, 6) and layer.memory_size == 2 * window * 6 + 1
    np.testing.assert_allclose(_stepped(layer, hidden), whole, rtol=1e-5, atol=1e-5)


def test_a_step_reads_its_window_and_nothing_later_or_older() -> None:
    window, t = 4, 9
    layer = _layer(window)
    hidden = np.random.default_rng(0).normal(size=(1, 14, 6)).astype(np.float32)
    base = layer(tf.constant(hidden)).numpy()[0, t]

    def read_after_changing(step: int) -> np.ndarray:
        changed = hidden.copy()
        changed[0, step] += 3.0
        return layer(tf.constant(changed)).numpy()[0, t]

    # slot s holds the key of h[s - 1]: the oldest slot of step t, t - window + 1, reads h[t - window]
    for step in (t - window - 1, t + 1, 13):
        np.testing.assert_allclose(read_after_changing(step), base, rtol=1e-6, atol=1e-6)
    for step in (t - window, t - 1, t):
        assert np.abs(read_after_changing(step) - base).max() > 1e-3, step


def test_a_song_is_one_example_from_its_start_with_its_targets_conditioning() -> None:
    songs = [[5, 6, 7], [8, 9, 10, 11, 12, 13]]
    conditioning = [np.arange(len(song) + 1)[:, None] * [1, 0, 0, 0] + [0, index, 0, 0]
                    for index, song in enumerate(songs)]
    dataset = tf.data.Dataset.from_generator(
        lambda: ((np.array(song, np.int32), np.array(c, np.int32)) for song, c in zip(songs, conditioning)),
        output_signature=(tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, 4], tf.int32)))
    examples = list(meter_data.song_examples(dataset, window=5, delimiter_id=0).as_numpy_iterator())
    (first, first_targets, first_weights), (second, second_targets, _) = examples
    np.testing.assert_array_equal(first[TOKENS], [0, 5, 6, 7])
    np.testing.assert_array_equal(first_targets, [5, 6, 7, 0])
    np.testing.assert_array_equal(first[CONDITIONING][:, 0], [0, 1, 2, 3])  # the step each input predicts
    np.testing.assert_array_equal(first_weights, [1, 1, 1, 1])
    np.testing.assert_array_equal(second[TOKENS], [0, 8, 9, 10, 11])  # cut to the window
    np.testing.assert_array_equal(second_targets, [8, 9, 10, 11, 12])
    np.testing.assert_array_equal(second[CONDITIONING], conditioning[1][:5])

    config = TrainConfig(architecture="lstm_meter", batching="songs", window=8, batch_size=2)
    (inputs, targets, weights), = meter_data.song_batches(dataset, config, delimiter_id=0).as_numpy_iterator()
    assert inputs[TOKENS].shape == targets.shape == weights.shape == (2, 7)
    np.testing.assert_array_equal(inputs[TOKENS][0], [0, 5, 6, 7, 0, 0, 0])  # padded with the delimiter
    # padding weighs nothing, and a batch's mean over all its steps is the mean over its real ones
    np.testing.assert_allclose(weights, np.array([[1] * 4 + [0] * 3, [1] * 7]) * 14 / 11, rtol=1e-6)


@pytest.mark.train
def test_the_attention_model_trains_on_songs_and_its_export_steps_as_the_keras_model_runs(tiny_dataset, tmp_path):
    config = resolve_config("lstm_meter", ATTENTION)
    paths = RunPaths.resolve(str(tmp_path / "job"), preset="lstm_meter", environ={},
                             export_path=str(tmp_path / "lstm_meter"))
    metrics = train(config, str(tiny_dataset), paths, preset="lstm_meter", verbose=0)
    vocabulary = data.load_vocabulary(tiny_dataset)
    size = vocabulary.size
    attention = 3 * 16 * 8 + 2 * 8 + 2 * 2 * 4  # query, key, value kernels; key, value biases; sink key, value
    assert metrics["parameter_count"] == 4 * 16 * (size + 77 + 16 + 1) + attention + (16 + 8) * size + size
    loaded = tf.saved_model.load(str(latest_version_dir(tmp_path / "lstm_meter")))
    state_size = 2 * 16 + 2 * 8 * 8 + 1
    assert loaded.signatures[sig.STEP].structured_input_signature[1][sig.STATE].shape[-1] == state_size
    import keras  # noqa: PLC0415

    model = keras.models.load_model(paths.checkpoint_dir + "/best.keras")
    songs, frames, _ = meter_data.song_frames(tiny_dataset, "validation", vocabulary, lengths=True)
    row = int(np.argmax([len(song) for song in songs]))
    song, frame = songs[row], frames[row]
    assert len(song) > 3 * 8  # the ring of 8 steps wraps
    assert_steps_as_the_model(loaded, model, song, frame, vocabulary.delimiter_id, state_size)


@pytest.mark.server
def test_saved_model_cli_runs_every_signature_of_an_attention_export(tiny_exports, tiny_cli_problems) -> None:
    """A tiny attention export (tests/helpers/cli_exports.py), in conftest.py's one `saved_model_cli run` process."""
    assert tiny_exports["lstm_meter_attention"][1] == [*sig.TOKEN_SIGNATURES]
    assert not tiny_cli_problems["lstm_meter_attention"], tiny_cli_problems["lstm_meter_attention"]


@pytest.mark.parametrize("overrides, named", [({"batching": "windows"}, "batching 'windows' is not one of"),
                                              ({"attention_window": "-1"}, "attention_window must be >= 0"),
                                              ({"attention_heads": "0"}, "attention_heads must be >= 1"),
                                              ({"attention_dim": "0"}, "attention_dim must be >= 1"),
                                              ({"final_bar": "full"}, "final_bar 'full' is not one of")])
def test_a_bad_attention_or_batching_setting_is_named(overrides: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        resolve_config("lstm_meter", overrides)
    with pytest.raises(ValueError, match="attention window must be >= 1, got 0"):
        TuneMemoryAttention(0, 2, 16)


@pytest.mark.parametrize("field", ["batching=songs", "attention_window=8", "final_bar=complete"])
def test_a_plain_lstm_refuses_the_meter_aware_settings(field: str) -> None:
    name, value = field.split("=")
    with pytest.raises(ValueError, match="architecture 'lstm' takes none of them"):
        resolve_config("lstm", {name: value})


def test_the_preset_attends_over_256_steps_of_whole_tunes_and_keeps_the_first_version_reachable() -> None:
    config = resolve_config("lstm_meter")
    assert (config.batching, config.window, config.attention_window, config.attention_heads,
            config.attention_dim, config.final_bar) == ("songs", 512, 256, 2, 16, "as_written")
    first = resolve_config("lstm_meter", {"batching": "stream", "window": "64", "attention_window": "0"})
    assert first == TrainConfig(architecture="lstm_meter")

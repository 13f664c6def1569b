"""The meter-aware timestep LSTM: its conditioning in the graph, its data, training, export and step."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from preprocessing import schema
from preprocessing.melody.timestep import HOLD
from serving.contract import bar_position as bp
from serving.contract import signatures as sig
from serving.contract.versions import latest_version_dir
from trainer.run_paths import RunPaths
from trainer.token_models import data, meter_data
from trainer.token_models.config import resolve_config
from trainer.token_models.meter_conditioning import condition_classes, tune_conditioning
from trainer.token_models.meter_lstm import CONDITIONING, TOKENS
from trainer.token_models.train import train

FRAMES = [bp.TuneFrame(12, 4, bp.meter_index("3/4"), 0, 50), bp.TuneFrame(6, 0, bp.meter_index("3/8"), 1),
          bp.TuneFrame(16, 15, bp.meter_index("4/4"), 0, 16), bp.TuneFrame(64, 60, bp.meter_index("4/2"), 1, 400)]


def _expected_classes(frame: bp.TuneFrame, steps: np.ndarray) -> np.ndarray:
    """The classes the model reads, from the client's raw inputs, written out in NumPy."""
    raw = frame.step_inputs(steps)
    left = raw[sig.BARS_LEFT]
    return np.stack([np.minimum(raw[sig.BAR_POSITION], bp.MAX_BAR_STEPS - 1), raw[sig.METER_INDEX],
                     raw[sig.MODE_INDEX], np.where(left < 0, bp.NO_LENGTH, np.minimum(left, bp.MAX_BARS_LEFT))], -1)


def assert_steps_as_the_model(loaded, model, song: np.ndarray, frame: bp.TuneFrame, delimiter_id: int,
                              state_size: int) -> None:
    """The export's `step`, fed ``song`` one token at a time from the zero state after one
    delimiter, gives the Keras ``model``'s probabilities over the whole song."""
    fed = np.concatenate([[delimiter_id], song[:-1]])
    classes = _expected_classes(frame, np.arange(len(song)))
    expected = model({TOKENS: fed[None], CONDITIONING: classes[None]}, training=False).numpy()[0]
    state = tf.zeros([1, state_size])
    for t, token in enumerate(fed):
        inputs = {name: tf.constant(value) for name, value in frame.step_inputs(np.array([t])).items()}
        answer = loaded.signatures[sig.STEP](token=tf.constant([token], tf.int32), state=state, **inputs)
        np.testing.assert_allclose(np.exp(answer[sig.LOGITS].numpy()[0]), expected[t], rtol=1e-4, atol=1e-6)
        state = answer[sig.STATE]


@pytest.mark.parametrize("frame", FRAMES)
def test_the_graph_conditioning_is_the_clients(frame: bp.TuneFrame) -> None:
    steps = np.arange(0, 420)
    length = -1 if frame.length is None else frame.length
    in_graph = tune_conditioning(tf.constant(steps, tf.int32), frame.bar_steps, frame.pickup, frame.meter,
                                 frame.mode, tf.constant(length))
    np.testing.assert_array_equal(in_graph.numpy(), _expected_classes(frame, steps))
    raw = {name: tf.constant(value) for name, value in frame.step_inputs(steps).items()}
    np.testing.assert_array_equal(condition_classes(*(raw[name] for name in sig.STEP_CONDITIONING)).numpy(),
                                  _expected_classes(frame, steps))


def test_positions_count_from_the_pickup_and_bars_left_reach_zero_at_the_end() -> None:
    frame = bp.TuneFrame(bar_steps=8, pickup=2, length=18)  # 2/4: an eighth's pickup, then two full bars
    inputs = frame.step_inputs(np.arange(19))
    assert inputs[sig.BAR_POSITION].tolist() == [6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0]
    # the time left, in bars rounded up: 18 steps are 2.25 bars
    assert inputs[sig.BARS_LEFT].tolist() == [3] * 2 + [2] * 8 + [1] * 8 + [0]
    assert bp.TuneFrame(8).step_inputs(np.arange(3))[sig.BARS_LEFT].tolist() == [-1, -1, -1]


@pytest.mark.parametrize("meter", ["2/4", "3/4", "6/8", "5/8", "7/8", "4/2", "3/16", "1/4", "", "none", "7/32",
                                   "C", "12/8", "3/5"])
def test_the_graph_reads_a_meter_as_python_does(meter: str) -> None:
    bar_steps, index = meter_data.meter_values(tf.constant(meter))
    assert (int(bar_steps), int(index)) == (bp.bar_steps_of(meter), bp.meter_index(meter))


def test_each_input_carries_the_conditioning_of_its_target() -> None:
    songs = [[5, 6, 7], [8, 9], [10, 11, 12, 13]]
    conditioning = [np.arange(len(song) + 1)[:, None] * [1, 0, 0, 0] + [0, index, 0, 0] for index, song in enumerate(songs)]
    dataset = tf.data.Dataset.from_generator(
        lambda: ((np.array(song, np.int32), np.array(c, np.int32)) for song, c in zip(songs, conditioning)),
        output_signature=(tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, 4], tf.int32)))
    stream = [5, 6, 7, 0, 8, 9, 0, 10, 11, 12, 13, 0]
    # the conditioning of each stream position: (step in its song, song)
    stream_conditioning = [(0, 0), (1, 0), (2, 0), (3, 0), (0, 1), (1, 1), (2, 1), (0, 2), (1, 2), (2, 2), (3, 2), (4, 2)]
    pairs = list(meter_data.conditioned_windows(dataset, window=4, delimiter_id=0).as_numpy_iterator())
    assert len(pairs) == 2
    for index, (inputs, targets) in enumerate(pairs):
        np.testing.assert_array_equal(inputs[TOKENS], stream[4 * index : 4 * index + 4])
        np.testing.assert_array_equal(targets, stream[4 * index + 1 : 4 * index + 5])
        np.testing.assert_array_equal(inputs[CONDITIONING][:, :2], stream_conditioning[4 * index + 1 : 4 * index + 5])


# Beam's in-process runner, one worker (the pickup corpus is a dozen tunes).
IN_PROCESS_BEAM = ["--runner", "FnApiRunner", "--direct_num_workers", "1", "--direct_running_mode", "in_memory"]
# Tunes with and without pickups in several meters: (meter, pickup in eighths, bars of eighths).
PICKUP_TUNES = [("2/4", 1, "A2AB|c2BA|G4|]"), ("3/4", 2, "c2e2g2|f2d2B2|c6|]"), ("6/8", 1, "ABc d2e|f3 e3|d6|]"),
                ("4/4", 0, "c2d2e2f2|g8|]"), ("4/4", 3, "c2d2e2f2|g8|]"), ("3/8", 1, "ABc|d3|c3|]"),
                ("2/4", 0, "c2d2|e4|]"), ("3/4", 1, "c2d2e2|c6|]"), ("6/8", 3, "ABc d2e|c6|]"), ("2/4", 2, "c2d2|c4|]"),
                ("2/4", 1, "A2AB|c2BA|G3|]"), ("3/4", 2, "c2e2g2|f2d2B2|c4|]")]  # the last two: the final bar short


@pytest.fixture(scope="module")
def pickup_dataset(tmp_path_factory):
    """A real preprocessing output of ``PICKUP_TUNES``: the Beam job on its in-process runner (the
    command line and the multi-process runner: tests/conftest.py's ``tiny_dataset``)."""
    from preprocessing.job import run_preprocessing  # noqa: PLC0415

    folder = tmp_path_factory.mktemp("pickup_corpus")
    tunes = [f"X:{index}\nT:Pickup {index}\nM:{meter}\nL:1/8\nK:C\n{'G' * pickup}{'|' if pickup else ''}{body}\n"
             for index, (meter, pickup, body) in enumerate(PICKUP_TUNES, 1)]
    (folder / "pickups.abc").write_text("\n".join(tunes))
    output = tmp_path_factory.mktemp("pickup_dataset")
    run_preprocessing(corpus=f"dir:{folder}", output=str(output), overwrite=True, beam_args=IN_PROCESS_BEAM)
    return output


@pytest.mark.beam
def test_the_songs_of_a_real_preprocessing_output_carry_their_frames(pickup_dataset) -> None:
    vocabulary = data.load_vocabulary(pickup_dataset)
    songs = list(meter_data.conditioned_songs(pickup_dataset, "train", vocabulary, training=False).as_numpy_iterator())
    arrays, frames, dropped = meter_data.song_frames(pickup_dataset, "train", vocabulary)
    assert len(songs) == len(arrays) == len(frames) > 3 and dropped == 0
    by_tune = {tuple(array[:1]): frame for array, frame in zip(arrays, frames)}
    assert any(frame.pickup > 0 for frame in frames) and any(frame.pickup == 0 for frame in frames), by_tune
    assert {frame.pickup for frame in frames} <= {0, 2, 4, 6}  # pickups of 0..3 eighths
    for (ids, conditioning), array, frame in zip(songs, arrays, frames):
        np.testing.assert_array_equal(ids, array)
        assert conditioning.shape == (len(ids) + 1, 4)
        np.testing.assert_array_equal(conditioning, _expected_classes(frame, np.arange(len(ids) + 1)))
        assert conditioning[frame.pickup, 0] == 0 and (conditioning[:frame.pickup, 0] > 0).all()  # the first downbeat
    with_lengths = meter_data.song_frames(pickup_dataset, "train", vocabulary, lengths=True)[1]
    assert [frame.length for frame in with_lengths] == [len(array) for array in arrays]
    table = meter_data.frame_table(pickup_dataset, vocabulary)  # the export's `tune_frames`
    np.testing.assert_array_equal(table.pickup, [frame.pickup for frame in frames])
    np.testing.assert_array_equal(table.meter, [frame.meter for frame in frames])
    full_bars = [-(-(len(array) - frame.pickup) // frame.bar_steps) for array, frame in zip(arrays, frames)]
    np.testing.assert_array_equal(table.bars, full_bars)
    for tune, (array, frame) in enumerate(zip(arrays, frames)):  # each bar repeats its first earlier equal bar
        starts = range(frame.pickup, len(array), frame.bar_steps)
        bars = [array[start:start + frame.bar_steps].tolist() for start in starts]
        first = [bars.index(bar) if len(bar) == frame.bar_steps else -1 for bar in bars]
        assert table.tune_repeats(tune) == tuple(-1 if earlier == bar else earlier for bar, earlier in enumerate(first))


@pytest.mark.beam
def test_a_complete_final_bar_holds_a_songs_last_note_to_the_bar_line(pickup_dataset) -> None:
    vocabulary = data.load_vocabulary(pickup_dataset)
    hold, held = vocabulary.symbols.index(HOLD), 0
    for split in ("train", "validation", "test"):
        arrays, frames, _ = meter_data.song_frames(pickup_dataset, split, vocabulary)
        songs = meter_data.conditioned_songs(pickup_dataset, split, vocabulary, training=False, final_bar="complete")
        for (ids, conditioning), array, frame in zip(songs.as_numpy_iterator(), arrays, frames):
            np.testing.assert_array_equal(ids[:len(array)], array)
            assert (ids[len(array):] == hold).all() and len(ids) - len(array) < frame.bar_steps
            assert (len(ids) - frame.pickup) % frame.bar_steps == 0 and conditioning[-1, 0] == 0  # ends on a bar line
            held += len(ids) > len(array)
    assert held == 2  # the two tunes whose last bar is short
    with pytest.raises(ValueError, match="final_bar 'whole' is not one of"):
        meter_data.conditioned_songs(pickup_dataset, "train", vocabulary, training=False, final_bar="whole")


def test_a_folder_written_before_the_pickup_feature_is_named(tiny_dataset, tmp_path) -> None:
    old = tmp_path / "old"
    shutil.copytree(tiny_dataset, old)
    features = json.loads((old / "features.json").read_text())
    del features["featuresDict"]["features"][schema.FEATURE_PICKUP]
    (old / "features.json").write_text(json.dumps(features))
    with pytest.raises(ValueError, match=r"lacks the features \['pickup'\] a meter-aware model needs"):
        meter_data.check_features(str(old))


@pytest.mark.train
def test_the_first_version_trains_and_its_export_steps_as_the_keras_model_runs(tiny_dataset, tmp_path) -> None:
    # the first architecture, still reachable from the preset: stream windows, no attention
    config = resolve_config("lstm_meter", {"units": "16", "window": "16", "batch_size": "4", "epochs": "1",
                                           "batching": "stream", "attention_window": "0"})
    paths = RunPaths.resolve(str(tmp_path / "job"), preset="lstm_meter", environ={},
                             export_path=str(tmp_path / "lstm_meter"))
    metrics = train(config, str(tiny_dataset), paths, preset="lstm_meter", verbose=0)
    vocabulary = data.load_vocabulary(tiny_dataset)
    assert metrics["parameter_count"] == 4 * 16 * (vocabulary.size + 77 + 16 + 1) + 16 * vocabulary.size + vocabulary.size
    loaded = tf.saved_model.load(str(latest_version_dir(tmp_path / "lstm_meter")))
    stated = loaded.signatures[sig.VOCABULARY]()
    assert [name.decode() for name in stated[sig.CONDITIONING].numpy()] == list(sig.STEP_CONDITIONING)
    shipped = {name: value.numpy() for name, value in loaded.signatures[sig.TUNE_FRAMES]().items()}
    _, train_frames, _ = meter_data.song_frames(tiny_dataset, "train", vocabulary, lengths=True)
    assert len(shipped[sig.BARS]) == len(train_frames) > 0
    np.testing.assert_array_equal(shipped[sig.BAR_STEPS], [frame.bar_steps for frame in train_frames])
    np.testing.assert_array_equal(shipped[sig.BARS], [-(-(frame.length - frame.pickup) // frame.bar_steps)
                                                      for frame in train_frames])
    np.testing.assert_array_equal(shipped[sig.BAR_REPEATS], meter_data.frame_table(tiny_dataset, vocabulary).repeats)
    import keras  # noqa: PLC0415

    model = keras.models.load_model(paths.checkpoint_dir + "/best.keras")
    songs, frames, _ = meter_data.song_frames(tiny_dataset, "validation", vocabulary, lengths=True)
    song, frame = songs[0], frames[0]
    assert_steps_as_the_model(loaded, model, song, frame, vocabulary.delimiter_id, 32)


@pytest.mark.server
def test_saved_model_cli_runs_every_signature_of_a_meter_aware_export(tiny_exports, tiny_cli_problems) -> None:
    """`export_tiny_meter_lstm`'s export, in conftest.py's one `saved_model_cli run` process."""
    assert tiny_exports["lstm_meter"][1] == [*sig.TOKEN_SIGNATURES, sig.TUNE_FRAMES]
    assert not tiny_cli_problems["lstm_meter"], tiny_cli_problems["lstm_meter"]

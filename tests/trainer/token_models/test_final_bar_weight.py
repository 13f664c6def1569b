"""The meter-aware model's cadence weights: the notes struck in the last bar of a training song
told its length weigh ``final_bar_weight`` in the loss, its holds ``final_bar_hold_weight``, its
rests 1; validation is scored unweighted."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from trainer.token_models import meter_data
from trainer.token_models.config import TrainConfig
from trainer.token_models.meter_conditioning import tune_conditioning


def _songs(bar: int, pickup: int, *lengths: int, stated: bool = True) -> tf.data.Dataset:
    """Songs of ``lengths`` steps (ids 5, 6, ...) with their conditioning in a ``bar``-step meter with
    ``pickup``, told their length when ``stated``."""
    songs = [(np.arange(5, 5 + length, dtype=np.int32),
              tune_conditioning(tf.range(length + 1), bar, pickup, 2, 0, length if stated else -1).numpy())
             for length in lengths]
    return tf.data.Dataset.from_generator(lambda: iter(songs), output_signature=(
        tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, 4], tf.int32)))


def test_the_targets_from_a_known_last_downbeat_to_the_end_symbol_weigh_the_final_bar_weight() -> None:
    # a 4-step bar, a 1-step pickup: downbeats at steps 1 and 5; the 7-step song ends at step 7
    (_, targets, weights), = meter_data.song_examples(_songs(4, 1, 7), 100, 0, final_bar_weight=3.0)
    np.testing.assert_array_equal(targets, [5, 6, 7, 8, 9, 10, 11, 0])
    np.testing.assert_array_equal(weights, [1, 1, 1, 1, 1, 3, 3, 3])
    # a song ending on a bar line: its whole last bar and the end symbol
    (_, _, weights), = meter_data.song_examples(_songs(4, 0, 8), 100, 0, final_bar_weight=2.0)
    np.testing.assert_array_equal(weights, [1, 1, 1, 1, 2, 2, 2, 2, 2])
    # a symbol given its own weight takes it in the last bar (id 10 there, id 6 before it)
    (_, _, weights), = meter_data.song_examples(_songs(4, 1, 7), 100, 0, final_bar_weight=3.0,
                                                symbol_weights={10: 1.0, 6: 2.0})
    np.testing.assert_array_equal(weights, [1, 1, 1, 1, 1, 1, 3, 3])
    (_, _, weights), = meter_data.song_examples(_songs(4, 1, 7), 100, 0, final_bar_weight=3.0, symbol_weights={11: 2.0})
    np.testing.assert_array_equal(weights, [1, 1, 1, 1, 1, 3, 2, 3])
    # a song not told its length has no last bar it knows of
    (_, _, weights), = meter_data.song_examples(_songs(4, 1, 7, stated=False), 100, 0, final_bar_weight=3.0)
    np.testing.assert_array_equal(weights, np.ones(8))


def test_training_batches_carry_the_weight_and_validation_batches_do_not() -> None:
    config = TrainConfig(architecture="lstm_meter", batching="songs", window=16, batch_size=1, final_bar_weight=4.0)
    (_, _, trained), = meter_data.song_batches(_songs(4, 0, 8), config, 0, training=True).as_numpy_iterator()
    (_, _, validated), = meter_data.song_batches(_songs(4, 0, 8), config, 0,
                                                symbol_weights={9: 2.0}).as_numpy_iterator()
    np.testing.assert_allclose(trained, np.array([[1, 1, 1, 1, 4, 4, 4, 4, 4]]) * 9 / 24, rtol=1e-6)
    np.testing.assert_allclose(validated, np.ones((1, 9)), rtol=1e-6)


@pytest.mark.parametrize(("fields", "message"), [
    ({"final_bar_weight": 0.0}, "final_bar_weight must be > 0, got 0.0"),
    ({"final_bar_weight": 2.0, "batching": "stream"}, "final_bar_weight=2.0 weighs a whole song's last bar"),
    ({"final_bar_hold_weight": -1.0}, "final_bar_hold_weight must be > 0, got -1.0"),
    ({"final_bar_hold_weight": 3.0, "batching": "stream"}, "final_bar_hold_weight=3.0 weighs a whole song's last bar"),
])
def test_a_bad_final_bar_weight_is_refused_naming_it(fields, message) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(architecture="lstm_meter", **{"batching": "songs", **fields})


def test_the_training_batches_of_a_real_corpus_weigh_its_last_bars_notes_and_holds(tiny_dataset) -> None:
    """Beam's output of the tiny corpus through the trainer's input: in the last bars the notes
    struck (and the end) weigh 5, the holds 3, the rests 1 (as every step before)."""
    from trainer.token_models import data  # noqa: PLC0415

    vocabulary = data.load_vocabulary(tiny_dataset)
    hold, rest = vocabulary.symbols.index("_"), vocabulary.symbols.index("r")
    config = TrainConfig(architecture="lstm_meter", batching="songs", window=512, batch_size=64,
                         final_bar_weight=5.0, final_bar_hold_weight=3.0)
    struck = held = 0
    for _, targets, weights in meter_data.window_batches(tiny_dataset, "train", vocabulary, config,
                                                         training=True).as_numpy_iterator():
        for row_targets, row_weights in zip(targets, weights):
            relative = row_weights / row_weights[row_weights > 0].min()  # batches are rescaled: 1 is the least
            heavy = relative > 1.5
            struck += np.isclose(relative, 5.0).sum()
            held += np.isclose(relative, 3.0).sum()
            assert rest not in row_targets[heavy]
            np.testing.assert_allclose(relative[heavy], np.where(row_targets[heavy] == hold, 3.0, 5.0), rtol=1e-5)
            assert not heavy.any() or row_targets[heavy][-1] == vocabulary.delimiter_id  # the end, last of them
    assert struck > 0 and held > 0

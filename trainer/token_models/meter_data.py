"""tf.data input of the meter-aware timestep model: windows of symbols with each step's conditioning.

As ``trainer.token_models.data`` (songs joined by ``/`` into one stream, cut into windows, targets
shifted by one), plus per stream position the conditioning of the step it holds
(``meter_conditioning``), from the tune's meter, mode and pickup (``schema.FEATURE_PICKUP``). The
model's input at a position carries the conditioning of its target: the step it predicts. In
training, each tune states its length (the true bars left) with probability
``LENGTH_SHARE``, else none, so the model serves requests with and without ``--bars``; the
validation split states none. With ``config.batching`` "songs", each tune is one example
instead, from its start (input ``/`` then its symbols, as it is scored and served), at most
``config.window`` steps, in padded batches of tunes of similar lengths whose padding weighs 0;
in training, the notes struck in the last bar of a tune told its length (and its end) weigh
``config.final_bar_weight`` in the loss and its holds ``config.final_bar_hold_weight``, its
rests 1, so that the model learns its cadences.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from preprocessing import schema
from preprocessing.melody.timestep import HOLD, REST
from serving.contract import bar_position as bp
from serving.contract import signatures as sig
from trainer.token_models import data
from trainer.token_models.config import FINAL_BARS, TrainConfig
from trainer.token_models.meter_conditioning import COLUMNS, tune_conditioning
from trainer.token_models.meter_lstm import CONDITIONING, TOKENS

LENGTH_SHARE = 0.5
_POSITION, _BARS_LEFT = COLUMNS.index(sig.BAR_POSITION), COLUMNS.index(sig.BARS_LEFT)  # conditioning columns
_NEEDED = (schema.FEATURE_TIMESTEP, schema.FEATURE_METER, schema.FEATURE_MODE, schema.FEATURE_PICKUP)


def check_features(data_dir: str | os.PathLike) -> None:
    """ValueError naming ``data_dir`` unless its examples carry the features the model needs."""
    data_dir = os.fspath(data_dir)
    known = tfds.builder_from_directory(data_dir).info.features.keys()
    missing = [name for name in _NEEDED if name not in known]
    if missing:
        raise ValueError(f"data folder {data_dir!r} lacks the features {missing} a meter-aware model needs "
                         "(written before them): rerun preprocessing.run")


def meter_values(meter: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Meter strings ``[]`` ("3/4", "") -> (steps per bar, ``bar_position.METERS`` index), int32: the
    graph's ``bar_position.bar_steps_of`` and ``meter_index``."""
    table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant(bp.METERS), tf.range(len(bp.METERS), dtype=tf.int32)), default_value=len(bp.METERS))
    well_formed = tf.strings.regex_full_match(meter, r"[1-9][0-9]?/(1|2|4|8|16|32)")
    parts = tf.strings.split(tf.where(well_formed, meter, "4/4"), "/")
    numerator, denominator = (tf.strings.to_number(parts[i], tf.int32) for i in (0, 1))
    whole = tf.logical_and(well_formed, tf.equal(tf.math.floormod(16 * numerator, denominator), 0))
    bar_steps = tf.where(whole, 16 * numerator // tf.maximum(denominator, 1), bp.DEFAULT_BAR_STEPS)
    return bar_steps, table.lookup(meter)


def conditioned_songs(data_dir: str | os.PathLike, split: str, vocabulary: data.Vocabulary, *, training: bool,
                      seed: int = 0, final_bar: str = "as_written") -> tf.data.Dataset:
    """The split's songs as ``(ids int32 [T], conditioning int32 [T + 1, 4])``: the conditioning of
    steps 0..T (T: where the end symbol comes); songs with unknown symbols are dropped. With
    ``final_bar`` "complete", a song that ends before a bar line (most of erk's: the last bar
    shortened by the pickup) is held to it, as a generated tune ends (``FINAL_BARS``)."""
    if final_bar not in FINAL_BARS:
        raise ValueError(f"final_bar {final_bar!r} is not one of {FINAL_BARS}")
    if final_bar == "complete" and HOLD not in vocabulary.symbols:
        raise ValueError(f"final_bar 'complete' holds a song's last note, but the vocabulary has no {HOLD!r}")
    check_features(data_dir)
    builder = tfds.builder_from_directory(os.fspath(data_dir))
    examples = builder.as_dataset(split=split, shuffle_files=training)
    examples = examples.filter(lambda example: tf.size(example[schema.FEATURE_TIMESTEP]) > 0)
    table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant(vocabulary.symbols), tf.range(vocabulary.size, dtype=tf.int32)), default_value=-1)
    hold = tf.constant(vocabulary.symbols.index(HOLD) if HOLD in vocabulary.symbols else 0, tf.int32)
    draws = tf.data.Dataset.random(seed=seed).map(lambda value: tf.math.floormod(value, 1000) < int(LENGTH_SHARE * 1000))

    def song(example, states_length):
        ids = table.lookup(example[schema.FEATURE_TIMESTEP])
        length = tf.size(ids, tf.int32)
        bar_steps, meter = meter_values(example[schema.FEATURE_METER])
        mode = tf.cast(tf.equal(example[schema.FEATURE_MODE], bp.MODES[1]), tf.int32)
        pickup = tf.math.floormod(tf.cast(example[schema.FEATURE_PICKUP], tf.int32), bar_steps)
        if final_bar == "complete":
            ids = tf.concat([ids, tf.fill([tf.math.floormod(pickup - length, bar_steps)], hold)], 0)
            length = tf.size(ids, tf.int32)
        tune_steps = tf.where(states_length, length, -1)
        steps = tf.range(length + 1, dtype=tf.int32)
        return ids, tune_conditioning(steps, bar_steps, pickup, meter, mode, tune_steps)

    lengths = draws if training else tf.data.Dataset.from_tensors(False).repeat()
    songs = tf.data.Dataset.zip((examples, lengths)).map(song, num_parallel_calls=tf.data.AUTOTUNE)
    return songs.filter(lambda ids, conditioning: tf.reduce_min(ids) >= 0)


def song_frames(data_dir: str | os.PathLike, split: str, vocabulary: data.Vocabulary, *,
                lengths: bool = False) -> tuple[list[np.ndarray], list[bp.TuneFrame], int]:
    """The split's timestep songs as id arrays (``data.load_song_arrays``' order) with their frames
    (with ``lengths``, each tune's own length), and how many were dropped for unknown symbols."""
    check_features(data_dir)
    examples = tfds.builder_from_directory(os.fspath(data_dir)).as_dataset(split=split, shuffle_files=False)
    index = {symbol: position for position, symbol in enumerate(vocabulary.symbols)}
    songs, frames, dropped = [], [], 0
    for example in examples.as_numpy_iterator():
        symbols = [symbol.decode("utf-8") for symbol in example[schema.FEATURE_TIMESTEP]]
        if not symbols:
            continue
        if any(symbol not in index for symbol in symbols):
            dropped += 1
            continue
        meter = example[schema.FEATURE_METER].decode("utf-8")
        bar_steps = bp.bar_steps_of(meter)
        mode = int(example[schema.FEATURE_MODE].decode("utf-8") == bp.MODES[1])
        songs.append(np.array([index[symbol] for symbol in symbols], np.int32))
        frames.append(bp.TuneFrame(bar_steps, int(example[schema.FEATURE_PICKUP]) % bar_steps, bp.meter_index(meter),
                                   mode, len(symbols) if lengths else None))
    return songs, frames, dropped


def frame_table(data_dir: str | os.PathLike, vocabulary: data.Vocabulary) -> bp.FrameTable:
    """The training split's tunes' frames (meter, pickup, bars, the bars each repeats), for the
    export's `tune_frames`."""
    songs, frames, _ = song_frames(data_dir, "train", vocabulary, lengths=True)
    return bp.FrameTable.of([dataclasses.replace(frame, repeats=bp.bar_repeats(song.tolist(), frame.pickup,
                                                                              frame.bar_steps))
                             for song, frame in zip(songs, frames)])


def conditioned_windows(songs: tf.data.Dataset, window: int, delimiter_id: int) -> tf.data.Dataset:
    """Songs -> ``({TOKENS: [window], CONDITIONING: [window, 4]}, targets [window])``, as
    ``data.windows``: the conditioning shifted with the targets, so that it is the target step's."""
    delimiter = tf.constant([delimiter_id], tf.int32)
    stream = songs.map(lambda ids, conditioning: (tf.concat([ids, delimiter], 0), conditioning)).unbatch()
    chunks = stream.batch(window, drop_remainder=True)

    def pair(state, chunk):
        previous_ids, previous_conditioning, has_previous = state
        ids, conditioning = chunk
        targets = tf.concat([previous_ids[1:], ids[:1]], axis=0)
        target_conditioning = tf.concat([previous_conditioning[1:], conditioning[:1]], axis=0)
        return (ids, conditioning, tf.constant(True)), (previous_ids, target_conditioning, targets, has_previous)

    initial = (tf.zeros([window], tf.int32), tf.zeros([window, 4], tf.int32), tf.constant(False))
    paired = chunks.scan(initial, pair).filter(lambda ids, conditioning, targets, valid: valid)
    return paired.map(lambda ids, conditioning, targets, valid: ({TOKENS: ids, CONDITIONING: conditioning}, targets))


def song_examples(songs: tf.data.Dataset, window: int, delimiter_id: int, final_bar_weight: float = 1.0,
                  symbol_weights: Mapping[int, float] | None = None) -> tf.data.Dataset:
    """Songs -> ``({TOKENS: [T], CONDITIONING: [T, 4]}, targets [T], weights [T])``: ``/`` then the
    song in, the song then ``/`` out, each input with its target's conditioning, cut to ``window``.
    In a song told its length, the targets from its last downbeat to its end symbol weigh
    ``final_bar_weight``, or for an id in ``symbol_weights`` its weight there (the trainer's: the
    hold's and the rest's); the rest weigh 1, as every target of a song without its length."""
    delimiter = tf.constant([delimiter_id], tf.int32)

    def example(ids, conditioning):
        tokens = tf.concat([delimiter, ids], 0)[:window]
        targets = tf.concat([ids, delimiter], 0)
        steps = tf.range(tf.size(ids) + 1)
        at_downbeat = tf.equal(conditioning[:, _POSITION], 0)
        downbeats = tf.where(tf.logical_and(at_downbeat, steps < tf.size(ids)), steps, 0)
        stated = tf.not_equal(conditioning[0, _BARS_LEFT], bp.NO_LENGTH)  # the model is told where the song ends
        weighted = tf.logical_and(stated, steps >= tf.reduce_max(downbeats))
        weights = tf.where(weighted, final_bar_weight, 1.0)
        for symbol, weight in (symbol_weights or {}).items():
            weights = tf.where(tf.logical_and(weighted, tf.equal(targets, symbol)), weight, weights)
        weights = weights[:window]
        return ({TOKENS: tokens, CONDITIONING: conditioning[:window]}, targets[:window], weights)

    return songs.map(example)


def noisy_pitches(examples: tf.data.Dataset, pitch_ids: list[int], share: float, seed: int) -> tf.data.Dataset:
    """``song_examples``' examples with each input pitch (an id in ``pitch_ids``) replaced, with
    probability ``share``, by one of ``pitch_ids`` drawn uniformly; drawn afresh on each pass."""
    pitches = tf.constant(pitch_ids, tf.int32)
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def noise(example, draw):
        inputs, targets, weights = example
        tokens = inputs[TOKENS]
        seeds = tf.stack([draw, tf.constant(0, tf.int64)])
        replaced = tf.logical_and(tf.reduce_any(tf.equal(tokens[:, None], pitches[None, :]), axis=1),
                                  tf.random.stateless_uniform(tf.shape(tokens), seeds) < share)
        drawn = tf.gather(pitches, tf.random.stateless_uniform(tf.shape(tokens), seeds + [0, 1], maxval=len(pitch_ids),
                                                               dtype=tf.int32))
        return {**inputs, TOKENS: tf.where(replaced, drawn, tokens)}, targets, weights

    return tf.data.Dataset.zip((examples, draws)).map(noise, num_parallel_calls=tf.data.AUTOTUNE)


def _mean_over_steps(inputs, targets, weights):
    """Weights scaled so that a batch's mean loss (Keras divides by all its steps) is the mean over its real steps."""
    scale = tf.cast(tf.size(weights), tf.float32) / tf.maximum(tf.reduce_sum(weights), 1.0)
    return inputs, targets, weights * scale


def song_batches(songs: tf.data.Dataset, config: TrainConfig, delimiter_id: int, *,
                 training: bool = False, symbol_weights: Mapping[int, float] | None = None,
                 pitch_ids: list[int] | None = None) -> tf.data.Dataset:
    """Padded batches ``({TOKENS: [B, T], CONDITIONING: [B, T, 4]}, targets [B, T], weights [B, T])`` of
    songs bucketed by length (padding: ``/`` with weight 0); when ``training``, the last bars weighted
    by ``config.final_bar_weight`` and ``symbol_weights`` as ``song_examples`` says, and
    ``config.input_noise`` of the input pitches (``pitch_ids``) replaced (``noisy_pitches``)."""
    boundaries = [bound for bound in (64, 96, 128, 160, 192, 256, 320, 384, 512) if bound < config.window]
    padding = ({TOKENS: delimiter_id, CONDITIONING: 0}, delimiter_id, 0.0)
    final_bar_weight, symbol_weights = (config.final_bar_weight, symbol_weights) if training else (1.0, None)
    examples = song_examples(songs, config.window, delimiter_id, final_bar_weight, symbol_weights)
    if training and config.input_noise:
        if not pitch_ids:
            raise ValueError(f"input_noise={config.input_noise!r} replaces pitches, but no pitch ids were given")
        examples = noisy_pitches(examples, pitch_ids, config.input_noise, config.seed)
    batches = examples.bucket_by_sequence_length(
        lambda inputs, targets, weights: tf.shape(targets)[0], [bound + 1 for bound in boundaries],
        [config.batch_size] * (len(boundaries) + 1), padding_values=padding)
    return batches.map(_mean_over_steps)


def window_batches(data_dir: str | os.PathLike, split: str, vocabulary: data.Vocabulary, config: TrainConfig, *,
                   training: bool) -> tf.data.Dataset:
    """Batches ``({TOKENS: [B, window], CONDITIONING: [B, window, 4]}, targets [B, window])`` (or ``song_batches``'
    with ``config.batching`` "songs"); shuffled when ``training``."""
    songs = conditioned_songs(data_dir, split, vocabulary, training=training, seed=config.seed,
                              final_bar=config.final_bar)
    if training:
        songs = songs.shuffle(config.shuffle_songs, seed=config.seed, reshuffle_each_iteration=True)
    if config.batching == "songs":
        # the last bar's rests weigh 1: weighted, they put rests on 8% of downbeats (the corpus's 0.8%)
        weights = {HOLD: config.final_bar_hold_weight, REST: 1.0}
        symbol_weights = {vocabulary.symbols.index(symbol): weight for symbol, weight in weights.items()
                          if symbol in vocabulary.symbols}
        pitch_ids = [index for index, symbol in enumerate(vocabulary.symbols)
                     if index != vocabulary.delimiter_id and symbol not in (HOLD, REST)]
        batches = song_batches(songs, config, vocabulary.delimiter_id, training=training,
                               symbol_weights=symbol_weights, pitch_ids=pitch_ids)
        return batches.prefetch(tf.data.AUTOTUNE)
    examples = conditioned_windows(songs, config.window, vocabulary.delimiter_id)
    if training:
        examples = examples.shuffle(config.shuffle_windows, seed=config.seed, reshuffle_each_iteration=True)
    return examples.batch(config.batch_size).prefetch(tf.data.AUTOTUNE)

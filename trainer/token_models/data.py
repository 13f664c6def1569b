"""tf.data input from a preprocessing output folder (see ``preprocessing/schema.py``).

The songs of a split are read through TFDS as symbols of one feature (``timestep``: the 38-symbol
text; ``abc``: the normalised ABC text, one symbol per character), mapped to token ids with the
folder's vocabulary of that feature, joined into one stream (each song followed by its
feature's delimiter: ``/``, or a newline, which leaves a blank line between ABC tunes), and cut
into windows: inputs ``window[:-1]`` and targets ``window[1:]``, so every step of a window is a
target. All of it streams: memory is bounded by the shuffle buffers, not by the corpus.
"""
from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from preprocessing import schema
from preprocessing.melody.timestep import DELIMITER
from trainer.files import write_text
from trainer.token_models.config import TrainConfig

logger = logging.getLogger(__name__)


# feature -> (vocabulary file, symbol that ends every song in the training stream)
FEATURES = {
    schema.FEATURE_TIMESTEP: (schema.VOCABULARY_FILE, DELIMITER),
    schema.FEATURE_ABC: (schema.ABC_VOCABULARY_FILE, "\n"),
}


def _check_feature(feature: str) -> None:
    if feature not in FEATURES:
        raise ValueError(f"unknown feature {feature!r}; known: {sorted(FEATURES)}")


@dataclass(frozen=True)
class Vocabulary:
    """The symbols of one feature in index order and their training-split counts."""

    symbols: tuple[str, ...]
    counts: tuple[int, ...]
    feature: str = schema.FEATURE_TIMESTEP

    def __post_init__(self) -> None:
        _check_feature(self.feature)
        if self.delimiter not in self.symbols:
            raise ValueError(f"vocabulary {list(self.symbols)} lacks the delimiter {self.delimiter!r}")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"vocabulary has duplicate symbols: {list(self.symbols)}")

    @property
    def delimiter(self) -> str:
        """The symbol that ends every song in the training stream."""
        return FEATURES[self.feature][1]

    @property
    def size(self) -> int:
        return len(self.symbols)

    @property
    def delimiter_id(self) -> int:
        return self.symbols.index(self.delimiter)

    def stream_counts(self, num_songs: int) -> np.ndarray:
        """Counts ``[V]`` of the joined stream: the delimiter counted at least once per song."""
        counts = np.array(self.counts, dtype=np.int64)
        counts[self.delimiter_id] = max(counts[self.delimiter_id], num_songs)
        return counts


def with_symbols(symbols: Sequence[str], vocabulary: Vocabulary) -> Vocabulary:
    """A vocabulary of ``symbols`` (an export's, in its order) with ``vocabulary``'s counts (0 where it lacks one)."""
    counts = dict(zip(vocabulary.symbols, vocabulary.counts))
    return Vocabulary(tuple(symbols), tuple(counts.get(symbol, 0) for symbol in symbols), vocabulary.feature)


def read_vocabulary_file(path: str) -> list[tuple[str, int]]:
    """Reads a vocabulary TSV (local path or URL) into ``[(symbol, count), ...]`` in index order."""
    with tf.io.gfile.GFile(path) as handle:
        return schema.parse_vocabulary(handle.read(), path)


def write_vocabulary_file(path: str, entries: list[tuple[str, int]]) -> None:
    """Writes ``[(symbol, count), ...]`` as a vocabulary TSV (local path or URL)."""
    write_text(path, schema.format_vocabulary(entries))


def load_vocabulary(data_dir: str | os.PathLike, feature: str = schema.FEATURE_TIMESTEP) -> Vocabulary:
    """Reads the ``feature``'s vocabulary file of ``data_dir``; a missing file raises ValueError naming it."""
    _check_feature(feature)
    data_dir = os.fspath(data_dir)
    path = os.path.join(data_dir, FEATURES[feature][0])
    if tf.io.gfile.isdir(path) or not tf.io.gfile.exists(path):
        raise ValueError(f"no vocabulary file {path!r} (is {data_dir!r} a preprocessing output?)")
    entries = read_vocabulary_file(path)
    return Vocabulary(tuple(s for s, _ in entries), tuple(c for _, c in entries), feature)


def check_data_dir(data_dir: str | os.PathLike) -> None:
    """Raises ValueError naming ``data_dir`` unless it holds TFRecords, the completion marker
    (``schema.COMPLETE_FILE``, written last by the preprocessing job), TFDS metadata and a vocabulary.

    ``data_dir`` is a local folder or a URL (``gs://``, ``ram://``), read through ``tf.io.gfile``.
    """
    data_dir = os.fspath(data_dir)
    if not tf.io.gfile.isdir(data_dir):
        raise ValueError(f"data folder {data_dir!r} does not exist")
    if not tf.io.gfile.glob(os.path.join(data_dir, "*.tfrecord*")):
        raise ValueError(f"data folder {data_dir!r} holds no TFRecords (*.tfrecord*); run preprocessing.run first")
    if not tf.io.gfile.exists(os.path.join(data_dir, schema.COMPLETE_FILE)):
        raise ValueError(f"data folder {data_dir!r} is not a complete dataset (no {schema.COMPLETE_FILE}: the "
                         "preprocessing run that wrote it did not finish, or predates the marker): rerun preprocessing")
    if not tf.io.gfile.exists(os.path.join(data_dir, "dataset_info.json")):
        raise ValueError(f"data folder {data_dir!r} has no dataset_info.json (not a TFDS dataset)")
    load_vocabulary(data_dir)


def count_songs(data_dir: str | os.PathLike, split: str) -> int:
    """Number of examples of ``split`` recorded in the TFDS metadata."""
    data_dir = os.fspath(data_dir)
    builder = tfds.builder_from_directory(data_dir)
    if split not in builder.info.splits:
        raise ValueError(f"split {split!r} not in {data_dir!r}; it has {sorted(builder.info.splits)}")
    return builder.info.splits[split].num_examples


def song_symbols(
    data_dir: str | os.PathLike, split: str, *, shuffle_files: bool = False, feature: str = schema.FEATURE_TIMESTEP
) -> tf.data.Dataset:
    """The split's songs as string tensors ``[steps]`` of ``feature``'s symbols (ABC text split into
    characters); tunes without that encoding are skipped."""
    _check_feature(feature)
    data_dir = os.fspath(data_dir)
    if count_songs(data_dir, split) == 0:
        raise ValueError(f"split {split!r} of {data_dir!r} has no songs")
    builder = tfds.builder_from_directory(data_dir)
    examples = builder.as_dataset(split=split, shuffle_files=shuffle_files)
    if feature == schema.FEATURE_ABC:
        def symbols(example):
            return tf.strings.unicode_split(example[feature], "UTF-8")
    else:
        def symbols(example):
            return example[feature]
    songs = examples.map(symbols, num_parallel_calls=tf.data.AUTOTUNE)
    return songs.filter(lambda song: tf.size(song) > 0)


def song_tokens(songs: tf.data.Dataset, vocabulary: Vocabulary) -> tf.data.Dataset:
    """String songs ``[steps]`` -> int32 ids ``[steps]``; songs holding an unknown symbol are dropped."""
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(vocabulary.symbols), tf.range(vocabulary.size, dtype=tf.int32)
        ),
        default_value=-1,
    )
    tokens = songs.map(table.lookup, num_parallel_calls=tf.data.AUTOTUNE)
    return tokens.filter(lambda ids: tf.reduce_min(ids) >= 0)


def windows(token_songs: tf.data.Dataset, window: int, delimiter_id: int) -> tf.data.Dataset:
    """Songs of ids ``[steps]`` -> ``(inputs [window], targets [window])``, targets shifted by one.

    The songs are joined into one stream, each followed by the delimiter, and cut into
    consecutive chunks of ``window`` ids; a chunk's targets are its ids from the second on plus
    the next chunk's first id, so every stream position but the last is a target exactly once.
    """
    delimiter = tf.constant([delimiter_id], tf.int32)
    stream = token_songs.map(lambda ids: tf.concat([ids, delimiter], axis=0)).unbatch()
    chunks = stream.batch(window, drop_remainder=True)

    def pair(state, chunk):
        previous, has_previous = state
        targets = tf.concat([previous[1:], chunk[:1]], axis=0)
        return (chunk, tf.constant(True)), (previous, targets, has_previous)

    initial = (tf.zeros([window], tf.int32), tf.constant(False))
    paired = chunks.scan(initial, pair).filter(lambda inputs, targets, valid: valid)
    return paired.map(lambda inputs, targets, valid: (inputs, targets))


def count_windows(data_dir: str | os.PathLike, split: str, vocabulary: Vocabulary, window: int) -> int:
    """How many ``window``-step training examples ``split`` yields (one streaming pass)."""
    songs = song_symbols(data_dir, split, feature=vocabulary.feature)
    examples = windows(song_tokens(songs, vocabulary), window, vocabulary.delimiter_id)
    return int(examples.reduce(np.int64(0), lambda count, _: count + 1))


def window_batches(
    data_dir: str | os.PathLike, split: str, vocabulary: Vocabulary, config: TrainConfig, *, training: bool
) -> tf.data.Dataset:
    """Batches ``(inputs [B, window], targets [B, window])`` of ``split``; shuffled when ``training``."""
    songs = song_symbols(data_dir, split, shuffle_files=training, feature=vocabulary.feature)
    if training:
        songs = songs.shuffle(config.shuffle_songs, seed=config.seed, reshuffle_each_iteration=True)
    examples = windows(song_tokens(songs, vocabulary), config.window, vocabulary.delimiter_id)
    if training:
        examples = examples.shuffle(config.shuffle_windows, seed=config.seed, reshuffle_each_iteration=True)
    return examples.batch(config.batch_size).prefetch(tf.data.AUTOTUNE)


def load_song_arrays(data_dir: str | os.PathLike, split: str, vocabulary: Vocabulary) -> tuple[list[np.ndarray], int]:
    """The split's songs as id arrays (for evaluation), and how many were dropped for unknown symbols."""
    all_songs = list(song_symbols(data_dir, split, feature=vocabulary.feature).as_numpy_iterator())
    index = {symbol: position for position, symbol in enumerate(vocabulary.symbols)}
    arrays, dropped = [], 0
    for song in all_songs:
        symbols = [symbol.decode("utf-8") for symbol in song]
        if any(symbol not in index for symbol in symbols):
            dropped += 1
            continue
        arrays.append(np.array([index[symbol] for symbol in symbols], dtype=np.int32))
    if dropped:
        logger.warning("%s/%s: %d songs dropped for symbols outside the vocabulary", data_dir, split, dropped)
    return arrays, dropped


def outside_vocabulary(data_dir: str | os.PathLike, split: str, vocabulary: Vocabulary) -> tuple[int, list[dict]]:
    """How many songs ``split`` has (with the feature), and a dead letter (``split``, ``tune_id``,
    ``title``, ``reason``, ``detail``, ``symbols``) for each holding symbols outside ``vocabulary``:
    the songs ``song_tokens`` drops."""
    data_dir = os.fspath(data_dir)
    known, letters, songs = set(vocabulary.symbols), [], 0
    for example in tfds.builder_from_directory(data_dir).as_dataset(split=split).as_numpy_iterator():
        value = example[vocabulary.feature]
        symbols = list(value.decode("utf-8")) if vocabulary.feature == schema.FEATURE_ABC else [
            symbol.decode("utf-8") for symbol in value]
        if not symbols:
            continue
        songs += 1
        outside = sorted(set(symbols) - known)
        if outside:
            letters.append({
                "split": split, "tune_id": example[schema.FEATURE_ID].decode("utf-8"),
                "title": example[schema.FEATURE_TITLE].decode("utf-8"), "reason": "symbol_outside_vocabulary",
                "detail": f"{vocabulary.feature} symbols {outside} are not in the model's vocabulary", "symbols": outside,
            })
    return songs, letters


def symbol_tally(letters: Sequence[dict]) -> dict[str, int]:
    """How many dead letters name each symbol, most frequent first."""
    return dict(Counter(symbol for letter in letters for symbol in letter["symbols"]).most_common())

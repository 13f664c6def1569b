"""tf.data input: windowing of the joined stream, and reading a real preprocessing output."""
import re

import numpy as np
import pytest
import tensorflow as tf

from preprocessing import schema
from trainer.token_models import data
from trainer.token_models.config import resolve_config


def _songs_dataset(songs):
    return tf.data.Dataset.from_generator(
        lambda: (np.array(song, np.int32) for song in songs), output_signature=tf.TensorSpec([None], tf.int32)
    )


def test_windows_shift_targets_by_one_and_cover_the_stream():
    songs = [[5, 6, 7], [8, 9], [10, 11, 12, 13]]
    stream = [5, 6, 7, 0, 8, 9, 0, 10, 11, 12, 13, 0]  # each song followed by the delimiter 0
    pairs = list(data.windows(_songs_dataset(songs), window=4, delimiter_id=0).as_numpy_iterator())
    assert len(pairs) == 2  # chunks of 4: three full chunks, the last one only supplies a target
    for index, (inputs, targets) in enumerate(pairs):
        assert inputs.shape == targets.shape == (4,)
        np.testing.assert_array_equal(inputs, stream[4 * index : 4 * index + 4])
        np.testing.assert_array_equal(targets, stream[4 * index + 1 : 4 * index + 5])


def test_window_batches_of_a_real_preprocessing_output(tiny_dataset):
    vocabulary = data.load_vocabulary(tiny_dataset)
    assert vocabulary.symbols[vocabulary.delimiter_id] == "/"
    config = resolve_config("lstm", {"window": "16", "batch_size": "4"})
    batches = list(data.window_batches(tiny_dataset, "train", vocabulary, config, training=True))
    inputs, targets = batches[0]
    assert inputs.shape == targets.shape == (4, 16)
    assert inputs.dtype == targets.dtype == tf.int32
    every_input = np.concatenate([b[0].numpy().ravel() for b in batches])
    assert every_input.min() >= 0 and every_input.max() < vocabulary.size
    songs, dropped = data.load_song_arrays(tiny_dataset, "train", vocabulary)
    assert dropped == 0 and len(songs) == data.count_songs(tiny_dataset, "train")
    stream_length = sum(len(song) + 1 for song in songs)
    assert sum(len(b[0]) for b in batches) == stream_length // 16 - 1


def test_unknown_symbols_drop_the_song(tiny_dataset):
    full = data.load_vocabulary(tiny_dataset)
    pitch = next(s for s in full.symbols if s.isdigit())
    reduced = data.Vocabulary(tuple(s for s in full.symbols if s != pitch), (1,) * (full.size - 1))
    kept, dropped = data.load_song_arrays(tiny_dataset, "train", reduced)
    assert dropped >= 1 and len(kept) + dropped == data.count_songs(tiny_dataset, "train")


def test_a_folder_without_tfrecords_is_named(tmp_path):
    (tmp_path / schema.VOCABULARY_FILE).write_text("/\t0\n_\t3\n")
    with pytest.raises(ValueError, match=f"{tmp_path}.*no TFRecords"):
        data.check_data_dir(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        data.check_data_dir(tmp_path / "missing")


def test_shards_without_the_completion_marker_are_not_a_complete_dataset(tmp_path):
    # What a preprocessing run killed while moving its files into place leaves: new shards, old metadata.
    (tmp_path / f"{schema.DATASET_NAME}-train.tfrecord-00000-of-00001").write_bytes(b"new shard")
    (tmp_path / "dataset_info.json").write_text("{}")
    (tmp_path / schema.VOCABULARY_FILE).write_text("/\t0\n_\t3\n")
    folder = re.escape(repr(str(tmp_path)))
    with pytest.raises(ValueError, match=f"^data folder {folder} is not a complete dataset .*: rerun preprocessing$"):
        data.check_data_dir(tmp_path)
    (tmp_path / schema.COMPLETE_FILE).write_text("{}")
    data.check_data_dir(tmp_path)


def test_vocabulary_without_delimiter_is_rejected(tmp_path):
    (tmp_path / schema.VOCABULARY_FILE).write_text("_\t3\n60\t2\n")
    with pytest.raises(ValueError, match="delimiter"):
        data.load_vocabulary(tmp_path)
    with pytest.raises(ValueError, match="no vocabulary file"):
        data.load_vocabulary(tmp_path / "elsewhere")


def test_a_missing_gs_folder_is_named_unmangled(monkeypatch):
    # Only the message: a real gs:// lookup would ask the network. The path must reach gfile whole.
    asked = []
    monkeypatch.setattr(tf.io.gfile, "isdir", lambda path: asked.append(path) or False)
    with pytest.raises(ValueError, match="^data folder 'gs://bucket/x' does not exist$"):
        data.check_data_dir("gs://bucket/x")
    assert asked == ["gs://bucket/x"]


def test_a_preprocessing_output_on_ram_is_read_like_a_local_one(tiny_dataset, ram_root):
    with pytest.raises(ValueError, match=f"^data folder '{ram_root}/data' does not exist$"):
        data.check_data_dir(f"{ram_root}/data")
    tf.io.gfile.makedirs(f"{ram_root}/data")
    with pytest.raises(ValueError, match=f"'{ram_root}/data' holds no TFRecords"):
        data.check_data_dir(f"{ram_root}/data")
    for name in tf.io.gfile.listdir(str(tiny_dataset)):
        tf.io.gfile.copy(str(tiny_dataset / name), f"{ram_root}/data/{name}")
    data.check_data_dir(f"{ram_root}/data")
    vocabulary = data.load_vocabulary(f"{ram_root}/data")
    assert vocabulary == data.load_vocabulary(tiny_dataset)
    on_ram, _ = data.load_song_arrays(f"{ram_root}/data", "train", vocabulary)
    local, _ = data.load_song_arrays(tiny_dataset, "train", vocabulary)
    assert [song.tolist() for song in on_ram] == [song.tolist() for song in local]

"""The TFDS part of the output folder: TFRecord shards and their metadata.

Every file goes through ``tf.io.gfile``, so ``output`` may be a local folder or a ``gs://`` URL.
Shards are written under temporary names by the Beam workers, then renamed to TFDS's
``{DATASET}-{SPLIT}.tfrecord-NNNNN-of-MMMMM`` names once the number of non-empty shards per split
is known (TFDS cannot represent an empty shard or an empty split, so neither is written).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow_datasets.core import dataset_info, naming
from tensorflow_datasets.core import splits as split_lib
from tensorflow_datasets.core import utils as tfds_utils

from preprocessing import output_folder, schema

_LOG = logging.getLogger(__name__)

FILE_FORMAT = "tfrecord"


@dataclass(frozen=True)
class WrittenShard:
    """One shard file written under its temporary name."""

    split: str
    index: int
    temp_path: str
    num_examples: int
    num_bytes: int


def features() -> tfds.features.FeaturesDict:
    """The TFDS features of one example (one tune); names and shapes from ``schema``."""
    text = tfds.features.Text
    return tfds.features.FeaturesDict(
        {
            schema.FEATURE_ID: text(),
            schema.FEATURE_CORPUS: text(),
            schema.FEATURE_TITLE: text(),
            schema.FEATURE_TIMESTEP: tfds.features.Sequence(text()),  # [steps]
            schema.FEATURE_NOTES: tfds.features.Sequence(tf.int32),  # [events]
            schema.FEATURE_RHYTHMS: tfds.features.Sequence(tf.int32),  # [events]
            schema.FEATURE_ABC: text(),
            schema.FEATURE_KEY: text(),
            schema.FEATURE_MODE: text(),
            schema.FEATURE_METER: text(),
            schema.FEATURE_TRANSPOSE: tfds.features.Scalar(tf.int32),
            schema.FEATURE_PICKUP: tfds.features.Scalar(tf.int32),
        }
    )


def serialize_example(feature_connector: tfds.features.FeaturesDict, example: Mapping[str, object]) -> bytes:
    """One tune's features -> a serialized ``tf.train.Example`` in TFDS's layout.

    Keys of ``example`` outside the schema are ignored; a missing key raises ValueError.
    """
    missing = [name for name in feature_connector.keys() if name not in example]
    if missing:
        raise ValueError(f"example {example.get(schema.FEATURE_ID)!r} lacks features {missing}")
    return feature_connector.serialize_example({name: example[name] for name in feature_connector.keys()})


def shard_file_name(split: str, index: int, num_shards: int) -> str:
    """TFDS's default file name of shard ``index`` of ``num_shards`` in ``split``."""
    return f"{schema.DATASET_NAME}-{split}.{FILE_FORMAT}-{index:05d}-of-{num_shards:05d}"


def temp_shard_path(output: str, split: str, index: int) -> str:
    """Where a worker writes shard ``index`` of ``split`` before the final rename."""
    return tf.io.gfile.join(output, f"{output_folder.TEMP_SHARD_PREFIX}{split}-{index:05d}")


def write_shard(output: str, split: str, index: int, records: Iterable[tuple[str, bytes]]) -> WrittenShard:
    """Writes ``(tune_id, serialized example)`` records, sorted by tune id, to a temporary shard."""
    path = temp_shard_path(output, split, index)
    count = 0
    with tf.io.TFRecordWriter(path) as writer:
        for _, record in sorted(records):
            writer.write(record)
            count += 1
    return WrittenShard(split, index, path, count, tf.io.gfile.stat(path).length)


def finalize_dataset(output: str, shards: Sequence[WrittenShard], description: str) -> dict[str, int]:
    """Renames the shards to their TFDS names and writes ``dataset_info.json`` + ``features.json``.

    Returns the number of examples per split (splits with no example are left out of the
    metadata, since TFDS cannot read an empty split).
    """
    split_infos = []
    per_split: dict[str, int] = {}
    for split in schema.SPLITS:
        ordered = sorted((shard for shard in shards if shard.split == split), key=lambda shard: shard.index)
        ordered = [shard for shard in ordered if shard.num_examples > 0]
        if not ordered:
            _LOG.warning("split %r has no example; it is left out of the TFDS metadata", split)
            continue
        for position, shard in enumerate(ordered):
            final = tf.io.gfile.join(output, shard_file_name(split, position, len(ordered)))
            if tf.io.gfile.exists(shard.temp_path):  # absent when a retried bundle already renamed it
                tf.io.gfile.rename(shard.temp_path, final, overwrite=True)
        template = naming.ShardedFileTemplate(
            data_dir=output,
            template=naming.DEFAULT_FILENAME_TEMPLATE,
            dataset_name=schema.DATASET_NAME,
            split=split,
            filetype_suffix=FILE_FORMAT,
        )
        split_infos.append(
            split_lib.SplitInfo(
                name=split,
                shard_lengths=[shard.num_examples for shard in ordered],
                num_bytes=sum(shard.num_bytes for shard in ordered),
                filename_template=template,
            )
        )
        per_split[split] = sum(shard.num_examples for shard in ordered)
    identity = dataset_info.DatasetIdentity(
        name=schema.DATASET_NAME,
        version=tfds_utils.Version(schema.DATASET_VERSION),
        data_dir=output,
        module_name="",
    )
    info = dataset_info.DatasetInfo(builder=identity, features=features(), description=description)
    info.set_file_format(FILE_FORMAT)
    info.set_splits(split_lib.SplitDict(split_infos))
    info.write_to_directory(output)
    return per_split

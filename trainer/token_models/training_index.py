"""The training split's tunes as a novelty index (``preprocessing.melody.novelty``) for the export.

``build_training_index(data_dir, feature)`` reads every training tune's title and its notes
(timestep songs decoded, ABC tunes as written) from the preprocessing output; the exporter ships
``to_bytes()`` in the SavedModel's `training_index` signature.
"""
from __future__ import annotations

import logging
import os

import tensorflow_datasets as tfds

from preprocessing import schema
from preprocessing.melody.novelty import TrainingIndex, abc_note_keys, timestep_note_keys
from preprocessing.melody.timestep import DELIMITER

logger = logging.getLogger(__name__)


def build_training_index(data_dir: str | os.PathLike, feature: str) -> TrainingIndex:
    """Title and note keys of every tune of the train split that has ``feature`` (and a note)."""
    builder = tfds.builder_from_directory(os.fspath(data_dir))
    titles, tunes = [], []
    for example in builder.as_dataset(split="train").as_numpy_iterator():
        value = example[feature]
        if feature == schema.FEATURE_ABC:
            keys = abc_note_keys(value.decode("utf-8"))
        else:
            keys = timestep_note_keys([symbol.decode("utf-8") for symbol in value if symbol != DELIMITER.encode()])
        if keys:
            titles.append(example[schema.FEATURE_TITLE].decode("utf-8"))
            tunes.append(keys)
    logger.info("training index: %d tunes, %d notes", len(tunes), sum(map(len, tunes)))
    return TrainingIndex(titles, tunes)

"""Tiny token-model exports for the client and CLI tests."""
from __future__ import annotations

import shutil
from pathlib import Path

import keras
import tensorflow as tf

from preprocessing.melody.timestep import timestep_vocabulary_order
from serving.contract import bar_position as bp
from serving.contract import signatures as sig
from trainer.token_models.config import TrainConfig
from trainer.token_models.export import export_token_model
from trainer.token_models.lstm import build_lstm_model
from trainer.token_models.meter_export import export_meter_model
from trainer.token_models.meter_lstm import build_meter_lstm_model

VOCABULARY = timestep_vocabulary_order(str(pitch) for pitch in range(55, 80))
UNITS = 8


def export_vocabulary_only(path: Path, outputs: dict) -> None:
    """A SavedModel at ``path`` whose only signature is ``vocabulary``, returning ``outputs``."""
    module = tf.Module()
    module.vocabulary = tf.function(lambda: {name: tf.constant(value) for name, value in outputs.items()},
                                    input_signature=[])
    tf.saved_model.save(module, str(path), signatures={sig.VOCABULARY: module.vocabulary.get_concrete_function()})


def export_tiny_lstm(base_path: Path, training_index: bytes | None = None) -> str:
    """The tiny untrained LSTM (the same weights every time) as the next version under ``base_path``."""
    keras.utils.set_random_seed(3)
    model = build_lstm_model(TrainConfig(architecture="lstm", units=UNITS), len(VOCABULARY))
    return export_token_model(model, VOCABULARY, base_path, warmup=False, model_kind=sig.TOKEN_TIMESTEP,
                              training_index=training_index)


def export_tiny_models(saved_models: Path) -> list[str]:
    """A tiny untrained LSTM as ``lstm_erk`` (and its copy ``lstm_han``); ``no_step``: a SavedModel
    with only a ``vocabulary`` signature (stating its kind); ``no_kind``: the same without
    ``model_kind``, as exports made before kinds were stated. Returns the model names."""
    export_tiny_lstm(saved_models / "lstm_erk")
    shutil.copytree(saved_models / "lstm_erk", saved_models / "lstm_han")
    export_vocabulary_only(saved_models / "no_step" / "1",
                           {sig.SYMBOLS: VOCABULARY, sig.MODEL_KIND: sig.TOKEN_TIMESTEP})
    export_vocabulary_only(saved_models / "no_kind" / "1", {sig.SYMBOLS: VOCABULARY})
    return ["lstm_erk", "lstm_han", "no_step", "no_kind"]


# The training tunes' frames the tiny meter-aware export ships: 4/4 tunes of 3 bars after no pickup and 5
# after a quarter's, and 3/4 tunes of 2 and 4 bars after an eighth's.
TINY_TUNE_FRAMES = [bp.TuneFrame(16, 0, bp.meter_index("4/4"), 0, 48), bp.TuneFrame(16, 4, bp.meter_index("4/4"), 0, 84),
                    bp.TuneFrame(12, 2, bp.meter_index("3/4"), 1, 26), bp.TuneFrame(12, 2, bp.meter_index("3/4"), 0, 50)]
# Frames most of which are in 3/4, for an export whose usual meter is not 4/4.
TINY_WALTZ_FRAMES = [bp.TuneFrame(12, 0, bp.meter_index("3/4"), 0, 36), bp.TuneFrame(12, 3, bp.meter_index("3/4"), 0, 27),
                     bp.TuneFrame(16, 0, bp.meter_index("4/4"), 0, 32)]


def export_tiny_meter_lstm(base_path: Path, tune_frames: bool = True,
                           frames: list[bp.TuneFrame] = TINY_TUNE_FRAMES) -> str:
    """The tiny untrained meter-aware LSTM (the same weights every time) as the next version under
    ``base_path``, with ``frames`` as its `tune_frames` unless not ``tune_frames``."""
    keras.utils.set_random_seed(5)
    model = build_meter_lstm_model(TrainConfig(architecture="lstm_meter", units=UNITS), len(VOCABULARY))
    return export_meter_model(model, VOCABULARY, base_path, warmup=False, model_kind=sig.TOKEN_TIMESTEP,
                              tune_frames=bp.FrameTable.of(frames) if tune_frames else None)

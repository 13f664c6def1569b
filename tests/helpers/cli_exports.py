"""A tiny export of every model kind, for one `saved_model_cli run` process over all of them
(tests/trainer/conftest.py)."""
from __future__ import annotations

import pathlib
from collections.abc import Mapping

import keras
import numpy as np

from preprocessing.melody.novelty import TrainingIndex
from serving.contract import signatures as sig
from tests.helpers.tiny_models import VOCABULARY, export_tiny_meter_lstm
from trainer.token_models.config import TrainConfig
from trainer.token_models.export import export_token_model
from trainer.token_models.lstm import build_lstm_model
from trainer.token_models.meter_export import export_meter_model
from trainer.token_models.meter_lstm import build_meter_lstm_model
from trainer.token_models.random_baseline import build_random_model

TOKEN_SIGNATURES = [sig.GENERATE, sig.STEP, sig.VOCABULARY]
VAE_SIGNATURES = [sig.INFO, sig.ENCODE, sig.DECODE, sig.RECONSTRUCT, sig.SAMPLE]
CHARACTERS = list("XMLK:|abcdefg ABCDEFG2/\n")
VAES = {"vae_notes_sigmoid": "vae_notes", "vae_rhythms_categorical": "vae_rhythms_cat"}  # name: preset


def _lstm(vocabulary_size: int, **fields) -> keras.Model:
    keras.utils.set_random_seed(4)
    return build_lstm_model(TrainConfig(architecture="lstm", **fields), vocabulary_size)


def _attention_export(base_path: pathlib.Path) -> str:
    """A tiny untrained meter-aware LSTM with the tune-memory attention (seed 5), warm-up requests included."""
    keras.utils.set_random_seed(5)
    config = TrainConfig(architecture="lstm_meter", units=8, attention_window=6, attention_heads=1, attention_dim=4)
    model = build_meter_lstm_model(config, len(VOCABULARY))
    return export_meter_model(model, VOCABULARY, base_path, model_kind=sig.TOKEN_TIMESTEP)


def export_every_kind(root: pathlib.Path, vae_exports: Mapping[str, pathlib.Path]
                      ) -> dict[str, tuple[pathlib.Path, list[str]]]:
    """Exports under ``root``; per name, the version folder and the signatures to check. The VAEs
    are version 1 of ``vae_exports`` (base folders by preset)."""
    timestep = _lstm(len(VOCABULARY), units=8)
    characters = _lstm(len(CHARACTERS), units=6, layers=2, input_encoding="embedding", embedding_dim=4)
    random = build_random_model(np.arange(1, len(VOCABULARY) + 1, dtype=np.float64))
    index = TrainingIndex(["Tune"], [["60:1"] * 8]).to_bytes()
    folders = {
        "lstm_timestep": export_token_model(timestep, VOCABULARY, root / "lstm", model_kind=sig.TOKEN_TIMESTEP,
                                            training_index=index),
        "random_timestep": export_token_model(random, VOCABULARY, root / "random", model_kind=sig.TOKEN_TIMESTEP),
        "lstm_characters": export_token_model(characters, CHARACTERS, root / "abc", model_kind=sig.TOKEN_CHARACTERS),
        "lstm_meter": export_tiny_meter_lstm(root / "lstm_meter"),
        "lstm_meter_attention": _attention_export(root / "lstm_meter_attention"),
    }
    exported = {name: (pathlib.Path(folder), TOKEN_SIGNATURES) for name, folder in folders.items()}
    exported["lstm_timestep"] = (exported["lstm_timestep"][0], [*TOKEN_SIGNATURES, sig.TRAINING_INDEX])
    exported["lstm_meter"] = (exported["lstm_meter"][0], [*sig.TOKEN_SIGNATURES, sig.TUNE_FRAMES])
    exported["lstm_meter_attention"] = (exported["lstm_meter_attention"][0], [*sig.TOKEN_SIGNATURES])
    for name, preset in VAES.items():
        exported[name] = (vae_exports[preset] / "1", VAE_SIGNATURES)
    return exported

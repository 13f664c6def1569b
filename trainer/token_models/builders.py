"""The models, one file each, and ``build_model`` choosing one by ``config.architecture``."""
from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from trainer.token_models.config import TrainConfig
from trainer.token_models.lstm import build_lstm_model
from trainer.token_models.meter_lstm import build_meter_lstm_model
from trainer.token_models.random_baseline import build_random_model

# architecture -> builder(config, training-split symbol counts [V]) -> model
MODEL_BUILDERS: dict[str, Callable[[TrainConfig, np.ndarray], keras.Model]] = {
    "lstm": lambda config, counts: build_lstm_model(config, len(counts)),
    "random": lambda config, counts: build_random_model(counts),
    "lstm_meter": lambda config, counts: build_meter_lstm_model(config, len(counts)),
}


def build_model(config: TrainConfig, counts: np.ndarray) -> keras.Model:
    """Builds the model of ``config.architecture`` for a vocabulary with these counts ``[V]``."""
    if config.architecture not in MODEL_BUILDERS:
        raise ValueError(
            f"unknown architecture {config.architecture!r}; known: {sorted(MODEL_BUILDERS)}"
        )
    return MODEL_BUILDERS[config.architecture](config, np.asarray(counts))


__all__ = ["MODEL_BUILDERS", "build_lstm_model", "build_model", "build_random_model"]

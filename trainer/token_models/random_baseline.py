"""The slides' random-generation baseline: every step predicts the training symbol frequencies."""
from __future__ import annotations

import keras
import numpy as np

from trainer.token_models.layers import SymbolFrequencies


def build_random_model(frequencies: np.ndarray) -> keras.Model:
    """Token ids ``[B, T]`` -> ``[B, T, V]``, each row the normalised ``frequencies`` ``[V]``."""
    frequencies = np.asarray(frequencies)
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    layer = SymbolFrequencies(len(frequencies), name="symbol_frequencies")
    probs = layer(tokens)
    layer.set_frequencies(frequencies)
    return keras.Model(tokens, probs, name="random")

"""The meter-aware timestep LSTM: ``(tokens [B, T], conditioning [B, T, 4])`` -> probabilities ``[B, T, V]``.

The seed's LSTM (one-hot symbol, LSTM(units), dropout, dense softmax) with the one-hot
conditioning of each step (``meter_conditioning``) concatenated to the symbol's one-hot. With
``attention_window`` > 0, the last LSTM's output also reads the tune's own past through
``meter_attention.TuneMemoryAttention`` (its read concatenated to the output, before the dense
softmax), so that the model can repeat a phrase.
"""
from __future__ import annotations

import keras

from trainer.token_models.config import TrainConfig
from trainer.token_models.layers import OneHot
from trainer.token_models.meter_attention import TuneMemoryAttention
from trainer.token_models.meter_conditioning import ConditionOneHot

ARCHITECTURE = "lstm_meter"
TOKENS = "tokens"
CONDITIONING = "conditioning"


def build_meter_lstm_model(config: TrainConfig, vocab_size: int) -> keras.Model:
    """One LSTM layer per ``config.layers`` (``use_cudnn=False``, so an export runs on a CPU server)."""
    if vocab_size < 2:
        raise ValueError(f"vocab_size must be >= 2, got {vocab_size!r}")
    if config.input_encoding != "one_hot":
        raise ValueError(f"{ARCHITECTURE} reads one-hot symbols; input_encoding {config.input_encoding!r} is not supported")
    tokens = keras.Input(shape=(None,), dtype="int32", name=TOKENS)
    conditioning = keras.Input(shape=(None, 4), dtype="int32", name=CONDITIONING)
    hidden = keras.layers.Concatenate(name="inputs")(
        [OneHot(vocab_size, name="one_hot")(tokens), ConditionOneHot(name="condition")(conditioning)])
    for index in range(config.layers):
        suffix = "" if index == 0 else f"_{index}"
        hidden = keras.layers.LSTM(config.units, return_sequences=True, use_cudnn=False, name=f"lstm{suffix}")(hidden)
        hidden = keras.layers.Dropout(config.dropout, name=f"dropout{suffix}")(hidden)
    if config.attention_window > 0:
        read = TuneMemoryAttention(config.attention_window, config.attention_heads, config.attention_dim,
                                   name="attention")(hidden)
        hidden = keras.layers.Concatenate(name="with_memory")([hidden, read])
    probs = keras.layers.Dense(vocab_size, activation="softmax", name="dense")(hidden)
    return keras.Model({TOKENS: tokens, CONDITIONING: conditioning}, probs, name=ARCHITECTURE)

"""The token LSTM: token ids ``[B, T]`` -> next-symbol probabilities ``[B, T, V]``."""
from __future__ import annotations

import keras

from trainer.token_models.config import TrainConfig
from trainer.token_models.layers import OneHot


def build_lstm_model(config: TrainConfig, vocab_size: int) -> keras.Model:
    """One-hot (or embedding) -> ``config.layers`` x (LSTM(units) -> Dropout) -> Dense softmax.

    Every LSTM returns sequences (one prediction per input step) and has ``use_cudnn=False`` so
    that an exported model runs on a CPU server.
    """
    if vocab_size < 2:
        raise ValueError(f"vocab_size must be >= 2, got {vocab_size!r}")
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    if config.input_encoding == "one_hot":
        hidden = OneHot(vocab_size, name="one_hot")(tokens)
    else:
        hidden = keras.layers.Embedding(vocab_size, config.embedding_dim, name="embedding")(tokens)
    for index in range(config.layers):
        suffix = "" if index == 0 else f"_{index}"
        hidden = keras.layers.LSTM(
            config.units, return_sequences=True, use_cudnn=False, name=f"lstm{suffix}"
        )(hidden)
        hidden = keras.layers.Dropout(config.dropout, name=f"dropout{suffix}")(hidden)
    probs = keras.layers.Dense(vocab_size, activation="softmax", name="dense")(hidden)
    return keras.Model(tokens, probs, name="lstm")

"""Small custom Keras layers shared by the token models; registered so saved models reload."""
from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="folkgen")
class OneHot(keras.layers.Layer):
    """Token ids of any shape ``[...]`` -> float32 one-hot vectors ``[..., depth]``; no weights."""

    def __init__(self, depth: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.depth = int(depth)

    def call(self, tokens):
        return ops.one_hot(ops.cast(tokens, "int32"), self.depth, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.depth)

    def get_config(self) -> dict:
        return {**super().get_config(), "depth": self.depth}


@keras.saving.register_keras_serializable(package="folkgen")
class SymbolFrequencies(keras.layers.Layer):
    """Ignores the tokens' values: token ids ``[B, T]`` -> the same distribution ``[B, T, V]``.

    The distribution is ``softmax(log_probs)``, a non-trainable weight ``log_probs`` of shape
    ``[V]`` holding the log training-split frequencies of the symbols.
    """

    def __init__(self, vocab_size: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)
        self.log_probs = self.add_weight(
            name="log_probs", shape=(self.vocab_size,), initializer="zeros", trainable=False
        )

    def set_frequencies(self, frequencies: np.ndarray) -> None:
        """Stores counts or probabilities ``[V]`` (>= 0, not all zero) as log-probabilities."""
        frequencies = np.asarray(frequencies, dtype=np.float64)
        if frequencies.shape != (self.vocab_size,):
            raise ValueError(f"expected {self.vocab_size} frequencies, got shape {frequencies.shape}")
        if (frequencies < 0).any() or frequencies.sum() <= 0:
            raise ValueError(f"frequencies must be >= 0 and not all zero, got {frequencies.tolist()}")
        with np.errstate(divide="ignore"):
            log_probs = np.log(frequencies / frequencies.sum())
        # A symbol never seen in training keeps a tiny probability instead of -inf.
        self.log_probs.assign(np.maximum(log_probs, -30.0).astype("float32"))

    def call(self, tokens):
        probs = ops.softmax(self.log_probs)
        shape = (*ops.shape(tokens), self.vocab_size)
        return ops.broadcast_to(ops.cast(probs, self.compute_dtype), shape)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.vocab_size)

    def get_config(self) -> dict:
        return {**super().get_config(), "vocab_size": self.vocab_size}

"""Scoring songs with an exported token model through its ``step`` and ``vocabulary`` signatures."""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from serving.contract import signatures as sig
from serving.contract.bar_position import TuneFrame


def stated_kind(loaded, model_dir: str | os.PathLike, answer: dict | None = None) -> str:
    """The model kind a loaded token export states in ``vocabulary`` (its ``answer``, when already
    asked); ValueError naming the export when it states none (exported before model kinds
    existed: export it again)."""
    answer = loaded.signatures[sig.VOCABULARY]() if answer is None else answer
    if sig.MODEL_KIND not in answer:
        raise ValueError(f"SavedModel {os.fspath(model_dir)!r} states no {sig.MODEL_KIND!r} in its {sig.VOCABULARY!r} "
                         "signature; export it again with this version of the trainer")
    return answer[sig.MODEL_KIND].numpy().decode("utf-8")


def require_kind(loaded, model_dir: str | os.PathLike, kind: str, hint: str) -> None:
    """ValueError naming the export and ``hint`` unless it states model kind ``kind``."""
    stated = stated_kind(loaded, model_dir)
    if stated != kind:
        raise ValueError(f"{os.fspath(model_dir)!r} is a {stated} model, not {kind}; {hint}")


class StepScorer:
    """Wraps a loaded SavedModel's ``step`` and ``vocabulary`` signatures."""

    def __init__(self, model_dir: str | os.PathLike) -> None:
        self.model_dir = os.fspath(model_dir)
        loaded = tf.saved_model.load(self.model_dir)
        for name in (sig.STEP, sig.VOCABULARY):
            if name not in loaded.signatures:
                raise ValueError(f"SavedModel {self.model_dir!r} has no {name!r} signature")
        self._loaded = loaded  # keeps the signatures' variables alive
        self._step = loaded.signatures[sig.STEP]
        answer = loaded.signatures[sig.VOCABULARY]()
        self.symbols = tuple(symbol.decode("utf-8") for symbol in answer[sig.SYMBOLS].numpy())
        self.state_size = int(self._step.structured_input_signature[1][sig.STATE].shape[-1])
        self.model_kind = stated_kind(loaded, self.model_dir, answer)
        self.conditioning = tuple(name.decode("utf-8") for name in answer[sig.CONDITIONING].numpy()) \
            if sig.CONDITIONING in answer else ()

    def song_probs(self, songs: Sequence[np.ndarray], delimiter_id: int,
                   frames: Sequence[TuneFrame] | None = None) -> list[np.ndarray]:
        """Songs of ids -> per song ``[len, V]`` probabilities of each symbol given the ones before.

        All songs run in parallel from the zero state fed one delimiter; padding past a song's end
        is not returned. A meter-aware model (``conditioning``) is told each song's ``frames``.
        """
        if self.conditioning and (frames is None or len(frames) != len(songs)):
            raise ValueError(f"{self.model_dir!r} is meter-aware: score it with one TuneFrame per song")
        lengths = np.array([len(song) for song in songs])
        batch, steps = len(songs), int(lengths.max())
        padded = np.full((batch, steps), delimiter_id, dtype=np.int32)
        for row, song in enumerate(songs):
            padded[row, : len(song)] = song
        token = np.full(batch, delimiter_id, dtype=np.int32)
        state = tf.zeros([batch, self.state_size], tf.float32)
        per_step = []
        for t in range(steps):
            inputs = {sig.TOKEN: tf.constant(token), sig.STATE: state}
            if self.conditioning:
                inputs.update(_conditioning(frames, t))
            out = self._step(**inputs)
            per_step.append(np.exp(out[sig.LOGITS].numpy().astype(np.float64)))
            state = out[sig.STATE]
            token = padded[:, t]
        probs = np.stack(per_step, axis=1)  # [B, T, V]
        return [probs[row, : lengths[row]] for row in range(batch)]


def _conditioning(frames: Sequence[TuneFrame], step: int) -> dict[str, tf.Tensor]:
    """The conditioning inputs `[B]` of step ``step`` of every song (past a song's end: its end step's)."""
    per_song = [frame.step_inputs(np.array([step])) for frame in frames]
    return {name: tf.constant(np.concatenate([inputs[name] for inputs in per_song])) for name in per_song[0]}

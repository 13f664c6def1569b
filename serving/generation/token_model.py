"""A served token language model: its vocabulary, its stated kind, and the `step` / `generate` calls.

``TokenModel`` wraps a transport (``serving.client.ModelClient``) with the token-model contract of
``serving.contract.signatures``. ``B`` is the batch, ``V`` the vocabulary, ``S`` the state size.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from preprocessing.melody.novelty import TrainingIndex
from serving.client import ClientError, ServedModel
from serving.contract import bar_rules
from serving.contract import signatures as sig
from serving.contract.bar_position import FrameTable
from serving.tensors import text_of


class MissingModelKindError(ClientError):
    """A token model export that does not state its model kind (exported before kinds existed)."""


class TokenModel(ServedModel):
    """A served token model; every call takes and returns NumPy arrays with a batch dimension."""

    @cached_property
    def _vocabulary_outputs(self) -> dict[str, np.ndarray]:
        self.client.require_signature(sig.VOCABULARY)
        return self.client.predict(sig.VOCABULARY, {})

    @cached_property
    def symbols(self) -> list[str]:
        """The vocabulary in index order, from the `vocabulary` signature (cached)."""
        return [text_of(symbol) for symbol in self._vocabulary_outputs[sig.SYMBOLS].tolist()]

    @cached_property
    def model_kind(self) -> str:
        """The kind the export states (`vocabulary`'s `model_kind`); MissingModelKindError if none."""
        outputs = self._vocabulary_outputs
        if sig.MODEL_KIND not in outputs:
            raise MissingModelKindError(
                f"model {self.name!r} does not state its model kind (its {sig.VOCABULARY!r} signature has no "
                f"{sig.MODEL_KIND!r} output): re-export it with the current trainer")
        kind = text_of(outputs[sig.MODEL_KIND])
        if kind not in sig.TOKEN_KINDS:
            raise MissingModelKindError(
                f"model {self.name!r} states model kind {kind!r}, not a token model kind {sig.TOKEN_KINDS}")
        return kind

    @cached_property
    def training_index(self) -> TrainingIndex | None:
        """The training split's tunes the export ships (`training_index`), or None when it ships none."""
        if sig.TRAINING_INDEX not in self.client.signatures:
            return None
        value = np.asarray(self.client.predict(sig.TRAINING_INDEX, {})[sig.INDEX]).reshape(-1)[0]
        try:
            return TrainingIndex.from_bytes(value if isinstance(value, bytes) else str(value).encode("ascii"))
        except ValueError as error:
            raise ClientError(f"model {self.name!r}: its {sig.TRAINING_INDEX!r} signature returned {error}") from None

    @cached_property
    def tune_frames(self) -> FrameTable | None:
        """The training tunes' frames a meter-aware export ships (`tune_frames`), or None when it ships none."""
        if sig.TUNE_FRAMES not in self.client.signatures:
            return None
        try:
            return FrameTable.from_outputs(self.client.predict(sig.TUNE_FRAMES, {}))
        except ValueError as error:
            raise ClientError(f"model {self.name!r}: {error}") from None

    @cached_property
    def conditioning(self) -> tuple[str, ...]:
        """The extra inputs `step` takes (``sig.STEP_CONDITIONING`` for a meter-aware model: the
        `vocabulary` signature's `conditioning` output); () for a model that takes none."""
        if sig.CONDITIONING not in self._vocabulary_outputs:
            return ()
        return tuple(text_of(name) for name in np.asarray(self._vocabulary_outputs[sig.CONDITIONING]).reshape(-1))

    @cached_property
    def state_size(self) -> int:
        """S, the flattened recurrent state size, from the `step` signature."""
        return self.client.require_signature(sig.STEP).inputs[sig.STATE].shape[-1]

    def step(self, tokens: np.ndarray, state: np.ndarray,
             conditioning: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """tokens int32 `[B]`, state float32 `[B, S]` and, for a model that takes it, the
        ``conditioning`` of the predicted steps (int32 `[B]` by name, ``bar_position.TuneFrame.step_inputs``)
        -> (logits float32 `[B, V]`, state `[B, S]`). ClientError naming the inputs it lacks."""
        self.client.require_signature(sig.STEP)
        inputs = {sig.TOKEN: np.asarray(tokens, np.int32), sig.STATE: np.asarray(state, np.float32)}
        missing = [name for name in self.conditioning if name not in (conditioning or {})]
        if missing:
            raise ClientError(f"model {self.name!r} is meter-aware: its {sig.STEP!r} needs the inputs {missing}")
        inputs.update({name: np.asarray(conditioning[name], np.int32) for name in self.conditioning})
        outputs = self.client.predict(sig.STEP, inputs)
        return (outputs[sig.LOGITS].astype(np.float32, copy=False),
                outputs[sig.STATE].astype(np.float32, copy=False))

    def generate(self, primer: np.ndarray, primer_length: np.ndarray, steps: np.ndarray,
                 temperature: np.ndarray, top_k: np.ndarray, top_p: np.ndarray, seed: np.ndarray,
                 rules: dict[str, np.ndarray] | None = None,
                 frame: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Server-side sampling: every input has the batch dimension `[B]` (primer `[B, P]`);
        ``rules``: the rows' bar rules (``bar_rules.rule_inputs``; None: no rules). Returns int32
        tokens `[B, max(steps)]`, -1 past a row's steps (or its end symbol, under rules).

        ClientError when ``rules`` are given and the export's `generate` takes none (exported
        before bar rules existed); without rules such an export is called as before. ``frame``: a
        meter-aware model's tune inputs (``bar_position.TuneFrame.generate_inputs``), which it needs."""
        signature = self.client.require_signature(sig.GENERATE)
        takes_rules = all(name in signature.inputs for name in sig.RULE_INPUTS)
        if rules is not None and not takes_rules:
            raise ClientError(f"model {self.name!r} takes no bar rules in its {sig.GENERATE!r} signature "
                              "(exported before them): re-export it, or sample on the client")
        inputs = {sig.PRIMER: np.asarray(primer, np.int32), sig.PRIMER_LENGTH: np.asarray(primer_length, np.int32),
                  sig.STEPS: np.asarray(steps, np.int32), sig.TEMPERATURE: np.asarray(temperature, np.float32),
                  sig.TOP_K: np.asarray(top_k, np.int32), sig.TOP_P: np.asarray(top_p, np.float32),
                  sig.SEED: np.asarray(seed, np.int32)}
        if takes_rules:
            inputs.update(rules or bar_rules.rule_inputs([None] * len(inputs[sig.SEED]), len(self.symbols)))
        if self.conditioning:
            if frame is None:
                raise ClientError(f"model {self.name!r} is meter-aware: its {sig.GENERATE!r} needs the inputs "
                                  f"{list(sig.GENERATE_CONDITIONING)}")
            inputs.update({name: np.asarray(frame[name], np.int32) for name in sig.GENERATE_CONDITIONING})
        return self.client.predict(sig.GENERATE, inputs, self.client.retry.generate_timeout_s)[sig.TOKENS]

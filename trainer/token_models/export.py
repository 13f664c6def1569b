"""Export a Keras token language model as a SavedModel that keeps the serving contract.

The signatures (`vocabulary`, `step`, `generate` = `serving_default`) are named in
`serving.contract.signatures`; `generate` samples in the graph with
`serving.contract.sampling_graph`, the TensorFlow twin of the client's NumPy sampler.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from preprocessing.melody.timestep import DELIMITER, HOLD, REST
from serving.contract import signatures as sig
from serving.contract import versions
from serving.contract.bar_rules import rule_inputs
from serving.contract.bar_rules_graph import GraphRules
from serving.contract.sampling import FLOAT32_MAX
from trainer.token_models.generate_loop import generate_loop, generate_specs, graph_rules

logger = logging.getLogger(__name__)

_FLOAT32_TINY = float(np.finfo(np.float32).tiny)
RULE_SYMBOLS = (DELIMITER, HOLD, REST)  # the end, hold and rest symbols of a timestep vocabulary


# ---------------------------------------------------------------- one step of the model


@dataclass(frozen=True)
class _LstmSlot:
    """Where one LSTM layer's `[h, c]` lives in the flattened state."""

    layer: keras.layers.LSTM
    offset: int
    units: int


@dataclass(frozen=True)
class StepPlan:
    """The model's layers as a one-token step: `stages` run in order, `state_size` = S."""

    stages: tuple[object, ...]
    state_size: int
    vocab_size: int


def plan_step(model: keras.Model) -> StepPlan:
    """Walk `model.layers` (a chain: ids -> encoding -> [LSTM, Dropout]* -> Dense softmax).

    Sets `use_cudnn=False` on every LSTM of `model`, so that no cuDNN kernel reaches the export.
    """
    stages: list[object] = []
    offset = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.InputLayer, keras.layers.Dropout)):
            continue
        if isinstance(layer, keras.layers.LSTM):
            if not layer.return_sequences:
                raise ValueError(f"LSTM layer {layer.name!r} must have return_sequences=True")
            layer.use_cudnn = False
            stages.append(_LstmSlot(layer, offset, layer.units))
            offset += 2 * layer.units
        elif isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
            raise ValueError(f"unsupported recurrent layer {layer.name!r} ({type(layer).__name__})")
        else:
            stages.append(layer)
    vocab_size = model.outputs[0].shape[-1]
    if vocab_size is None:
        raise ValueError(f"model {model.name!r} has no static output size")
    return StepPlan(tuple(stages), max(offset, 1), int(vocab_size))


def run_step(plan: StepPlan, token: tf.Tensor, state: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """token int32 `[B]`, state float32 `[B, S]` -> (log-probabilities `[B, V]`, state `[B, S]`)."""
    x = token
    new_state: list[tf.Tensor] = []
    for stage in plan.stages:
        if isinstance(stage, _LstmSlot):
            h = state[:, stage.offset : stage.offset + stage.units]
            c = state[:, stage.offset + stage.units : stage.offset + 2 * stage.units]
            x, (h, c) = stage.layer.cell(x, [h, c], training=False)
            new_state += [h, c]
        else:
            x = stage(x)
    probabilities = tf.cast(x, tf.float32)
    logits = tf.math.log(tf.maximum(probabilities, _FLOAT32_TINY))
    next_state = tf.concat(new_state, axis=1) if new_state else state
    return logits, next_state


# ---------------------------------------------------------------- the exported module


def _check_inputs(condition: tf.Tensor, message: str, values: tf.Tensor) -> tf.Operation:
    """An INVALID_ARGUMENT error carrying `message` and the offending input `values` if not all hold."""
    return tf.debugging.Assert(tf.reduce_all(condition), [message, values], summarize=16)


def generate_checks(inputs: dict[str, tf.Tensor], rules: GraphRules, size: int,
                    has_rule_symbols: bool) -> list[tf.Operation]:
    """`generate`'s input checks over ``inputs`` (by ``sig`` name, PRIMER first; every one `[B]`
    after it): each an INVALID_ARGUMENT naming the bad input."""
    primer, primer_length, steps = inputs[sig.PRIMER], inputs[sig.PRIMER_LENGTH], inputs[sig.STEPS]
    temperature, top_k, top_p = inputs[sig.TEMPERATURE], inputs[sig.TOP_K], inputs[sig.TOP_P]
    batch = tf.shape(primer)[0]
    sizes = tf.stack([tf.shape(inputs[name])[0] for name in list(inputs)[1:]])
    return [
        _check_inputs(tf.equal(sizes, batch), "every input needs the batch size of primer:", sizes),
        _check_inputs(primer_length >= 1, "primer_length must be >= 1:", primer_length),
        _check_inputs(primer_length <= tf.shape(primer)[1], "primer_length exceeds primer width:", primer_length),
        _check_inputs(tf.logical_and(primer >= 0, primer < size), "primer token out of range:", primer),
        _check_inputs(steps >= 0, "steps must be >= 0:", steps),
        _check_inputs(tf.logical_and(temperature > 0, temperature <= FLOAT32_MAX), "temperature must be > 0:", temperature),
        _check_inputs(top_k >= 0, "top_k must be >= 0:", top_k),
        _check_inputs(tf.logical_and(top_p > 0, top_p <= 1), "top_p must be in (0, 1]:", top_p),
        _check_inputs(tf.logical_or(rules.bar <= 0, has_rule_symbols),
                      f"bar rules need the symbols {RULE_SYMBOLS} (steps_per_bar must be 0):", rules.bar),
        _check_inputs(tf.logical_or(rules.bar <= 0, tf.logical_and(rules.beat >= 1, rules.beat <= rules.bar)),
                      "beat_steps must be in 1..steps_per_bar:", rules.beat),
        _check_inputs(tf.logical_or(rules.bar <= 0, tf.logical_and(rules.min_bars >= 1, rules.min_bars <= rules.max_bars)),
                      "min_bars must be in 1..max_bars:", tf.stack([rules.min_bars, rules.max_bars])),
        _check_inputs(tf.logical_or(rules.bar <= 0, tf.reduce_any(rules.allowed, axis=1)),
                      "allowed masks out every pitch:", rules.bar),
    ]


def build_export_archive(model: keras.Model, vocabulary: Sequence[str], model_kind: str,
                         training_index: bytes | None = None) -> keras.export.ExportArchive:
    """The `generate` (first, so also `serving_default`), `step` and `vocabulary` endpoints of `model`,
    and with ``training_index`` (``TrainingIndex.to_bytes()``) a `training_index` endpoint returning it.

    `keras.export.ExportArchive` tracks the TensorFlow variables that the endpoints capture, so
    the session-based loader of `tensorflow_model_server` and `saved_model_cli run` restores them
    (a plain `tf.Module` holding Keras 3 variables saves checkpoint keys that loader never
    restores). The archive wraps each endpoint in a `tf.function` without AutoGraph, so the loop
    is an explicit `tf.while_loop`.
    """
    if model_kind not in sig.TOKEN_KINDS:
        raise ValueError(f"model_kind {model_kind!r} is not a token model kind {sig.TOKEN_KINDS}")
    plan = plan_step(model)
    if len(vocabulary) != plan.vocab_size:
        raise ValueError(
            f"vocabulary has {len(vocabulary)} symbols but the model outputs {plan.vocab_size}"
        )
    size = plan.vocab_size
    symbols = list(vocabulary)

    def vocabulary_fn() -> dict[str, tf.Tensor]:
        return {sig.SYMBOLS: tf.constant(symbols, tf.string), sig.MODEL_KIND: tf.constant(model_kind)}

    def step_fn(token: tf.Tensor, state: tf.Tensor) -> dict[str, tf.Tensor]:
        checks = [
            _check_inputs(tf.logical_and(token >= 0, token < size), "token out of vocabulary range:", token),
            _check_inputs(
                tf.equal(tf.shape(state)[0], tf.shape(token)[0]), "state/token batch sizes differ:",
                tf.stack([tf.shape(state)[0], tf.shape(token)[0]]),
            ),
        ]
        with tf.control_dependencies(checks):
            logits, next_state = run_step(plan, tf.identity(token), state)
        return {sig.LOGITS: logits, sig.STATE: next_state}

    end, hold, rest = (symbols.index(symbol) if symbol in symbols else -1 for symbol in RULE_SYMBOLS)

    def generate_fn(primer, primer_length, steps, temperature, top_k, top_p, seed,
                    steps_per_bar, beat_steps, min_bars, max_bars, allowed, tonic, end_on_tonic):
        inputs = dict(zip(sig.GENERATE_INPUTS, (primer, primer_length, steps, temperature, top_k, top_p, seed,
                                                steps_per_bar, beat_steps, min_bars, max_bars, allowed, tonic,
                                                end_on_tonic)))
        rules = graph_rules(inputs, end, hold, rest)
        checks = generate_checks(inputs, rules, size, min(end, hold, rest) >= 0)
        with tf.control_dependencies(checks):
            inputs[sig.PRIMER] = tf.identity(primer)
            tokens = generate_loop(lambda token, state: run_step(plan, token, state), size, plan.state_size, inputs, rules)
        return {sig.TOKENS: tokens}

    archive = keras.export.ExportArchive()
    archive.add_endpoint(sig.GENERATE, generate_fn, generate_specs(size))
    archive.add_endpoint(sig.STEP, step_fn, [
        tf.TensorSpec([None], tf.int32, name=sig.TOKEN),
        tf.TensorSpec([None, plan.state_size], tf.float32, name=sig.STATE),
    ])
    archive.add_endpoint(sig.VOCABULARY, vocabulary_fn, [])
    if training_index is not None:
        archive.add_endpoint(sig.TRAINING_INDEX, lambda: {sig.INDEX: tf.constant(training_index, tf.string)}, [])
    return archive


# ---------------------------------------------------------------- warm-up, writing


def write_warmup_requests(path: str, model_name: str, state_size: int, vocab_size: int) -> None:
    """TFRecord of PredictionLogs (one `generate`, one `step` request) for TF Serving's warmup."""
    requests = {
        sig.GENERATE: {
            sig.PRIMER: np.zeros([1, 1], np.int32),
            sig.PRIMER_LENGTH: np.ones([1], np.int32),
            sig.STEPS: np.full([1], 2, np.int32),
            sig.TEMPERATURE: np.ones([1], np.float32),
            sig.TOP_K: np.zeros([1], np.int32),
            sig.TOP_P: np.ones([1], np.float32),
            sig.SEED: np.zeros([1], np.int32),
            **rule_inputs([None], vocab_size),
        },
        sig.STEP: {sig.TOKEN: np.zeros([1], np.int32), sig.STATE: np.zeros([1, state_size], np.float32)},
    }
    write_prediction_logs(path, model_name, requests)


def write_prediction_logs(path: str, model_name: str, requests: dict[str, dict[str, np.ndarray]]) -> None:
    """TFRecord of PredictionLogs, one per ``{signature: inputs}`` request, for TF Serving's warmup."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for signature, inputs in requests.items():
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
            )
            for key, value in inputs.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())


def export_token_model(
    model: keras.Model,
    vocabulary: list[str],
    base_path: str | os.PathLike,
    *,
    model_kind: str,
    warmup: bool = True,
    training_index: bytes | None = None,
) -> str:
    """Write `model` as `<base_path>/<next integer version>/` atomically; return that directory.

    `model_kind` (`sig.TOKEN_TIMESTEP` or `sig.TOKEN_CHARACTERS`) is what the `vocabulary`
    signature states, so that a client picks its codec without guessing. `base_path` may be
    any `tf.io.gfile` path (`gs://...`, `ram://...`). `training_index`: the training split's
    tunes for the client's novelty line (`trainer.token_models.training_index`).
    """
    archive = build_export_archive(model, vocabulary, model_kind, training_index)
    state_size = plan_step(model).state_size
    model_name = os.path.basename(str(base_path).rstrip("/"))

    def write(staging: str | os.PathLike) -> None:
        archive.write_out(str(staging), verbose=False)
        if warmup:
            warmup_path = os.path.join(str(staging), str(versions.WARMUP_REQUESTS))
            write_warmup_requests(warmup_path, model_name, state_size, len(vocabulary))

    target = versions.write_version(base_path, write)
    logger.info("exported %s (%s, V=%d, S=%d) to %s", model.name, model_kind, len(vocabulary), state_size, target)
    return target

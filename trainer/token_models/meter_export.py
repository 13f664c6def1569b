"""Export the meter-aware timestep LSTM (``meter_lstm``) as a SavedModel that keeps the serving contract.

The signatures are the token models' (``trainer.token_models.export``) with the conditioning of
``serving.contract.bar_position``: `vocabulary` also states ``sig.CONDITIONING`` (the names of the
extra `step` inputs), `step` takes ``sig.STEP_CONDITIONING`` and `generate` takes
``sig.GENERATE_CONDITIONING``, from which it counts every row's position in its bar in the loop.
Inside `generate`, the state carries one more column than `step`'s: the steps fed since the
row's last end symbol.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from serving.contract import bar_position as bp
from serving.contract import signatures as sig
from serving.contract import versions
from serving.contract.bar_rules import rule_inputs
from trainer.token_models.export import (
    _FLOAT32_TINY,
    RULE_SYMBOLS,
    _check_inputs,
    generate_checks,
    write_prediction_logs,
)
from trainer.token_models.generate_loop import generate_loop, generate_specs, graph_rules
from trainer.token_models.meter_attention import TuneMemoryAttention
from trainer.token_models.meter_conditioning import condition_classes, tune_conditioning

logger = logging.getLogger(__name__)

_STEP_SPECS = [tf.TensorSpec([None], tf.int32, name=name) for name in sig.STEP_CONDITIONING]
_GENERATE_SPECS = [tf.TensorSpec([None], tf.int32, name=name) for name in sig.GENERATE_CONDITIONING]


class MeterStep:
    """The model as one step: token int32 `[B]`, classes int32 `[B, 4]`, state `[B, S]` -> (log-probabilities `[B, V]`, state).

    The state is each LSTM's ``h`` and ``c``, then (with attention) the attention's memory
    (``TuneMemoryAttention.memory_size``: its ring of keys and values and the steps written).
    """

    def __init__(self, model: keras.Model) -> None:
        self.one_hot, self.condition = model.get_layer("one_hot"), model.get_layer("condition")
        self.lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
        self.attention = next((layer for layer in model.layers if isinstance(layer, TuneMemoryAttention)), None)
        self.dense = model.get_layer("dense")
        for layer in self.lstms:
            layer.use_cudnn = False  # no cuDNN kernel in the export
        self.lstm_size = sum(2 * layer.units for layer in self.lstms)
        self.state_size = self.lstm_size + (self.attention.memory_size if self.attention is not None else 0)
        self.vocab_size = int(model.outputs[0].shape[-1])

    def __call__(self, token: tf.Tensor, classes: tf.Tensor, state: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x = tf.concat([self.one_hot(token), self.condition(classes)], axis=-1)
        new_state, offset = [], 0
        for layer in self.lstms:
            h, c = state[:, offset:offset + layer.units], state[:, offset + layer.units:offset + 2 * layer.units]
            before = h
            x, (h, c) = layer.cell(x, [h, c], training=False)
            new_state += [h, c]
            offset += 2 * layer.units
        if self.attention is not None:
            read, memory = self.attention.step(before, x, state[:, self.lstm_size:])
            x = tf.concat([x, read], axis=-1)
            new_state.append(memory)
        probabilities = tf.cast(self.dense(x), tf.float32)
        return tf.math.log(tf.maximum(probabilities, _FLOAT32_TINY)), tf.concat(new_state, axis=1)


def _conditioning_checks(inputs: dict[str, tf.Tensor], names: Sequence[str]) -> list[tf.Operation]:
    """INVALID_ARGUMENT naming the conditioning input (among ``names``) that is out of range."""
    limits = {sig.BAR_POSITION: (0, None), sig.METER_INDEX: (0, bp.METER_CLASSES - 1),
              sig.MODE_INDEX: (0, len(bp.MODES) - 1), sig.BARS_LEFT: (-1, None), sig.BAR_STEPS: (1, None),
              sig.PICKUP: (0, None), sig.BARS: (-1, None)}
    checks = []
    for name in names:
        low, high = limits[name]
        value = inputs[name]
        ok = value >= low if high is None else tf.logical_and(value >= low, value <= high)
        checks.append(_check_inputs(ok, f"{name} must be in {low}..{'' if high is None else high}:", value))
    if sig.PICKUP in names:
        checks.append(_check_inputs(inputs[sig.PICKUP] < inputs[sig.BAR_STEPS], "pickup must be < bar_steps:",
                                    inputs[sig.PICKUP]))
    return checks


def build_meter_archive(model: keras.Model, vocabulary: Sequence[str], model_kind: str,
                        training_index: bytes | None = None,
                        tune_frames: bp.FrameTable | None = None) -> keras.export.ExportArchive:
    """The `generate` (also `serving_default`), `step`, `vocabulary` (and `training_index`,
    `tune_frames`) endpoints."""
    step = MeterStep(model)
    size, symbols = step.vocab_size, list(vocabulary)
    if len(symbols) != size:
        raise ValueError(f"vocabulary has {len(symbols)} symbols but the model outputs {size}")
    end, hold, rest = (symbols.index(symbol) if symbol in symbols else -1 for symbol in RULE_SYMBOLS)
    if end < 0:
        raise ValueError(f"a meter-aware model needs the end symbol {RULE_SYMBOLS[0]!r} in its vocabulary")

    def vocabulary_fn() -> dict[str, tf.Tensor]:
        return {sig.SYMBOLS: tf.constant(symbols, tf.string), sig.MODEL_KIND: tf.constant(model_kind),
                sig.CONDITIONING: tf.constant(list(sig.STEP_CONDITIONING), tf.string)}

    def step_fn(token, state, bar_position, meter_index, mode_index, bars_left):
        inputs = dict(zip(sig.STEP_CONDITIONING, (bar_position, meter_index, mode_index, bars_left)))
        sizes = tf.stack([tf.shape(value)[0] for value in (token, state, *inputs.values())])
        checks = [
            _check_inputs(tf.logical_and(token >= 0, token < size), "token out of vocabulary range:", token),
            _check_inputs(tf.equal(sizes, tf.shape(token)[0]), "every input needs the batch size of token:", sizes),
            *_conditioning_checks(inputs, sig.STEP_CONDITIONING),
        ]
        with tf.control_dependencies(checks):
            classes = condition_classes(tf.identity(bar_position), meter_index, mode_index, bars_left)
            logits, next_state = step(token, classes, state)
        return {sig.LOGITS: logits, sig.STATE: next_state}

    def generate_fn(*args):
        inputs = dict(zip(sig.GENERATE_INPUTS + sig.GENERATE_CONDITIONING, args))
        rules = graph_rules(inputs, end, hold, rest)
        checks = generate_checks(inputs, rules, size, min(end, hold, rest) >= 0)
        checks += _conditioning_checks(inputs, sig.GENERATE_CONDITIONING)
        frame = [inputs[name] for name in sig.GENERATE_CONDITIONING]
        bar_steps, pickup, meter, mode, bars = frame
        tune_steps = tf.where(bars < 0, -tf.ones_like(bars), bars * bar_steps)

        def counted_step(token: tf.Tensor, state: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            fed = tf.cast(state[:, -1], tf.int32)  # tune steps fed before this token
            fed = tf.where(tf.equal(token, end), tf.zeros_like(fed), fed + 1)
            classes = tune_conditioning(fed, bar_steps, pickup, meter, mode, tune_steps)
            logits, next_state = step(token, classes, state[:, :-1])
            return logits, tf.concat([next_state, tf.cast(fed, tf.float32)[:, None]], axis=1)

        with tf.control_dependencies(checks):
            inputs[sig.PRIMER] = tf.identity(inputs[sig.PRIMER])
            tokens = generate_loop(counted_step, size, step.state_size + 1, inputs, rules)
        return {sig.TOKENS: tokens}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(sig.GENERATE, generate_fn, [*generate_specs(size), *_GENERATE_SPECS])
    archive.add_endpoint(sig.STEP, step_fn, [
        tf.TensorSpec([None], tf.int32, name=sig.TOKEN),
        tf.TensorSpec([None, step.state_size], tf.float32, name=sig.STATE), *_STEP_SPECS,
    ])
    archive.add_endpoint(sig.VOCABULARY, vocabulary_fn, [])
    if training_index is not None:
        archive.add_endpoint(sig.TRAINING_INDEX, lambda: {sig.INDEX: tf.constant(training_index, tf.string)}, [])
    if tune_frames is not None:
        frames = {name: np.asarray(value, np.int32) for name, value in tune_frames.outputs().items()}
        archive.add_endpoint(sig.TUNE_FRAMES, lambda: {name: tf.constant(value) for name, value in frames.items()}, [])
    return archive


def warmup_inputs(state_size: int, vocab_size: int) -> dict[str, dict[str, np.ndarray]]:
    """One `generate` and one `step` request of one row each, conditioning included."""
    frame = bp.TuneFrame(bar_steps=16)
    return {
        sig.GENERATE: {
            sig.PRIMER: np.zeros([1, 1], np.int32), sig.PRIMER_LENGTH: np.ones([1], np.int32),
            sig.STEPS: np.full([1], 2, np.int32), sig.TEMPERATURE: np.ones([1], np.float32),
            sig.TOP_K: np.zeros([1], np.int32), sig.TOP_P: np.ones([1], np.float32), sig.SEED: np.zeros([1], np.int32),
            **rule_inputs([None], vocab_size), **frame.generate_inputs(1),
        },
        sig.STEP: {sig.TOKEN: np.zeros([1], np.int32), sig.STATE: np.zeros([1, state_size], np.float32),
                   **frame.step_inputs(np.zeros(1))},
    }


def export_meter_model(model: keras.Model, vocabulary: list[str], base_path: str | os.PathLike, *, model_kind: str,
                       warmup: bool = True, training_index: bytes | None = None,
                       tune_frames: bp.FrameTable | None = None) -> str:
    """Write `model` as `<base_path>/<next integer version>/` atomically (as ``export.export_token_model``);
    ``tune_frames``: the training tunes' frames, for the `tune_frames` endpoint."""
    archive = build_meter_archive(model, vocabulary, model_kind, training_index, tune_frames)
    step = MeterStep(model)
    model_name = os.path.basename(str(base_path).rstrip("/"))

    def write(staging: str | os.PathLike) -> None:
        archive.write_out(str(staging), verbose=False)
        if warmup:
            path = os.path.join(str(staging), str(versions.WARMUP_REQUESTS))
            write_prediction_logs(path, model_name, warmup_inputs(step.state_size, step.vocab_size))

    target = versions.write_version(base_path, write)
    logger.info("exported %s (%s, conditioned, V=%d, S=%d) to %s", model.name, model_kind, step.vocab_size,
                step.state_size, target)
    return target

"""Fitting a trained token model's output bias on the validation split (``output_bias`` "validation").

The model's weights stay; only the bias of its last layer, a softmax ``Dense``, moves by an offset
``b [V]`` that minimises the validation split's mean loss of ``softmax(log p + b)``, where ``p``
are the model's probabilities. That loss is convex in ``b``, and at its minimum the model's mean
probability of each symbol equals the symbol's share of the split's targets: it corrects a model
that strikes (or holds) a little more or less often than its corpus.
"""
from __future__ import annotations

import logging

import keras
import numpy as np
import tensorflow as tf

logger = logging.getLogger(__name__)

# The fewest validation targets of a symbol for it to get an offset of its own (50 steps measure a
# symbol's share to about 14%); the rarer symbols share one.
MIN_STEPS = 50


def softmax_layer(model: keras.Model) -> keras.layers.Dense:
    """The model's last layer; ValueError naming it unless it is a ``Dense`` with a softmax."""
    layer = model.layers[-1]
    if not isinstance(layer, keras.layers.Dense) or layer.activation is not keras.activations.softmax:
        raise ValueError(f"output_bias 'validation' moves the bias of a softmax Dense output; model "
                         f"{model.name!r} ends in {type(layer).__name__} {layer.name!r}")
    return layer


def validation_log_probs(model: keras.Model, batches: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(log probabilities ``[N, V]``, targets ``[N]``) of every step that weighs in ``batches``
    (``(inputs, targets [B, T])`` or ``(inputs, targets, weights [B, T])``)."""
    log_probs, targets = [], []
    for batch in batches:
        inputs, batch_targets = batch[0], batch[1]
        probs = model(inputs, training=False).numpy()
        kept = batch[2].numpy() > 0 if len(batch) > 2 else np.ones(batch_targets.shape, bool)
        log_probs.append(np.log(np.maximum(probs[kept], 1e-12)))
        targets.append(batch_targets.numpy()[kept])
    return np.concatenate(log_probs), np.concatenate(targets)


def loss_and_gradient(log_probs: np.ndarray, targets: np.ndarray, offset: np.ndarray) -> tuple[float, np.ndarray]:
    """The mean loss (nats) of ``softmax(log_probs + offset)`` at ``targets``, and its gradient
    ``[V]``: the mean probability of each symbol less its share of the targets."""
    logits = log_probs + offset
    top = logits.max(axis=1, keepdims=True)
    normaliser = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    loss = float(np.mean(normaliser - logits[np.arange(len(targets)), targets]))
    shares = np.bincount(targets, minlength=log_probs.shape[1]) / len(targets)
    return loss, np.exp(logits - normaliser[:, None]).mean(axis=0) - shares


def best_offset(log_probs: np.ndarray, targets: np.ndarray, *, min_steps: int = MIN_STEPS, rounds: int = 500,
                tolerance: float = 1e-7) -> np.ndarray:
    """The offset ``[V]`` (mean zero) minimising ``loss_and_gradient``'s loss, one offset for each
    symbol at least ``min_steps`` targets hold and one shared by the rarer symbols (too few to
    measure alone), each group given one added count (so that a group the split lacks is not
    driven to probability 0). Fitted by generalised iterative scaling: each round adds to a
    group's offset log(share / mean probability); one group's indicator is set at each step, so a
    step of 1 is exact and never raises the loss."""
    counts = np.bincount(targets, minlength=log_probs.shape[1])
    frequent = counts >= min_steps
    groups = np.where(frequent, np.cumsum(frequent) - 1, frequent.sum())  # the rare symbols pooled last
    group_counts = np.bincount(groups, weights=counts)
    smoothed = (group_counts + 1) / (len(targets) + len(group_counts))
    shares = counts / len(targets)
    offset = np.zeros(log_probs.shape[1])
    for _ in range(rounds):
        _, gradient = loss_and_gradient(log_probs, targets, offset)
        step = np.log(smoothed) - np.log(np.bincount(groups, weights=gradient + shares))
        offset += step[groups]
        if np.abs(step).max() < tolerance:
            break
    return offset - offset.mean()


def fit_output_bias(model: keras.Model, batches: tf.data.Dataset) -> dict[str, float]:
    """Adds the ``best_offset`` of ``batches`` (the validation split's) to the model's output bias;
    returns the mean loss there before and after, and the largest offset."""
    layer = softmax_layer(model)
    log_probs, targets = validation_log_probs(model, batches)
    offset = best_offset(log_probs, targets, min_steps=MIN_STEPS)
    before, _ = loss_and_gradient(log_probs, targets, np.zeros_like(offset))
    after, _ = loss_and_gradient(log_probs, targets, offset)
    layer.bias.assign(layer.bias.numpy() + offset.astype(np.float32))
    largest = float(np.abs(offset).max())
    logger.info("output bias fitted on %d validation steps: loss %.4f -> %.4f, largest offset %.3f",
                len(targets), before, after, largest)
    return {"steps": int(len(targets)), "loss_before": before, "loss_after": after, "largest_offset": largest}

"""The TensorFlow twin of ``serving.contract.bar_position``: a step's conditioning as model inputs.

A meter-aware model reads, per step, ``[4]`` int32 class indices (``COLUMNS``): the position in
the bar (clipped to ``MAX_BAR_STEPS - 1``), the meter, the mode and the bars left (clipped to
``MAX_BARS_LEFT``; ``NO_LENGTH`` when none is requested). ``ConditionOneHot`` turns them into
one-hot vectors ``[..., CONDITION_WIDTH]``.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from serving.contract import bar_position as bp
from serving.contract import signatures as sig

COLUMNS = sig.STEP_CONDITIONING  # the order of the conditioning's last axis
DEPTHS = (bp.MAX_BAR_STEPS, bp.METER_CLASSES, len(bp.MODES), bp.BARS_LEFT_CLASSES)
CONDITION_WIDTH = sum(DEPTHS)


def condition_classes(position: tf.Tensor, meter: tf.Tensor, mode: tf.Tensor, bars_left: tf.Tensor) -> tf.Tensor:
    """Raw int32 values ``[...]`` (bars_left -1: no length) -> class indices ``[..., 4]``."""
    position = tf.minimum(position, bp.MAX_BAR_STEPS - 1)
    left = tf.where(bars_left < 0, bp.NO_LENGTH, tf.minimum(bars_left, bp.MAX_BARS_LEFT))
    return tf.stack([position, meter, mode, left], axis=-1)


def tune_conditioning(steps: tf.Tensor, bar_steps: tf.Tensor, pickup: tf.Tensor, meter: tf.Tensor,
                      mode: tf.Tensor, tune_steps: tf.Tensor) -> tf.Tensor:
    """Tune steps int32 ``[...]`` and the tune's values (broadcast; ``tune_steps`` -1: no length)
    -> class indices ``[..., 4]``, as ``bar_position.TuneFrame.step_inputs`` then ``condition_classes``."""
    position = tf.math.floormod(steps - pickup, bar_steps)
    left = tf.maximum(-tf.math.floordiv(steps - tune_steps, bar_steps), 0)
    left = tf.where(tune_steps < 0, -tf.ones_like(left), left)
    shape = tf.shape(steps)
    return condition_classes(position, tf.broadcast_to(meter, shape), tf.broadcast_to(mode, shape), left)


@keras.saving.register_keras_serializable(package="folkgen")
class ConditionOneHot(keras.layers.Layer):
    """Class indices ``[..., 4]`` -> the four one-hot vectors concatenated ``[..., CONDITION_WIDTH]``; no weights."""

    def call(self, classes):
        classes = ops.cast(classes, "int32")
        parts = [ops.one_hot(classes[..., column], depth, dtype=self.compute_dtype)
                 for column, depth in enumerate(DEPTHS)]
        return ops.concatenate(parts, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], CONDITION_WIDTH)

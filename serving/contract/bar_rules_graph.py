"""The TensorFlow twin of ``serving.contract.bar_rules``: the same masks and states, batched `[B]`.

Used by the token exports' ``generate``; a row with ``bar`` 0 has no rules (every token allowed,
it never ends early), so an unconstrained request samples exactly as before. The state is a
tuple of int32 / bool tensors `[B]`: (position, sounding, is_note, onset, new_notes,
bar_starts_with_rest, ended), as ``bar_rules.RowState``; a row's ``pickup`` starts its positions
at ``-pickup`` (None: 0 in every row, as an export without the ``rule_pickup`` input has it).
"""
from __future__ import annotations

import dataclasses

import tensorflow as tf

State = tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]


@dataclasses.dataclass(frozen=True)
class GraphRules:
    """Every row's rules: ``allowed`` / ``tonic`` bool `[B, V]`, the rest int32 or bool `[B]`;
    ``end``, ``hold``, ``rest`` the vocabulary indices of ``/``, ``_``, ``r`` (-1 if absent)."""

    allowed: tf.Tensor
    tonic: tf.Tensor
    bar: tf.Tensor
    beat: tf.Tensor
    min_bars: tf.Tensor
    max_bars: tf.Tensor
    end_on_tonic: tf.Tensor
    end: int
    hold: int
    rest: int
    pickup: tf.Tensor | None = None

    def start(self) -> tf.Tensor:
        """int32 `[B]`: each row's first position, ``-pickup``."""
        return -self.pickup if self.pickup is not None else tf.zeros_like(self.bar)


def initial_state(batch: tf.Tensor, start: tf.Tensor | None = None) -> State:
    """``bar_rules.tune_start`` for every row: position ``start`` (int32 `[B]`, None: 0)."""
    zeros = tf.zeros([batch], tf.int32)
    false = tf.zeros([batch], tf.bool)
    return zeros if start is None else start, zeros - 1, false, zeros, zeros, false, false


def allowed_tokens(rules: GraphRules, state: State, vocab_size: int) -> tf.Tensor:
    """bool `[B, V]`: ``bar_rules.allowed_tokens`` of every row."""
    position, sounding, is_note, onset, new_notes, starts_rest, _ = state
    columns = tf.range(vocab_size)[None, :]
    end_column, hold_column, rest_column = (tf.equal(columns, index) for index in (rules.end, rules.hold, rules.rest))
    bar = tf.maximum(rules.bar, 1)
    last = rules.max_bars * bar
    final_beat = last - rules.beat
    tonic_sounds = tf.logical_and(is_note, tf.gather(rules.tonic, tf.maximum(sounding, 0)[:, None], batch_dims=1)[:, 0])
    tonic_ok = tf.logical_or(tonic_sounds, tf.logical_not(rules.end_on_tonic))
    begun = position > rules.start()
    started = tf.logical_and(begun, new_notes > 0)

    def column(where: tf.Tensor, condition: tf.Tensor) -> tf.Tensor:
        return tf.logical_and(where, condition[:, None])

    struck_at_final_beat = tf.where(rules.end_on_tonic[:, None], tf.logical_and(rules.allowed, rules.tonic), rules.allowed)
    at_final_beat = tf.logical_or(struck_at_final_beat, column(hold_column, tf.logical_and(started, tonic_ok)))
    final_downbeat = tf.equal(position, last - bar)
    may_end = tf.reduce_all(tf.stack([
        tf.equal(tf.math.floormod(position, bar), 0), position >= rules.min_bars * bar, new_notes > 0,
        tf.logical_not(starts_rest), position - onset >= rules.beat, tonic_ok]), axis=0)
    within = tf.reduce_any(tf.stack([
        rules.allowed,
        column(hold_column, tf.logical_and(begun, tf.logical_not(tf.logical_and(final_downbeat, tf.logical_not(is_note))))),
        column(rest_column, tf.logical_not(final_downbeat)),
        column(end_column, may_end)]), axis=0)
    mask = tf.where((position >= last)[:, None], tf.broadcast_to(end_column, tf.shape(within)),
                    tf.where((position > final_beat)[:, None], tf.broadcast_to(hold_column, tf.shape(within)),
                             tf.where(tf.equal(position, final_beat)[:, None], at_final_beat, within)))
    return tf.logical_or(mask, (rules.bar <= 0)[:, None])


def advance(rules: GraphRules, state: State, token: tf.Tensor, sampled: tf.Tensor) -> State:
    """``bar_rules.advance`` of every row: int32 ``token`` `[B]`, bool ``sampled`` `[B]`."""
    position, sounding, is_note, onset, new_notes, starts_rest, ended = state
    is_end, is_hold = tf.equal(token, rules.end), tf.equal(token, rules.hold)
    struck_note = tf.not_equal(token, rules.rest)
    note = tf.where(is_hold, is_note, struck_note)
    counted = tf.cast(tf.logical_and(sampled, tf.logical_and(tf.logical_not(is_hold), struck_note)), tf.int32)
    on_bar_line = tf.equal(tf.math.floormod(position, tf.maximum(rules.bar, 1)), 0)
    moved = (position + 1, tf.where(is_hold, sounding, token), note, tf.where(is_hold, onset, position),
             new_notes + counted, tf.where(on_bar_line, tf.logical_not(note), starts_rest), ended)
    restart = initial_state(tf.shape(token)[0], rules.start())
    finish = (*state[:-1], tf.logical_or(ended, rules.bar > 0))
    return tuple(
        tf.where(is_end, tf.where(sampled, finished, fresh), advanced)
        for advanced, fresh, finished in zip(moved, restart, finish)
    )

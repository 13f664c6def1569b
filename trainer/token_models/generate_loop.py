"""The `generate` signature's loop: primer, then sampling under each row's bar rules, in the graph.

The same loop as the client's over `step` (``serving.generation.tokens.sample_melodies``), drawn
with ``serving.contract.sampling_graph`` and masked by ``serving.contract.bar_rules_graph``, so
that for the same seed and rules both give the same tokens. A row without rules (its
``steps_per_bar`` 0) samples its ``steps`` freely; a row with rules stops at its end symbol.
"""
from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from serving.contract import bar_rules_graph
from serving.contract import signatures as sig
from serving.contract.sampling_graph import graph_uniform, make_chooser

Step = Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]


def rule_specs(vocab_size: int) -> list[tf.TensorSpec]:
    """The input signature of the rule inputs, in ``sig.RULE_INPUTS`` order."""
    row = {sig.ALLOWED: [None, vocab_size], sig.TONIC: [None, vocab_size]}
    dtypes = {sig.ALLOWED: tf.bool, sig.TONIC: tf.bool, sig.END_ON_TONIC: tf.bool}
    return [tf.TensorSpec(row.get(name, [None]), dtypes.get(name, tf.int32), name=name) for name in sig.RULE_INPUTS]


def generate_specs(vocab_size: int) -> list[tf.TensorSpec]:
    """The input signature of `generate` in ``sig.GENERATE_INPUTS`` order: the primer and sampling
    settings, then the rule inputs."""
    sampling = {sig.PRIMER: ([None, None], tf.int32), sig.TEMPERATURE: ([None], tf.float32),
                sig.TOP_P: ([None], tf.float32)}
    names = [name for name in sig.GENERATE_INPUTS if name not in sig.RULE_INPUTS]
    return [tf.TensorSpec(*sampling.get(name, ([None], tf.int32)), name=name) for name in names] + rule_specs(vocab_size)


def graph_rules(inputs: dict[str, tf.Tensor], end: int, hold: int, rest: int) -> bar_rules_graph.GraphRules:
    """The rule inputs (by ``sig`` name) as ``GraphRules``."""
    return bar_rules_graph.GraphRules(
        inputs[sig.ALLOWED], inputs[sig.TONIC], inputs[sig.STEPS_PER_BAR], inputs[sig.BEAT_STEPS],
        inputs[sig.MIN_BARS], inputs[sig.MAX_BARS], inputs[sig.END_ON_TONIC], end, hold, rest)


def generate_loop(step: Step, vocab_size: int, state_size: int, inputs: dict[str, tf.Tensor],
                  rules: bar_rules_graph.GraphRules) -> tf.Tensor:
    """Every row at once; returns int32 `[B, max(steps)]`: the sampled tokens, -1 padded."""
    primer, primer_length, steps = inputs[sig.PRIMER], inputs[sig.PRIMER_LENGTH], inputs[sig.STEPS]
    batch = tf.shape(primer)[0]
    primer_width = tf.shape(primer)[1]
    iterations = tf.maximum(tf.reduce_max(primer_length + steps), 1)
    max_steps = tf.maximum(tf.reduce_max(steps), 0)
    choose = make_chooser(inputs[sig.TEMPERATURE], inputs[sig.TOP_K], inputs[sig.TOP_P], vocab_size)
    draws = graph_uniform(inputs[sig.SEED][:, None], tf.range(tf.maximum(max_steps, 1))[None, :])  # [B, T]
    any_rules = tf.reduce_any(rules.bar > 0)  # a batch without rules skips them (the mask and state updates)

    def body(t, logits, state, rule_state, emitted):
        index = t - primer_length
        in_primer = t < primer_length
        sampling = tf.logical_and(tf.logical_and(index >= 0, index < steps), tf.logical_not(rule_state[-1]))
        draw_index = tf.clip_by_value(index, 0, tf.shape(draws)[1] - 1)
        u = tf.gather(draws, draw_index[:, None], batch_dims=1)[:, 0]
        allowed = tf.cond(any_rules, lambda: bar_rules_graph.allowed_tokens(rules, rule_state, vocab_size),
                          lambda: tf.ones_like(logits, tf.bool))
        sampled = choose(logits, u, allowed)
        fed = tf.where(in_primer, primer[:, tf.minimum(t, primer_width - 1)], sampled)
        emitted = emitted.write(t, tf.where(sampling, sampled, -tf.ones_like(sampled)))

        def followed() -> bar_rules_graph.State:
            moved = bar_rules_graph.advance(rules, rule_state, fed, sampling)
            return tuple(tf.where(tf.logical_or(in_primer, sampling), new, old) for new, old in zip(moved, rule_state))

        rule_state = tf.cond(any_rules, followed, lambda: rule_state)
        logits, state = step(fed, state)
        return t + 1, logits, state, rule_state, emitted

    start_rules = bar_rules_graph.initial_state(batch)
    _, _, _, _, emitted = tf.while_loop(
        lambda t, *_: t < iterations,
        body,
        (
            tf.constant(0),
            tf.zeros([batch, vocab_size], tf.float32),
            tf.zeros([batch, state_size], tf.float32),
            start_rules,
            tf.TensorArray(tf.int32, size=iterations, element_shape=tf.TensorShape([None])),
        ),
        shape_invariants=(
            tf.TensorShape([]),
            tf.TensorShape([None, vocab_size]),
            tf.TensorShape([None, state_size]),
            tuple(tf.TensorShape([None]) for _ in start_rules),
            tf.TensorShape(None),
        ),
    )
    by_row = tf.transpose(emitted.stack())  # [B, iterations]
    sample_index = tf.range(max_steps)[None, :]
    where_emitted = tf.minimum(primer_length[:, None] + sample_index, iterations - 1)
    tokens = tf.gather(by_row, where_emitted, batch_dims=1)
    return tf.where(sample_index < steps[:, None], tokens, -tf.ones_like(tokens))

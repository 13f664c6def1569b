"""serving/contract/bar_rules_graph.py is serving/contract/bar_rules.py for tunes with a pickup:
the same mask at every step of random walks, rows of different pickups (0 included) in one batch."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from preprocessing.melody.keys import parse_key, parse_meter
from preprocessing.melody.timestep import DELIMITER, HOLD, timestep_vocabulary_order
from serving.contract import bar_rules, bar_rules_graph
from serving.contract import signatures as sig
from serving.generation.timestep_constraints import TimestepConstraints
from serving.generation.tune_request import TuneRequest

pytestmark = pytest.mark.unit

VOCABULARY = timestep_vocabulary_order(str(pitch) for pitch in range(55, 80))
ROWS = [("3/4", 2), ("4/4", 0), ("6/8", 5), ("2/4", 7), ("3/4", 0), ("4/4", 12)]


def graph_rules(rows: list[bar_rules.BarRules]) -> bar_rules_graph.GraphRules:
    inputs = bar_rules.rule_inputs(rows, len(VOCABULARY))
    first = rows[0]
    return bar_rules_graph.GraphRules(
        tf.constant(inputs[sig.ALLOWED]), tf.constant(inputs[sig.TONIC]), tf.constant(inputs[sig.STEPS_PER_BAR]),
        tf.constant(inputs[sig.BEAT_STEPS]), tf.constant(inputs[sig.MIN_BARS]), tf.constant(inputs[sig.MAX_BARS]),
        tf.constant(inputs[sig.END_ON_TONIC]), first.end, first.hold, first.rest,
        tf.constant([row.pickup for row in rows], tf.int32))


@pytest.mark.parametrize("seed", range(4))
def test_numpy_and_graph_rules_agree_with_a_pickup_primer_included(seed):
    rng = np.random.default_rng(seed)
    rows, primers = [], []
    for meter_text, pickup in ROWS:
        constraints = TimestepConstraints(TuneRequest(parse_meter(meter_text), parse_key("C"), 3), VOCABULARY, pickup)
        primer = [VOCABULARY.index(symbol) for symbol in [DELIMITER, "60"] + [HOLD] * max(pickup - 1, 0)]
        rows.append(constraints.rules(*constraints.bar_limits(constraints.start(primer).position, 200)))
        primers.append(primer)
    graph = graph_rules(rows)
    numpy_states = [bar_rules.tune_start(row) for row in rows]
    graph_state = bar_rules_graph.initial_state(tf.constant(len(rows)), graph.start())
    longest = max(len(primer) for primer in primers)
    for t in range(longest + 200):
        in_primer = [t < len(primer) for primer in primers]
        graph_mask = bar_rules_graph.allowed_tokens(graph, graph_state, len(VOCABULARY)).numpy()
        tokens, sampled = [], []
        for row, rules in enumerate(rows):
            mask = bar_rules.allowed_tokens(rules, numpy_states[row])
            if not numpy_states[row].ended and not in_primer[row]:
                assert graph_mask[row].tolist() == mask.tolist(), f"row {row} step {t}"
            token = primers[row][t] if in_primer[row] else int(rng.choice(np.flatnonzero(mask)))
            if not numpy_states[row].ended:
                numpy_states[row] = bar_rules.advance(rules, numpy_states[row], token, sampled=not in_primer[row])
            tokens.append(token)
            sampled.append(not in_primer[row])
        moved = bar_rules_graph.advance(graph, graph_state, tf.constant(tokens, tf.int32), tf.constant(sampled))
        ended = graph_state[-1]
        graph_state = tuple(tf.where(ended, old, new) for old, new in zip(graph_state, moved))
        positions = graph_state[0].numpy().tolist()
        assert positions == [state.position for state in numpy_states]
        if all(state.ended for state in numpy_states):
            break
    assert all(state.ended for state in numpy_states)
    assert [state.position for state in numpy_states] == [3 * row.bar for row in rows]

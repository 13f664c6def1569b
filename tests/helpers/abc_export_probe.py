"""Loads a character-model export in a fresh process and reports its signatures' answers (JSON).

    python -m tests.helpers.abc_export_probe EXPORT_DIR PRIMER

Feeds PRIMER through ``step`` from the zero state, then runs ``generate`` greedily (top_k=1) for
40 steps; prints {"symbols", "state_size", "logits" (the last step's), "tokens"}. Used by
tests/trainer/token_models/test_abc_model.py.
"""
from __future__ import annotations

import json
import sys

import tensorflow as tf

from serving.contract.bar_rules import rule_inputs


def main() -> None:
    loaded = tf.saved_model.load(sys.argv[1])
    symbols = [s.decode("utf-8") for s in loaded.signatures["vocabulary"]()["symbols"].numpy()]
    state_size = loaded.signatures["step"].structured_input_signature[1]["state"].shape[1]
    primer = [symbols.index(c) for c in sys.argv[2]]
    state = tf.zeros([1, state_size])
    for token in primer:
        out = loaded.signatures["step"](token=tf.constant([token], tf.int32), state=state)
        state = out["state"]
    generated = loaded.signatures["generate"](
        primer=tf.constant([primer], tf.int32), primer_length=tf.constant([len(primer)], tf.int32),
        steps=tf.constant([40], tf.int32), temperature=tf.constant([1.0]), top_k=tf.constant([1], tf.int32),
        top_p=tf.constant([1.0]), seed=tf.constant([5], tf.int32),
        **{name: tf.constant(value) for name, value in rule_inputs([None], len(symbols)).items()})["tokens"].numpy()
    print(json.dumps({"symbols": symbols, "state_size": int(state_size),
                      "logits": out["logits"].numpy().tolist(), "tokens": generated.tolist()}))


if __name__ == "__main__":
    main()

"""Loads token-model exports in a fresh process and reports what their signatures answer (JSON).

    python -m tests.helpers.export_probe '{"exports": [...], "rows": [...], "sequence": [...]}'

Used by tests/trainer/test_export.py: a fresh process proves the exports hold no Python paths.
"""
from __future__ import annotations

import json
import sys

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from serving.contract import sampling
from serving.contract.bar_rules import rule_inputs
from tests.helpers.reference_sampling import sample_loop


def generate(signature, rows: list[list]) -> tf.Tensor:
    """Runs ``generate`` on rows of (primer, steps, temperature, top_k, top_p, seed); int32 [B, T]."""
    width = max(len(row[0]) for row in rows)
    vocab_size = signature.structured_input_signature[1]["allowed"].shape[1]
    free = {name: tf.constant(value) for name, value in rule_inputs([None] * len(rows), vocab_size).items()}
    out = signature(
        **free,
        primer=tf.constant([row[0] + [0] * (width - len(row[0])) for row in rows], tf.int32),
        primer_length=tf.constant([len(row[0]) for row in rows], tf.int32),
        steps=tf.constant([row[1] for row in rows], tf.int32),
        temperature=tf.constant([row[2] for row in rows], tf.float32),
        top_k=tf.constant([row[3] for row in rows], tf.int32),
        top_p=tf.constant([row[4] for row in rows], tf.float32),
        seed=tf.constant([row[5] for row in rows], tf.int32),
    )["tokens"]
    return out


def main() -> None:
    request = json.loads(sys.argv[1])
    rows, sequence, report = request["rows"], request["sequence"], {}
    for directory in request["exports"]:
        loaded = tf.saved_model.load(directory)  # keep a reference while calling its signatures
        signatures = loaded.signatures
        state_size = signatures["step"].structured_input_signature[1]["state"].shape[1]
        step = signatures["step"]

        def step_one(token, state):
            out = step(token=tf.constant([token], tf.int32), state=tf.constant(state[None]))
            return out["logits"].numpy()[0], out["state"].numpy()[0]

        batch = step(token=tf.constant([0, 1, 2], tf.int32), state=tf.zeros([3, state_size]))
        state, logits = np.zeros(state_size, np.float32), []
        for token in sequence:
            row_logits, state = step_one(token, state)
            logits.append(row_logits.tolist())
        tokens = generate(signatures["generate"], rows)
        errors = {}
        bad_rows = {
            "temperature": [[1], 3, 0.0, 0, 1.0, 1],
            "top_p": [[1], 3, 1.0, 0, 1.5, 1],
            "primer_length": [[], 3, 1.0, 0, 1.0, 1],
        }
        for name, bad_row in bad_rows.items():
            try:
                generate(signatures["generate"], [bad_row])
                errors[name] = "accepted"
            except tf.errors.InvalidArgumentError as error:
                errors[name] = type(error).__name__ + ": " + str(error)
        try:
            step(token=tf.constant([1000], tf.int32), state=tf.zeros([1, state_size]))
            errors["token"] = "accepted"
        except tf.errors.InvalidArgumentError as error:
            errors["token"] = type(error).__name__ + ": " + str(error)
        warmed = []
        for record in tf.data.TFRecordDataset(str(directory) + "/assets.extra/tf_serving_warmup_requests"):
            predict = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
            inputs = {key: tf.constant(tf.make_ndarray(proto)) for key, proto in predict.inputs.items()}
            outputs = signatures[predict.model_spec.signature_name](**inputs)
            warmed.append([predict.model_spec.signature_name, sorted(outputs)])
        report[directory] = {
            "signatures": sorted(signatures),
            "symbols": [s.decode() for s in signatures["vocabulary"]()["symbols"].numpy()],
            "serving_default_inputs": sorted(signatures["serving_default"].structured_input_signature[1]),
            "state_size": state_size,
            "batch_step": {key: [value.dtype.name, value.shape.as_list()] for key, value in batch.items()},
            "sequence_logits": logits,
            "generate": {"dtype": tokens.dtype.name, "tokens": tokens.numpy().tolist()},
            "alone": [generate(signatures["generate"], [row]).numpy()[0].tolist() for row in rows],
            "client": [
                sample_loop(
                    step_one, np.zeros(state_size, np.float32), row[0], row[1],
                    sampling.SamplingSettings(row[2], row[3], row[4]), row[5],
                )
                for row in rows
            ],
            "errors": errors,
            "warmup": warmed,
        }
    print("REPORT " + json.dumps(report))


if __name__ == "__main__":
    main()

"""Loads VAE exports in a fresh process and reports what every signature answers (JSON).

    python -m tests.helpers.vae_export_probe EXPORT_DIR [EXPORT_DIR ...]

Calls every signature of every export with a batch of 3 and prints one JSON object per export.
Used by tests/trainer/vae/test_vae_export.py: a fresh process proves the exports hold no Python paths.
"""
from __future__ import annotations

import json
import sys

import numpy as np
import tensorflow as tf


def main() -> None:
    for path in sys.argv[1:]:
        loaded = tf.saved_model.load(path)
        sig = loaded.signatures
        info = {key: value.numpy() for key, value in sig["info"]().items()}
        alphabet = info["alphabet"]
        length, latent = int(info["length"]), int(info["latent_dim"])
        codes = tf.constant(np.resize(alphabet, (3, length)).astype(np.int32))
        encoded = sig["encode"](codes=codes)
        decoded = sig["decode"](z=encoded["mean"])
        rebuilt = sig["reconstruct"](codes=codes)
        sampled = sig["sample"](seed=tf.constant([7, 8, 7], tf.int32))
        alone = sig["sample"](seed=tf.constant([8], tf.int32))
        default = sig["serving_default"](seed=tf.constant([7], tf.int32))
        try:
            sig["encode"](codes=tf.fill([1, length], 98))
            bad_codes = "accepted"
        except tf.errors.InvalidArgumentError as error:
            bad_codes = error.message
        shapes = lambda outputs: {k: [v.dtype.name, v.shape.as_list()] for k, v in outputs.items()}
        print(json.dumps({
            "signatures": sorted(sig.keys()),
            "kind": info["kind"].decode(), "output": info["output"].decode(), "length": length,
            "latent_dim": latent, "pad_code": int(info["pad_code"]), "alphabet": alphabet.tolist(),
            "encode": shapes(encoded), "decode": shapes(decoded), "reconstruct": shapes(rebuilt),
            "sample": shapes(sampled),
            "mean": encoded["mean"].numpy().tolist(),
            "reconstruct_is_decode_of_mean": bool(np.array_equal(rebuilt["codes"], decoded["codes"])),
            "same_seed_same_row": bool(np.array_equal(sampled["z"][0], sampled["z"][2])),
            "row_independent_of_batch": bool(np.allclose(sampled["z"][1], alone["z"][0])),
            "default_is_sample": bool(np.allclose(default["z"][0], sampled["z"][0])),
            "sample_codes": sampled["codes"].numpy().tolist(),
            "bad_codes": bad_codes,
        }))


if __name__ == "__main__":
    main()

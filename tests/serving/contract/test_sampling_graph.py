"""serving/contract/sampling_graph.py: the TensorFlow sampler is the NumPy sampler, bit for bit."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from serving.contract import sampling
from serving.contract.sampling_graph import graph_uniform, make_chooser


def test_graph_uniform_matches_the_numpy_draws() -> None:
    rng = np.random.default_rng(3)
    seeds = np.concatenate([[0, -1, 2**31 - 1, -(2**31), 69069], rng.integers(-(2**31), 2**31, 300)]).astype(np.int32)
    indices = np.concatenate([[0, 0, 1, 2**31 - 1, 5], rng.integers(0, 2**31, 300)]).astype(np.int32)
    graph = graph_uniform(tf.constant(seeds), tf.constant(indices)).numpy()
    expected = [sampling.uniform(int(seed), int(index)) for seed, index in zip(seeds, indices)]
    assert graph.dtype == np.float32
    assert graph.tolist() == expected


def test_graph_choose_matches_the_numpy_sampler_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    rows, size = 2000, 11
    logits = (rng.standard_normal((rows, size)) * rng.choice([0.1, 3.0, 30.0], (rows, 1))).astype(np.float32)
    logits[rng.random((rows, size)) < 0.1] = np.nan
    logits[rng.random((rows, size)) < 0.1] = -np.inf
    logits[rng.random((rows, size)) < 0.15] = -1.0  # ties
    logits[:20] = np.nan  # rows with nothing possible: uniform
    temperature = rng.choice([0.05, 0.5, 1.0, 1.7, 4.0], rows).astype(np.float32)
    top_k = rng.choice([0, 0, 1, 2, 5, 20], rows).astype(np.int32)
    top_p = rng.choice([1.0, 1.0, 0.9, 0.5, 0.05], rows).astype(np.float32)
    u = (rng.integers(0, 2**24, rows) / 2**24).astype(np.float32)
    choose = make_chooser(*(tf.constant(x) for x in (temperature, top_k, top_p)), size)
    graph = choose(tf.constant(logits), tf.constant(u)).numpy()
    expected = [
        sampling.choose(logits[i], float(temperature[i]), int(top_k[i]), float(top_p[i]), float(u[i]))
        for i in range(rows)
    ]
    assert graph.tolist() == expected

"""Test-split metrics of the joint melody VAE: exact event reconstruction and prior samples.

- ``event_reconstruction``: share of the test tunes' real events whose decoded (pitch, duration)
  pair equals the input pair, decoding the encoder's mean (``pitch_reconstruction`` and
  ``duration_reconstruction`` for each alone; ``length_exact`` the share of tunes whose decoded
  length is exact);
- ``sample_pitch_tvd`` / ``sample_duration_tvd``: total variation distance between the code
  histograms of prior samples (z ~ N(0, I), each cut at its decoded length) and of the reference
  (training) tunes; ``reference_*_tvd`` the same between the test and training tunes (the floor);
- lengths: mean and standard deviation of the samples' and the corpus's, and ``sample_length_tvd``
  over buckets of ``LENGTH_BUCKET`` events (``reference_length_tvd`` test vs training).
"""
from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from serving.contract import signatures as sig
from trainer.vae.melody_data import NOTES, RHYTHMS, MelodyRows
from trainer.vae.metrics import code_histogram, total_variation

logger = logging.getLogger(__name__)

LENGTH_BUCKET = 8


class MelodyAutoencoder(Protocol):
    """What the metrics need: (notes, rhythms [B, L], lengths [B]) <-> latent [B, Z]."""

    def encode(self, notes, rhythms, lengths): ...

    def decode(self, z): ...


def _decoded(model: MelodyAutoencoder, z: np.ndarray) -> dict[str, np.ndarray]:
    return {name: np.asarray(value) for name, value in model.decode(z).items()}


def reconstruct_rows(model: MelodyAutoencoder, rows: MelodyRows, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Decodes the encoder's mean of every row: -> {NOTES, RHYTHMS [N, L], LENGTH [N]}."""
    parts = []
    for start in range(0, len(rows), batch_size):
        window = slice(start, start + batch_size)
        mean, _ = model.encode(rows.notes[window], rows.rhythms[window], rows.lengths[window])
        parts.append(_decoded(model, np.asarray(mean)))
    return {name: np.concatenate([part[name] for part in parts]) for name in (sig.NOTES, sig.RHYTHMS, sig.LENGTH)}


def sample_rows(model: MelodyAutoencoder, latent_dim: int, count: int, seed: int) -> dict[str, np.ndarray]:
    """Decodes ``count`` draws z ~ N(0, I): -> {NOTES, RHYTHMS [count, L], LENGTH [count]}."""
    z = np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)
    return _decoded(model, z)


def length_histogram(lengths: np.ndarray, length: int) -> np.ndarray:
    """Normalised histogram over buckets of ``LENGTH_BUCKET`` events of lengths 1..``length``."""
    buckets = (np.asarray(lengths) - 1) // LENGTH_BUCKET
    counts = np.bincount(buckets, minlength=(length - 1) // LENGTH_BUCKET + 1).astype(np.float64)
    return counts / counts.sum() if counts.sum() else counts


def event_scores(rows: MelodyRows, decoded: dict[str, np.ndarray]) -> dict[str, float]:
    """Exact-match shares over the real events of ``rows`` (see the module docstring)."""
    mask = np.arange(rows.notes.shape[1])[None, :] < rows.lengths[:, None]
    pitch = decoded[sig.NOTES] == rows.notes
    duration = decoded[sig.RHYTHMS] == rows.rhythms
    return {
        "event_reconstruction": float((pitch & duration)[mask].mean()),
        "pitch_reconstruction": float(pitch[mask].mean()),
        "duration_reconstruction": float(duration[mask].mean()),
        "length_exact": float(np.mean(decoded[sig.LENGTH] == rows.lengths)),
    }


def evaluate_melody_vae(
    model: MelodyAutoencoder, latent_dim: int, length: int, test: MelodyRows, reference: MelodyRows,
    num_samples: int = 500, seed: int = 0,
) -> dict[str, float]:
    """All metrics above on the ``test`` rows, against the ``reference`` (training) rows."""
    metrics = event_scores(test, reconstruct_rows(model, test))
    samples = sample_rows(model, latent_dim, num_samples, seed)
    for name, alphabet, key in (("pitch", NOTES, sig.NOTES), ("duration", RHYTHMS, sig.RHYTHMS)):
        reference_histogram = code_histogram(getattr(reference, key), reference.lengths, alphabet)
        metrics[f"sample_{name}_tvd"] = total_variation(
            code_histogram(samples[key], samples[sig.LENGTH], alphabet), reference_histogram
        )
        metrics[f"reference_{name}_tvd"] = total_variation(
            code_histogram(getattr(test, key), test.lengths, alphabet), reference_histogram
        )
    reference_lengths = length_histogram(reference.lengths, length)
    metrics.update({
        "sample_length_tvd": total_variation(length_histogram(samples[sig.LENGTH], length), reference_lengths),
        "reference_length_tvd": total_variation(length_histogram(test.lengths, length), reference_lengths),
        "sample_mean_length": float(samples[sig.LENGTH].mean()),
        "sample_std_length": float(samples[sig.LENGTH].std()),
        "corpus_mean_length": float(reference.lengths.mean()),
        "corpus_std_length": float(reference.lengths.std()),
        "sample_distinct_share": float(
            len({row.tobytes() for row in np.concatenate([samples[sig.NOTES], samples[sig.RHYTHMS]], 1)})
            / max(num_samples, 1)
        ),
    })
    logger.info("melody VAE metrics: %s", metrics)
    return metrics

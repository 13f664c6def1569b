"""Test-split metrics of a VAE: exact reconstruction and the quality of samples from the prior.

- ``reconstruction_accuracy``: share of real (non-padding) positions whose decoded code equals the
  input code, decoding the encoder's mean (de-normalised and rounded for sigmoid outputs);
- ``sample_valid_share``: share of decoded codes of prior samples (z ~ N(0, I)) in the alphabet;
- ``sample_tvd`` / ``sample_js``: total variation distance and Jensen-Shannon divergence (bits)
  between the code histogram of the samples and of the reference corpus (training split), both
  counted on the events before the trailing padding; ``reference_tvd`` is the same distance
  between the test and training splits, the floor a perfect generator would reach.
"""
from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from serving.contract import signatures as sig
from trainer.vae import data as vae_data

logger = logging.getLogger(__name__)


class CodeAutoencoder(Protocol):
    """What the metrics need of a model: int32 codes [B, L] <-> latent [B, Z]."""

    def encode(self, codes): ...

    def decode(self, z): ...


def reconstruction_accuracy(true_codes: np.ndarray, predicted_codes: np.ndarray, lengths: np.ndarray) -> float:
    """Exact-match share over positions < length: codes [N, L], lengths [N]."""
    true_codes, predicted_codes = np.asarray(true_codes), np.asarray(predicted_codes)
    if true_codes.shape != predicted_codes.shape:
        raise ValueError(f"shape mismatch: true {true_codes.shape} vs predicted {predicted_codes.shape}")
    mask = np.arange(true_codes.shape[1])[None, :] < np.asarray(lengths)[:, None]
    return float((true_codes == predicted_codes)[mask].mean()) if mask.any() else 0.0


def unpadded_lengths(codes: np.ndarray, pad_code: int) -> np.ndarray:
    """Events before the trailing run of ``pad_code`` per row: codes [N, L] -> int32 [N]."""
    codes = np.asarray(codes)
    not_pad = codes != pad_code
    last = codes.shape[1] - np.argmax(not_pad[:, ::-1], axis=1)
    return np.where(not_pad.any(axis=1), last, 0).astype(np.int32)


def code_histogram(codes: np.ndarray, lengths: np.ndarray, alphabet: vae_data.CodeAlphabet) -> np.ndarray:
    """Normalised histogram [C] over the alphabet of the valid codes at positions < length."""
    codes = np.asarray(codes)
    mask = (np.arange(codes.shape[1])[None, :] < np.asarray(lengths)[:, None]) & alphabet.is_valid(codes)
    counts = np.bincount(alphabet.indices(codes[mask]), minlength=alphabet.size).astype(np.float64)
    total = counts.sum()
    return counts / total if total else counts


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Half the L1 distance between two histograms, in [0, 1]."""
    return float(0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum())


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits, in [0, 1]; 1.0 when one histogram is empty."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    if not p.sum() or not q.sum():
        return 1.0
    middle = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        support = a > 0
        return float(np.sum(a[support] * np.log2(a[support] / middle[support])))

    return 0.5 * kl(p) + 0.5 * kl(q)


def reconstruct_codes(model: CodeAutoencoder, codes: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Decodes the encoder's mean of each row: int32 codes [N, L] -> int32 codes [N, L]."""
    rows = []
    for start in range(0, len(codes), batch_size):
        mean, _ = model.encode(codes[start : start + batch_size])
        rows.append(np.asarray(model.decode(mean)[sig.CODES]))
    return np.concatenate(rows) if rows else np.zeros_like(codes)


def sample_codes(model: CodeAutoencoder, latent_dim: int, count: int, seed: int) -> np.ndarray:
    """Decodes ``count`` draws z ~ N(0, I): -> int32 codes [count, L]."""
    z = np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)
    return np.asarray(model.decode(z)[sig.CODES])


def evaluate_vae(
    model: CodeAutoencoder,
    latent_dim: int,
    alphabet: vae_data.CodeAlphabet,
    test: vae_data.PaddedCodes,
    reference: vae_data.PaddedCodes,
    num_samples: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """All metrics above, on the ``test`` rows, against the ``reference`` (training) rows."""
    predicted = reconstruct_codes(model, test.codes)
    samples = sample_codes(model, latent_dim, num_samples, seed)
    sample_lengths = unpadded_lengths(samples, alphabet.pad_code)
    reference_histogram = code_histogram(
        reference.codes, unpadded_lengths(reference.codes, alphabet.pad_code), alphabet
    )
    sample_histogram = code_histogram(samples, sample_lengths, alphabet)
    test_histogram = code_histogram(test.codes, unpadded_lengths(test.codes, alphabet.pad_code), alphabet)
    metrics = {
        "reconstruction_accuracy": reconstruction_accuracy(test.codes, predicted, test.lengths),
        "sample_valid_share": float(alphabet.is_valid(samples).mean()),
        "sample_tvd": total_variation(sample_histogram, reference_histogram),
        "sample_js": jensen_shannon(sample_histogram, reference_histogram),
        "reference_tvd": total_variation(test_histogram, reference_histogram),
        "sample_mean_length": float(sample_lengths.mean()),
        "corpus_mean_length": float(reference.lengths.mean()) if len(reference.lengths) else 0.0,
        "sample_distinct_share": float(len({row.tobytes() for row in samples}) / max(len(samples), 1)),
    }
    logger.info("VAE %s metrics: %s", alphabet.kind, metrics)
    return metrics

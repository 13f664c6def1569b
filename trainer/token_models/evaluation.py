"""Scores an exported token model and an n-gram baseline on one split of a preprocessing output.

The SavedModel (latest integer version under the base path) is run through its ``step``
signature (``trainer.token_models.scoring.StepScorer``): all songs of the split in parallel, each
starting from the zero state fed one ``/``; the targets are the songs' symbols (the padding past a
song's end is not scored).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from serving.contract import signatures as sig
from serving.contract.versions import latest_version_dir
from trainer.token_models import data, meter_data
from trainer.token_models.metrics import MetricTotals
from trainer.token_models.ngram import NGramModel
from trainer.token_models.scoring import StepScorer


def _score(
    songs: Sequence[np.ndarray], symbols: Sequence[str], predict: Callable[[Sequence[np.ndarray]], list[np.ndarray]]
) -> dict:
    """The metrics of ``predict`` (songs -> per song [len, V] probabilities) on ``songs``."""
    totals = MetricTotals(list(symbols))
    for song, probs in zip(songs, predict(songs)):
        totals.add(probs, song)
    return totals.result()


def evaluate(model_path: str, data_dir: str, split: str, *, order: int = 5, batch_size: int = 256,
             tune_lengths: bool = False) -> dict:
    """Scores the model and an ``order``-gram trained on the train split; returns both metric sets.

    A meter-aware model is told each tune's meter, mode and pickup and, with ``tune_lengths``, its
    length (the bars left at every step); without, no length, as a request without ``--bars``."""
    data.check_data_dir(data_dir)
    model_dir = latest_version_dir(model_path)
    scorer = StepScorer(model_dir)
    if scorer.model_kind != sig.TOKEN_TIMESTEP:
        raise ValueError(f"{model_dir!r} is a {scorer.model_kind} model, not {sig.TOKEN_TIMESTEP}; "
                         "score a character-level ABC model with python -m trainer.abc_eval")
    vocabulary = data.Vocabulary(scorer.symbols, (0,) * len(scorer.symbols))
    frames = None
    if scorer.conditioning:
        songs, frames, dropped = meter_data.song_frames(data_dir, split, vocabulary, lengths=tune_lengths)
    else:
        songs, dropped = data.load_song_arrays(data_dir, split, vocabulary)
    if not songs:
        raise ValueError(f"split {split!r} of {data_dir!r} has no songs the model's vocabulary can encode")
    train_songs, _ = data.load_song_arrays(data_dir, "train", vocabulary)
    delimiter = vocabulary.delimiter_id

    def model_predict(batch_songs: Sequence[np.ndarray]) -> list[np.ndarray]:
        starts = range(0, len(batch_songs), batch_size)
        return [probs for i in starts for probs in scorer.song_probs(
            batch_songs[i : i + batch_size], delimiter, None if frames is None else frames[i : i + batch_size])]

    ngram = NGramModel(vocabulary.size, order).fit(train_songs, delimiter)
    return {
        "model": model_dir,
        "data": data_dir,
        "split": split,
        "songs": len(songs),
        "songs_dropped_unknown_symbols": dropped,
        "model_metrics": _score(songs, vocabulary.symbols, model_predict),
        "ngram_metrics": _score(
            songs, vocabulary.symbols, lambda batch: [ngram.song_distributions(s, delimiter) for s in batch]
        ),
        "ngram_order": order,
        "tune_lengths": bool(frames is not None and tune_lengths),
    }


def format_table(report: dict) -> str:
    """A small text table of the model's and the n-gram's metrics."""
    rows = [("metric", "model", f"{report['ngram_order']}-gram")]
    for key in ("nll_nats_per_step", "pitch_bits_per_note", "onset_accuracy"):
        rows.append((key, f"{report['model_metrics'][key]:.4f}", f"{report['ngram_metrics'][key]:.4f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows]
    header = f"{report['model']} on {report['data']} [{report['split']}]: {report['songs']} songs"
    return "\n".join([header, *lines])

"""Scores an exported token model and an n-gram baseline on one split of a preprocessing output.

``python -m trainer.evaluate --model saved_models/lstm_erk --data data/erk --split test [--output m.json]``

The SavedModel (latest integer version under the base path) is run through its ``step``
signature: all songs of the split in parallel, each starting from the zero state fed one ``/``;
the targets are the songs' symbols (the padding past a song's end is not scored).
"""
from __future__ import annotations

import argparse
import json
import logging
import pathlib
import sys
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from serving.contract.versions import latest_version_dir
from trainer.token_models import data
from trainer.token_models.metrics import MetricTotals
from trainer.token_models.ngram import NGramModel

logger = logging.getLogger(__name__)


class StepScorer:
    """Wraps a loaded SavedModel's ``step`` and ``vocabulary`` signatures."""

    def __init__(self, model_dir: str | pathlib.Path) -> None:
        self.model_dir = pathlib.Path(model_dir)
        loaded = tf.saved_model.load(str(self.model_dir))
        for name in ("step", "vocabulary"):
            if name not in loaded.signatures:
                raise ValueError(f"SavedModel {str(self.model_dir)!r} has no {name!r} signature")
        self._loaded = loaded  # keeps the signatures' variables alive
        self._step = loaded.signatures["step"]
        symbols = loaded.signatures["vocabulary"]()["symbols"].numpy()
        self.symbols = tuple(symbol.decode("utf-8") for symbol in symbols)
        self.state_size = int(self._step.structured_input_signature[1]["state"].shape[-1])

    def song_probs(self, songs: Sequence[np.ndarray], delimiter_id: int) -> list[np.ndarray]:
        """Songs of ids -> per song ``[len, V]`` probabilities of each symbol given the ones before."""
        lengths = np.array([len(song) for song in songs])
        batch, steps = len(songs), int(lengths.max())
        padded = np.full((batch, steps), delimiter_id, dtype=np.int32)
        for row, song in enumerate(songs):
            padded[row, : len(song)] = song
        token = np.full(batch, delimiter_id, dtype=np.int32)
        state = tf.zeros([batch, self.state_size], tf.float32)
        per_step = []
        for t in range(steps):
            out = self._step(token=tf.constant(token), state=state)
            per_step.append(np.exp(out["logits"].numpy().astype(np.float64)))
            state = out["state"]
            token = padded[:, t]
        probs = np.stack(per_step, axis=1)  # [B, T, V]
        return [probs[row, : lengths[row]] for row in range(batch)]


def _score(songs: Sequence[np.ndarray], symbols: Sequence[str], predict) -> dict:
    totals = MetricTotals(list(symbols))
    for song, probs in zip(songs, predict(songs)):
        totals.add(probs, song)
    return totals.result()


def evaluate(model_path: str, data_dir: str, split: str, *, order: int = 5, batch_size: int = 256) -> dict:
    """Scores the model and an ``order``-gram trained on the train split; returns both metric sets."""
    data.check_data_dir(data_dir)
    model_dir = latest_version_dir(model_path)
    scorer = StepScorer(model_dir)
    if "\n" in scorer.symbols:
        raise ValueError(f"{str(model_dir)!r} is a character-level ABC model; score it with "
                         "python -m trainer.abc_eval")
    vocabulary = data.Vocabulary(scorer.symbols, (0,) * len(scorer.symbols))
    songs, dropped = data.load_song_arrays(data_dir, split, vocabulary)
    if not songs:
        raise ValueError(f"split {split!r} of {data_dir!r} has no songs the model's vocabulary can encode")
    train_songs, _ = data.load_song_arrays(data_dir, "train", vocabulary)
    delimiter = vocabulary.delimiter_id

    def model_predict(batch_songs):
        chunks = [batch_songs[i : i + batch_size] for i in range(0, len(batch_songs), batch_size)]
        return [probs for chunk in chunks for probs in scorer.song_probs(chunk, delimiter)]

    ngram = NGramModel(vocabulary.size, order).fit(train_songs, delimiter)
    return {
        "model": str(model_dir),
        "data": data_dir,
        "split": split,
        "songs": len(songs),
        "songs_dropped_unknown_symbols": dropped,
        "model_metrics": _score(songs, vocabulary.symbols, model_predict),
        "ngram_metrics": _score(
            songs, vocabulary.symbols, lambda batch: [ngram.song_distributions(s, delimiter) for s in batch]
        ),
        "ngram_order": order,
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score an exported token model against an n-gram baseline.")
    parser.add_argument("--model", required=True, help="SavedModel base path (latest version is used)")
    parser.add_argument("--data", required=True, help="preprocessing output folder")
    parser.add_argument("--split", default="test", choices=("train", "validation", "test"))
    parser.add_argument("--output", help="write the metrics as JSON here")
    parser.add_argument("--order", type=int, default=5, help="n-gram order (default 5)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        report = evaluate(args.model, args.data, args.split, order=args.order)
    except ValueError as error:
        logger.error("%s", error)
        return 2
    sys.stdout.write(format_table(report) + "\n")
    if args.output:
        pathlib.Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""An interpolated Witten-Bell n-gram model over token ids: the evaluation's reference baseline.

Pure Python and NumPy. Each song is read as ``delimiter, song..., delimiter`` (the stream the
LSTM is trained on), so the context of a song's first symbol is the delimiter.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import numpy as np


class NGramModel:
    """``P(w | h)`` with interpolated Witten-Bell smoothing down to a uniform distribution.

    At each order, ``P(w | h) = (c(h, w) + T(h) * P(w | h')) / (c(h) + T(h))`` where ``T(h)`` is
    the number of distinct symbols seen after ``h`` and ``h'`` drops the oldest symbol of ``h``;
    a context never seen falls back to ``P(w | h')``. Every distribution sums to 1.
    """

    def __init__(self, vocab_size: int, order: int = 5) -> None:
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, got {vocab_size!r}")
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order!r}")
        self.vocab_size = vocab_size
        self.order = order
        self._followers: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._cache: dict[tuple[int, ...], np.ndarray] = {}

    def fit(self, songs: Iterable[Sequence[int]], delimiter_id: int) -> NGramModel:
        """Counts every n-gram (n = 1 .. order) of the songs, each framed by the delimiter."""
        counts: dict[tuple[int, ...], Counter] = defaultdict(Counter)
        for song in songs:
            sequence = [delimiter_id, *(int(token) for token in song), delimiter_id]
            for token in sequence:
                if not 0 <= token < self.vocab_size:
                    raise ValueError(f"token {token} outside the vocabulary of size {self.vocab_size}")
            for position in range(1, len(sequence)):
                for length in range(min(self.order - 1, position) + 1):
                    counts[tuple(sequence[position - length : position])][sequence[position]] += 1
        self._followers = {
            context: (np.fromiter(c.keys(), np.int64), np.fromiter(c.values(), np.float64))
            for context, c in counts.items()
        }
        self._cache = {}
        return self

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """``P(. | context)`` as float64 ``[V]``; only the last ``order - 1`` ids are used."""
        key = tuple(int(token) for token in context)[-(self.order - 1) :] if self.order > 1 else ()
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        probs = np.full(self.vocab_size, 1.0 / self.vocab_size)
        for length in range(len(key) + 1):
            followers = self._followers.get(key[len(key) - length :] if length else ())
            if followers is None:
                break  # a longer context that contains this one was never seen either
            symbols, counts = followers
            seen = np.zeros(self.vocab_size)
            seen[symbols] = counts
            probs = (seen + len(symbols) * probs) / (counts.sum() + len(symbols))
        self._cache[key] = probs
        return probs

    def song_distributions(self, song: Sequence[int], delimiter_id: int) -> np.ndarray:
        """``[len(song), V]``: row ``t`` is ``P(. | delimiter, song[:t])``, the prediction of ``song[t]``."""
        history = [delimiter_id, *(int(token) for token in song)]
        return np.stack([self.distribution(history[: t + 1]) for t in range(len(song))])

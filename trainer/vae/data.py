"""Input data of the dense VAEs: fixed-length `notes` or `rhythms` code rows.

As in the slides, one VAE is trained on the pitch codes and another on the duration codes of
each tune, every tune padded to a fixed length:

- ``notes``: pitch 50..97 (MIDI) or rest 99, padded with rests (99);
- ``rhythms``: duration codes 0..7 for [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4] quarter notes, padded
  with whole notes (code 7, "ajout de rondes").

Normalisation (the slides do not say which): min-max over the alphabet's code range,
``(code - low) / (high - low)``, i.e. ``(pitch - 50) / 49`` for notes (rest -> 1.0) and
``code / 7`` for rhythms. It maps every valid code into [0, 1] for the sigmoid output; a decoded
value is rounded back to the nearest integer code, which may be an invalid code (98 for notes).
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Iterable, Sequence

import numpy as np

from preprocessing import schema
from preprocessing.melody.events import ACCEPTABLE_DURATIONS
from preprocessing.melody.vae_codes import NOTE_MAX, NOTE_MIN, NOTE_REST, check_overflow_policy, fit_codes

logger = logging.getLogger(__name__)

NOTES = schema.FEATURE_NOTES
RHYTHMS = schema.FEATURE_RHYTHMS


@dataclasses.dataclass(frozen=True)
class CodeAlphabet:
    """The valid integer codes of one VAE feature, and how they are padded and normalised."""

    kind: str
    codes: tuple[int, ...]
    pad_code: int

    @property
    def low(self) -> int:
        return min(self.codes)

    @property
    def high(self) -> int:
        return max(self.codes)

    @property
    def size(self) -> int:
        return len(self.codes)

    def normalise(self, codes: np.ndarray) -> np.ndarray:
        """Codes (any shape) -> float32 values in [0, 1] by min-max over the code range."""
        return ((np.asarray(codes, np.float32) - self.low) / (self.high - self.low)).astype(np.float32)

    def denormalise(self, values: np.ndarray) -> np.ndarray:
        """Values in [0, 1] (any shape) -> int32 codes, rounded; out-of-alphabet codes remain."""
        return np.rint(np.asarray(values, np.float64) * (self.high - self.low) + self.low).astype(np.int32)

    def indices(self, codes: np.ndarray) -> np.ndarray:
        """Codes -> int32 positions in ``self.codes``; raises ValueError on an invalid code."""
        codes = np.asarray(codes)
        lookup = {code: index for index, code in enumerate(self.codes)}
        bad = sorted({int(code) for code in np.unique(codes)} - lookup.keys())
        if bad:
            raise ValueError(f"invalid {self.kind} codes {bad[:10]}; valid codes are {self.codes}")
        table = np.full(self.high + 1, -1, np.int32)
        table[list(self.codes)] = np.arange(self.size, dtype=np.int32)
        return table[codes]

    def is_valid(self, codes: np.ndarray) -> np.ndarray:
        """Boolean mask (same shape as ``codes``) of codes that belong to the alphabet."""
        return np.isin(np.asarray(codes), np.asarray(self.codes))


NOTES_ALPHABET = CodeAlphabet(
    kind=NOTES,
    codes=tuple(range(NOTE_MIN, NOTE_MAX + 1)) + (NOTE_REST,),
    pad_code=NOTE_REST,
)
RHYTHMS_ALPHABET = CodeAlphabet(
    kind=RHYTHMS,
    codes=tuple(range(len(ACCEPTABLE_DURATIONS))),
    pad_code=len(ACCEPTABLE_DURATIONS) - 1,  # a whole note (4 quarters)
)
ALPHABETS = {NOTES: NOTES_ALPHABET, RHYTHMS: RHYTHMS_ALPHABET}


def alphabet_for(kind: str) -> CodeAlphabet:
    """The alphabet of ``kind`` ("notes" or "rhythms")."""
    if kind not in ALPHABETS:
        raise ValueError(f"unknown VAE feature kind {kind!r}; expected one of {sorted(ALPHABETS)}")
    return ALPHABETS[kind]


@dataclasses.dataclass(frozen=True)
class PaddedCodes:
    """Fixed-length code rows: ``codes`` int32 [N, L], ``lengths`` int32 [N] (real events kept)."""

    codes: np.ndarray
    lengths: np.ndarray
    ids: tuple[str, ...]
    truncated: int


def pad_codes(
    sequences: Sequence[Sequence[int]],
    length: int,
    alphabet: CodeAlphabet,
    overflow: str = "truncate",
    ids: Sequence[str] | None = None,
) -> PaddedCodes:
    """Pads every sequence with ``alphabet.pad_code`` to ``length`` events.

    A longer sequence is cut to ``length`` with a warning (``overflow="truncate"``) or makes this
    raise ValueError naming the tune (``overflow="refuse"``). Invalid codes raise ValueError.
    """
    check_overflow_policy(overflow)
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    ids = tuple(ids) if ids is not None else tuple(f"#{index}" for index in range(len(sequences)))
    codes = np.full((len(sequences), length), alphabet.pad_code, np.int32)
    lengths = np.zeros(len(sequences), np.int32)
    truncated = 0
    for row, (tune_id, sequence) in enumerate(zip(ids, sequences)):
        sequence = np.asarray(sequence, np.int32)
        invalid = ~alphabet.is_valid(sequence)
        if invalid.any():
            raise ValueError(f"tune {tune_id!r}: invalid {alphabet.kind} codes {sorted(set(sequence[invalid].tolist()))}")
        codes[row] = fit_codes(sequence.tolist(), length, alphabet.pad_code, overflow, source=f"tune {tune_id!r}",
                               what=f"{alphabet.kind} events")
        lengths[row] = min(len(sequence), length)
        truncated += int(len(sequence) > length)
    return PaddedCodes(codes=codes, lengths=lengths, ids=ids, truncated=truncated)


def coverage(sequence_lengths: Iterable[int], length: int) -> float:
    """Share of tunes whose whole sequence fits in ``length`` events (1.0 for no tunes)."""
    lengths = np.asarray(list(sequence_lengths))
    return float(np.mean(lengths <= length)) if lengths.size else 1.0


def load_sequences(data_dir: str, split: str, kind: str) -> tuple[list[np.ndarray], list[str]]:
    """Reads the ``kind`` codes of every tune of ``split`` from a preprocessing output folder.

    Returns ``(sequences, ids)``; tunes whose encoding was skipped (empty sequence) are left out,
    and a split absent from the folder (no tune fell in it) gives empty lists.
    """
    import tensorflow_datasets as tfds  # heavy import, only when reading a dataset

    alphabet_for(kind)
    if split not in schema.SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {schema.SPLITS}")
    builder = tfds.builder_from_directory(data_dir)
    sequences, ids = [], []
    if split not in builder.info.splits:  # the preprocessing job writes no empty split
        logger.warning("%s has no %s split", data_dir, split)
        return sequences, ids
    dataset = builder.as_dataset(split=split)
    for example in tfds.as_numpy(dataset):
        codes = np.asarray(example[kind], np.int32)
        if codes.size:
            sequences.append(codes)
            raw_id = example.get(schema.FEATURE_ID, b"")
            ids.append(raw_id.decode("utf-8") if isinstance(raw_id, bytes) else str(raw_id))
    logger.info("%s/%s: %d tunes with %s codes", data_dir, split, len(sequences), kind)
    return sequences, ids

"""Input data of the joint melody VAE: each tune's aligned (pitch, duration) events.

The preprocessing writes a tune's ``notes`` and ``rhythms`` codes event by event (one pitch
code and one duration code per note or rest), so event i of a tune is the pair
``(notes[i], rhythms[i])``. Rows are padded to ``length`` with the alphabets' pad codes (rest 99,
whole note 7); ``lengths`` says how many events are real, and only those are trained on.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np

from trainer.vae import data as vae_data

logger = logging.getLogger(__name__)

NOTES = vae_data.NOTES_ALPHABET
RHYTHMS = vae_data.RHYTHMS_ALPHABET


@dataclasses.dataclass(frozen=True)
class MelodyRows:
    """Fixed-length event rows: ``notes``, ``rhythms`` int32 [N, L]; ``lengths`` int32 [N] (events kept)."""

    notes: np.ndarray
    rhythms: np.ndarray
    lengths: np.ndarray
    ids: tuple[str, ...]
    truncated: int

    def __len__(self) -> int:
        return len(self.lengths)


def pad_melodies(
    notes: Sequence[Sequence[int]], rhythms: Sequence[Sequence[int]], length: int,
    overflow: str = "truncate", ids: Sequence[str] | None = None,
) -> MelodyRows:
    """Pads each tune's aligned codes to ``length`` events (see ``vae_data.pad_codes`` for ``overflow``).

    ValueError names a tune whose notes and rhythms differ in length, or an invalid code.
    """
    ids = tuple(ids) if ids is not None else tuple(f"#{index}" for index in range(len(notes)))
    if len(notes) != len(rhythms):
        raise ValueError(f"{len(notes)} notes sequences but {len(rhythms)} rhythms sequences")
    for tune_id, pitches, durations in zip(ids, notes, rhythms):
        if len(pitches) != len(durations):
            raise ValueError(f"tune {tune_id!r}: {len(pitches)} pitch codes but {len(durations)} duration codes")
    padded_notes = vae_data.pad_codes(notes, length, NOTES, overflow, ids)
    padded_rhythms = vae_data.pad_codes(rhythms, length, RHYTHMS, overflow, ids)
    return MelodyRows(
        notes=padded_notes.codes, rhythms=padded_rhythms.codes, lengths=padded_notes.lengths,
        ids=ids, truncated=padded_notes.truncated,
    )


def load_melodies(data_dir: str, split: str, length: int, overflow: str = "truncate") -> tuple[MelodyRows, list[int]]:
    """The padded rows of ``split`` of a preprocessing output folder and every tune's full event count."""
    notes, note_ids = vae_data.load_sequences(data_dir, split, vae_data.NOTES)
    rhythms, rhythm_ids = vae_data.load_sequences(data_dir, split, vae_data.RHYTHMS)
    if note_ids != rhythm_ids:
        raise ValueError(f"{data_dir!r}/{split}: the tunes with notes codes differ from those with rhythms codes")
    rows = pad_melodies(notes, rhythms, length, overflow, note_ids)
    return rows, [len(sequence) for sequence in notes]

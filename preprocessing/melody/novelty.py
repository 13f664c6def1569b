"""How new a tune is: the longest run of notes (pitch and duration) it shares with a training tune.

A tune is a sequence of note keys: for timestep songs ``"pitch:quarters"`` of each decoded note
(in model space, C major / A minor); for ABC tunes each written note as written (accidental,
letter, octave marks, length: ``"^c2"``; a chord as its notes), rests, bar lines, grace notes,
chord symbols and decorations left out. A ``TrainingIndex`` holds every training tune's keys and
title; it is built once, at export time, and shipped inside the SavedModel (``to_bytes``:
gzip-compressed JSON as base64 text, which no transport or NumPy string trims), so no corpus is
needed at generation time. ``longest_shared_run`` anchors on runs of ``ANCHOR`` notes and extends
them, so runs shorter than that count as new (reported as length 0).
"""
from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from preprocessing.melody.timestep import decode_timestep

ANCHOR = 6
_PACK = 1 << 20  # more notes than any tune holds
_QUOTED = re.compile(r'"[^"]*"|![^!]*!|\+[^+]*\+|\{[^}]*\}|\[[A-Za-z]:[^\]]*\]|%.*')
_NOTE = re.compile(r"[_=^]*[A-Ga-g][,']*[0-9]*/*[0-9]*")


def timestep_note_keys(symbols: Sequence[str]) -> list[str]:
    """Timestep symbols (no ``/``) -> one key per note: ``"pitch:quarters"``."""
    return [f"{event.pitch}:{event.quarters:g}" for event in decode_timestep(list(symbols)) if event.pitch is not None]


def abc_note_keys(text: str) -> list[str]:
    """An ABC tune -> its written notes, body only (after the ``K:`` line), grace notes, chord
    symbols, decorations, comments and inline fields dropped; a chord counts as its notes."""
    lines = text.split("\n")
    start = next((index + 1 for index, line in enumerate(lines) if line.startswith("K:")), 0)
    body = "\n".join(line for line in lines[start:] if not re.match(r"^[A-Za-z]:", line))
    return _NOTE.findall(_QUOTED.sub(" ", body))


@dataclass(frozen=True)
class SharedRun:
    """The longest run of notes a tune shares with one training tune (``notes`` 0: none of ``ANCHOR``)."""

    notes: int
    title: str = ""

    def describe(self) -> str:
        if not self.notes:
            return f"no run of {ANCHOR} notes found in the training tunes"
        return f"longest run shared with a training tune: {self.notes} notes, of {self._tune()}"

    def short(self) -> str:
        """``describe`` for a table cell: "12 notes of 'Title'", or "none of 6+ notes"."""
        return f"{self.notes} notes of {self._tune()}" if self.notes else f"none of {ANCHOR}+ notes"

    def _tune(self) -> str:
        return repr(self.title or "an untitled tune")


@dataclass
class TrainingIndex:
    """Every training tune's title and note keys; the anchor table is built on first use."""

    titles: list[str]
    tunes: list[list[str]]
    _anchors: dict[int, list[int]] | None = field(default=None, repr=False)

    def to_bytes(self) -> bytes:
        packed = gzip.compress(json.dumps({"titles": self.titles, "tunes": self.tunes}).encode("utf-8"), mtime=0)
        return base64.b64encode(packed)

    @classmethod
    def from_bytes(cls, data: bytes) -> TrainingIndex:
        """ValueError when ``data`` is not an index ``to_bytes`` wrote."""
        try:
            content = json.loads(gzip.decompress(base64.b64decode(data, validate=True)))
            return cls(list(content["titles"]), [list(tune) for tune in content["tunes"]])
        except (OSError, ValueError, KeyError, TypeError, binascii.Error) as error:
            raise ValueError(f"not a training index: {error}") from None

    def longest_shared_run(self, notes: Sequence[str]) -> SharedRun:
        """The longest run of ``notes`` found verbatim in one training tune, and that tune's title."""
        anchors = self._anchor_table()
        best, title = 0, ""
        for start in range(len(notes) - ANCHOR + 1):
            for packed in anchors.get(hash(tuple(notes[start:start + ANCHOR])), ()):
                tune, offset = divmod(packed, _PACK)
                length = _common_length(notes, start, self.tunes[tune], offset)
                if length >= ANCHOR and length > best:  # (a hash collision matches fewer notes)
                    best, title = length, self.titles[tune]
        return SharedRun(best, title)

    def _anchor_table(self) -> dict[int, list[int]]:
        """Hash of every run of ``ANCHOR`` notes -> where it starts (tune * _PACK + offset)."""
        if self._anchors is None:
            table: dict[int, list[int]] = {}
            for tune, keys in enumerate(self.tunes):
                for offset in range(len(keys) - ANCHOR + 1):
                    table.setdefault(hash(tuple(keys[offset:offset + ANCHOR])), []).append(tune * _PACK + offset)
            self._anchors = table
        return self._anchors


def _common_length(notes: Sequence[str], start: int, tune: Sequence[str], offset: int) -> int:
    length = 0
    while start + length < len(notes) and offset + length < len(tune) and notes[start + length] == tune[offset + length]:
        length += 1
    return length

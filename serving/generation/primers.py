"""Primers: what a melody starts from, encoded for a model's vocabulary.

Timestep models (symbols ``/``, ``_``, ``r``, MIDI pitches) get timestep symbols in C major /
A minor, after a ``/`` that marks the start of a song (``timestep_primer``). Character models
(the ABC model) get ABC text, encoded character by character (``abc_primer``). Which one a model
gets is its codec's choice (``serving.generation.codecs``), from the kind the export states.
"""
from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from preprocessing.melody import music21_reader
from preprocessing.melody.abc_text import normalise_abc
from preprocessing.melody.events import Event
from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, Key, Meter, transpose_events
from preprocessing.melody.timestep import DELIMITER, HOLD, REST, STEP_QUARTERS
from serving.music import abc_writer

# "Ah vous dirais-je maman" in C, the primer of the slides: C C G G A A G- | F F E E D D C-.
_TWINKLE = tuple(Event(p, q) for p, q in [(60, 1), (60, 1), (67, 1), (67, 1), (69, 1), (69, 1), (67, 2),
                                          (65, 1), (65, 1), (64, 1), (64, 1), (62, 1), (62, 1), (60, 2)])
NAMED_PRIMERS: dict[str, tuple[Event, ...]] = {"twinkle": _TWINKLE}


@dataclass(frozen=True)
class PrimerSource:
    """Exactly one of: a named primer, a symbol string (or ABC text for character models),
    ABC text, or a music file."""

    name: str | None = None
    symbols: str | None = None
    abc: str | None = None
    file: str | None = None

    def __post_init__(self) -> None:
        given = [field for field in ("name", "symbols", "abc", "file") if getattr(self, field) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one primer (a name, symbols, ABC text or a file), got {given or 'none'}")

    def describe(self) -> str:
        if self.file is not None:
            return f"file {self.file!r}"
        return next(f"{field} {value!r}" for field, value in vars(self).items() if value is not None)


def timestep_primer(source: PrimerSource) -> list[str]:
    """A timestep model's primer: the symbols given, or ``/`` and the events as 16th-note symbols
    (not yet checked against the vocabulary)."""
    if source.symbols is not None:
        symbols = source.symbols.split()
        if not symbols:
            raise ValueError(f"primer {source.symbols!r} holds no symbol")
        return symbols
    return [DELIMITER] + _timestep_symbols(_primer_events(source))


def abc_primer(source: PrimerSource, key: Key = C_MAJOR, meter: Meter = COMMON_TIME) -> str:
    """A character model's primer: ABC text, normalised like its training data where complete; a
    named primer is written in ``key`` (moved from C) and ``meter``."""
    if source.symbols is not None or source.abc is not None:
        return source.symbols if source.symbols is not None else source.abc
    if source.name is not None:
        return _open_tune(transpose_events(_primer_events(source), key.semitones_from_c()), key, meter)
    if source.file.lower().endswith(".abc"):
        return normalise_abc(read_text_file(source.file))
    score = music21_reader.parse_music_file(source.file)
    events = music21_reader.melody_events(score, f"primer {source.describe()}")
    return _open_tune(events, music21_reader.declared_key(score), music21_reader.declared_meter(score) or COMMON_TIME)


def encode(symbols: Sequence[str], vocabulary: Sequence[str]) -> list[int]:
    """Symbols -> indices; ValueError naming the first unknown symbol and the nearest valid ones."""
    index = {symbol: position for position, symbol in enumerate(vocabulary)}
    for position, symbol in enumerate(symbols):
        if symbol not in index:
            raise ValueError(f"primer symbol {symbol!r} at position {position} is not in the model's vocabulary; "
                             f"nearest valid: {', '.join(map(repr, nearest_symbols(symbol, vocabulary)))}")
    return [index[symbol] for symbol in symbols]


def nearest_symbols(symbol: str, vocabulary: Sequence[str], count: int = 3) -> list[str]:
    """The valid symbols closest to ``symbol``: nearest pitches for a number, else by spelling."""
    if symbol.lstrip("-").isdigit():
        pitches = [candidate for candidate in vocabulary if candidate.isdigit()]
        return sorted(pitches, key=lambda candidate: (abs(int(candidate) - int(symbol)), int(candidate)))[:count]
    close = difflib.get_close_matches(symbol, list(vocabulary), n=count, cutoff=0.0)
    return close or list(vocabulary[:count])


def _primer_events(source: PrimerSource) -> list[Event]:
    """A named, ABC or file primer as events in C major / A minor."""
    if source.name is not None:
        if source.name not in NAMED_PRIMERS:
            raise ValueError(f"unknown primer {source.name!r}; named primers: {', '.join(sorted(NAMED_PRIMERS))}")
        return list(NAMED_PRIMERS[source.name])
    score = _score(source)
    events = music21_reader.melody_events(score, f"primer {source.describe()}")
    return transpose_events(events, music21_reader.declared_key(score).semitones_from_c() * -1)


def _score(source: PrimerSource):
    if source.abc is not None:
        return music21_reader.parse_abc_text(source.abc)
    return music21_reader.parse_music_file(source.file)


def _open_tune(events: list[Event], key: Key, meter: Meter) -> str:
    """The normalised header and the body left open (no final bar), for the model to continue."""
    body = abc_writer.abc_body(events, key, meter, final_bar="")
    return f"X:1\nL:1/8\nM:{meter}\nK:{key.name}\n{body}"


def _timestep_symbols(events: list[Event]) -> list[str]:
    """Events -> timestep symbols, each duration rounded to whole 16th notes (at least one)."""
    symbols: list[str] = []
    for event in events:
        steps = max(1, round(event.quarters / STEP_QUARTERS))
        symbols.append(REST if event.pitch is None else str(event.pitch))
        symbols.extend([HOLD] * (steps - 1))
    return symbols


def read_text_file(path: str) -> str:
    """The text of a primer file, ValueError naming it when it cannot be read."""
    if not os.path.isfile(path):
        raise ValueError(f"primer file {path!r} does not exist")
    with open(path, encoding="utf-8") as handle:
        return handle.read()

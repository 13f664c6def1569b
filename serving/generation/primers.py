"""Primers: what a melody starts from, encoded for a model's vocabulary.

Timestep models (symbols ``/``, ``_``, ``r``, MIDI pitches) get timestep symbols in C major /
A minor, after a ``/`` that marks the start of a song, with the key and meter the primer states,
so the tune is written back in them (``timestep_primer``); a duration that is not a whole number
of 16ths (a triplet) is refused, naming its bar, unless the source asks to quantise. An ABC or
file primer whose first bar is short (an upbeat, a MusicXML anacrusis) states that ``pickup`` in
16th steps, so the tune's bar lines fall where the primer's do; named and symbol primers start on
a downbeat (pickup 0). Character
models (the ABC model) get ABC text, encoded character by character (``abc_primer``). An ABC text
or file with several tunes needs the ``X:`` number of one. Which one a model gets is its codec's
choice (``serving.generation.codecs``), from the kind the export states.
"""
from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

from preprocessing.melody import music21_reader
from preprocessing.melody.abc_text import normalise_abc, split_abc_tunes
from preprocessing.melody.events import Event
from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, Key, Meter, transpose_events
from preprocessing.melody.timestep import DELIMITER, HOLD, REST, STEP_QUARTERS
from serving.generation.request_defaults import NAMED_PRIMERS
from serving.music import abc_writer
from serving.music.render import with_unit_length

_TUNES_LISTED = 12

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrimerSource:
    """Exactly one of: a named primer, a symbol string (or ABC text for character models),
    ABC text, or a music file; ``tune``: the ``X:`` number of the tune to take from ABC holding
    several; ``quantise``: round durations a timestep model cannot hold to 16ths (with a warning)."""

    name: str | None = None
    symbols: str | None = None
    abc: str | None = None
    file: str | None = None
    tune: str | None = None
    quantise: bool = False

    def __post_init__(self) -> None:
        given = [field for field in _SOURCES if getattr(self, field) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one primer (a name, symbols, ABC text or a file), got {given or 'none'}")
        if (self.tune is not None or self.quantise) and self.abc is None and self.file is None:
            raise ValueError("--tune and --quantise apply to a primer read from ABC or a file "
                             "(--primer-abc, --primer-file)")

    def describe(self) -> str:
        if self.file is not None:
            return f"file {self.file!r}"
        return next(f"{field} {getattr(self, field)!r}" for field in _SOURCES if getattr(self, field) is not None)


_SOURCES = ("name", "symbols", "abc", "file")


@dataclass(frozen=True)
class TimestepPrimer:
    """A timestep model's primer: symbols (not yet checked against the vocabulary), the key and
    meter the source states (None for symbols and named primers: C major, 4/4) and its ``pickup``:
    the 16th steps it sounds before its first downbeat (0 .. a bar - 1)."""

    symbols: list[str]
    key: Key | None = None
    meter: Meter | None = None
    pickup: int = 0


def timestep_primer(source: PrimerSource) -> TimestepPrimer:
    """The symbols given, or ``/`` and the source's events in C major / A minor as 16th-note
    symbols, with its key and meter. ValueError naming a note that is no whole number of 16ths."""
    if source.symbols is not None:
        symbols = source.symbols.split()
        if not symbols:
            raise ValueError(f"primer {source.symbols!r} holds no symbol")
        return TimestepPrimer(symbols)
    if source.name is not None:
        return TimestepPrimer([DELIMITER] + _timestep_symbols(_named_events(source.name), COMMON_TIME, False))
    score = _score(source)
    key, meter = music21_reader.declared_key(score), music21_reader.declared_meter(score)
    events = transpose_events(music21_reader.melody_events(score, f"primer {source.describe()}"),
                              -key.semitones_from_c())
    pickup = _pickup_steps(score, source)
    symbols = [DELIMITER] + _timestep_symbols(events, meter or COMMON_TIME, source.quantise, pickup * STEP_QUARTERS)
    return TimestepPrimer(symbols, key, meter, pickup)


def _pickup_steps(score, source: PrimerSource) -> int:
    """16th steps before the score's first downbeat (its first measure when shorter than a bar);
    ValueError for an upbeat that is no whole number of 16ths, unless the source asks to quantise."""
    quarters = music21_reader.score_melody(score, f"primer {source.describe()}", top_of_chords=True).pickup
    exact = quarters / STEP_QUARTERS
    if abs(exact - round(exact)) > 1e-6:
        if not source.quantise:
            raise ValueError(f"primer {source.describe()}'s upbeat lasts {quarters:g} quarters: not a whole number "
                             "of 16ths; --quantise rounds it")
        logger.warning("--quantise rounded the primer's upbeat of %g quarters to %d 16ths", quarters, round(exact))
    return int(round(exact))


def abc_primer(source: PrimerSource, key: Key = C_MAJOR, meter: Meter = COMMON_TIME) -> str:
    """A character model's primer: ABC text, normalised like its training data where complete; a
    named primer is written in ``key`` (moved from C) and ``meter``."""
    if source.symbols is not None or source.abc is not None:
        return one_tune(source.symbols if source.symbols is not None else source.abc, source.tune, "the ABC primer")
    if source.name is not None:
        return _open_tune(transpose_events(_named_events(source.name), key.semitones_from_c()), key, meter)
    if source.file.lower().endswith(".abc"):
        return normalise_abc(one_tune(read_text_file(source.file), source.tune, f"primer file {source.file!r}"))
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


def one_tune(text: str, tune: str | None, what: str) -> str:
    """``text`` itself when it holds one tune (and ``tune`` is None or its ``X:``), else the tune
    numbered ``X:tune``; ValueError listing the tunes when ``tune`` is missing or matches none."""
    tunes = split_abc_tunes(text)
    numbers = [_field(each, "X") for each in tunes]
    if len(tunes) <= 1 and tune in (None, *numbers):
        return text
    if tune is not None and tune in numbers:
        return tunes[numbers.index(tune)]
    listed = ", ".join(f"X:{number} {_field(each, 'T')!r}" for number, each in zip(numbers, tunes[:_TUNES_LISTED]))
    more = f" and {len(tunes) - _TUNES_LISTED} more" if len(tunes) > _TUNES_LISTED else ""
    asked = f"has no tune X:{tune}" if tune is not None else f"holds {len(tunes)} tunes"
    raise ValueError(f"{what} {asked}: {listed}{more}; pick one with --tune (its X: number)")


def _field(tune: str, name: str) -> str:
    """The first ``name:`` field's value in one tune's text ("" when absent)."""
    return next((line[2:].strip() for line in tune.splitlines() if line.startswith(f"{name}:")), "")


def _named_events(name: str) -> list[Event]:
    if name not in NAMED_PRIMERS:
        raise ValueError(f"unknown primer {name!r}; named primers: {', '.join(sorted(NAMED_PRIMERS))}")
    return list(NAMED_PRIMERS[name])


def _score(source: PrimerSource):
    if source.abc is not None:
        return music21_reader.parse_abc_text(with_unit_length(one_tune(source.abc, source.tune, "the ABC primer")))
    if source.file.lower().endswith(".abc"):
        text = one_tune(read_text_file(source.file), source.tune, f"primer file {source.file!r}")
        return music21_reader.parse_abc_text(with_unit_length(text))
    if source.tune is not None:
        raise ValueError(f"--tune picks a tune of an ABC primer; {source.file!r} is not ABC")
    return music21_reader.parse_music_file(source.file)


def _open_tune(events: list[Event], key: Key, meter: Meter) -> str:
    """The normalised header and the body left open (no final bar), for the model to continue."""
    body = abc_writer.abc_body(events, key, meter, final_bar="")
    return f"X:1\nL:1/8\nM:{meter}\nK:{key.name}\n{body}"


def _timestep_symbols(events: list[Event], meter: Meter, quantise: bool, pickup: float = 0.0) -> list[str]:
    """Events -> timestep symbols; a duration that is no whole number of 16ths is a ValueError
    naming its note and bar (bar 1 the ``pickup`` quarters when given), or with ``quantise``
    rounded (at least one 16th) with a warning."""
    bar_quarters = float(meter.bar_quarters)
    symbols: list[str] = []
    moved, onset = [], 0.0
    for number, event in enumerate(events, 1):
        exact = event.quarters / STEP_QUARTERS
        steps = max(1, round(exact))
        if abs(exact - round(exact)) > 1e-6 or exact < 0.5:
            bar = int((onset + (bar_quarters - pickup) % bar_quarters) // bar_quarters) + 1
            where = f"note {number} (bar {bar}) lasts {event.quarters:g} quarters"
            if not quantise:
                raise ValueError(f"primer {where}: not a whole number of 16ths, which a timestep model cannot "
                                 "hold; --quantise rounds it")
            moved.append(f"{where} -> {steps * STEP_QUARTERS:g}")
        onset += event.quarters
        symbols.append(REST if event.pitch is None else str(event.pitch))
        symbols.extend([HOLD] * (steps - 1))
    if moved:
        logger.warning("--quantise rounded %d primer notes to 16ths: %s", len(moved), "; ".join(moved))
    return symbols


def read_text_file(path: str) -> str:
    """The text of a primer file, ValueError naming it when it cannot be read."""
    if not os.path.isfile(path):
        raise ValueError(f"primer file {path!r} does not exist")
    with open(path, encoding="utf-8") as handle:
        return handle.read()

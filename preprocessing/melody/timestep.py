"""The seeds' ``timestep`` text: one symbol per 16th note.

The MIDI pitch number on a note onset (``"60"``), ``REST`` on a rest onset, ``HOLD`` while a note
or rest holds; songs are joined with ``DELIMITER``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from preprocessing.melody.events import (
    ACCEPTABLE_DURATIONS,
    MIDI_MAX,
    MIDI_MIN,
    EncodingError,
    Event,
    checked_midi,
    duration_code,
)

STEP_QUARTERS = 0.25
REST = "r"
HOLD = "_"
DELIMITER = "/"


def encode_timestep(events: Sequence[Event]) -> list[str]:
    """Events -> timestep symbols, one per 16th note (``[steps]`` strings)."""
    symbols: list[str] = []
    for position, event in enumerate(events):
        code = duration_code(event.quarters, position)
        steps = round(ACCEPTABLE_DURATIONS[code] / STEP_QUARTERS)
        symbols.append(REST if event.pitch is None else str(checked_midi(event.pitch, position)))
        symbols.extend([HOLD] * (steps - 1))
    return symbols


def decode_timestep(symbols: Sequence[str]) -> list[Event]:
    """Timestep symbols of one song -> events (inverse of ``encode_timestep``).

    Durations are whole 16th notes but need not be in ``ACCEPTABLE_DURATIONS`` (generated text
    may hold a note for any number of steps). A leading ``HOLD`` or a ``DELIMITER`` (use
    ``split_songs`` first) or an unknown symbol raises EncodingError naming it.
    """
    pitches: list[int | None] = []
    steps: list[int] = []
    for position, symbol in enumerate(symbols):
        if symbol == HOLD:
            if not steps:
                raise EncodingError(
                    "orphan_hold", f"hold symbol {HOLD!r} at position {position} follows no note or rest"
                )
            steps[-1] += 1
            continue
        pitches.append(parse_onset_symbol(symbol, position))
        steps.append(1)
    return [Event(pitch, count * STEP_QUARTERS) for pitch, count in zip(pitches, steps)]


def parse_onset_symbol(symbol: str, position: int) -> int | None:
    if symbol == REST:
        return None
    if symbol.isdigit() and MIDI_MIN <= int(symbol) <= MIDI_MAX and str(int(symbol)) == symbol:
        return int(symbol)
    raise EncodingError(
        "unknown_symbol",
        f"unknown timestep symbol {symbol!r} at position {position}; expected a MIDI pitch "
        f"{MIDI_MIN}..{MIDI_MAX}, {REST!r} or {HOLD!r}",
    )


def join_songs(songs: Iterable[Sequence[str]]) -> list[str]:
    """Concatenates songs' symbols, each song followed by one ``DELIMITER``."""
    joined: list[str] = []
    for index, song in enumerate(songs):
        if DELIMITER in song:
            raise EncodingError("delimiter_in_song", f"song {index} already contains {DELIMITER!r}")
        joined.extend(song)
        joined.append(DELIMITER)
    return joined


def split_songs(symbols: Sequence[str]) -> list[list[str]]:
    """Inverse of ``join_songs``: each ``DELIMITER`` ends a song; trailing symbols form a last song."""
    songs: list[list[str]] = []
    current: list[str] = []
    for symbol in symbols:
        if symbol == DELIMITER:
            songs.append(current)
            current = []
        else:
            current.append(symbol)
    if current:
        songs.append(current)
    return songs


def timestep_vocabulary_order(symbols: Iterable[str]) -> list[str]:
    """The index order of every timestep vocabulary: ``/``, ``_``, ``r``, then pitches ascending.

    The three structural symbols are always included (a corpus of single tunes never contains
    ``/``, yet models need it); pitches are those present in ``symbols``, duplicates removed.
    """
    pitches: set[int] = set()
    for position, symbol in enumerate(symbols):
        if symbol in (DELIMITER, HOLD):
            continue
        pitch = parse_onset_symbol(symbol, position)
        if pitch is not None:
            pitches.add(pitch)
    return [DELIMITER, HOLD, REST] + [str(pitch) for pitch in sorted(pitches)]

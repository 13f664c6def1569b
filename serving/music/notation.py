"""Pitch spelling and bar layout: the notation shared by every writer.

Pure Python (no music21); keys and meters come from ``preprocessing.melody.keys``. A melody is a
list of ``preprocessing.melody.events.Event`` in quarter notes;
``layout_bars`` cuts it into bars of a meter, splitting notes that cross a bar line (or that no
single note value can show) into tied pieces.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from preprocessing.melody.events import Event
from preprocessing.melody.keys import LETTER_PITCH_CLASSES, Key, Meter, mode_family, tonic_pitch_class

LETTERS = "CDEFGAB"
# Letter steps above the tonic for each chromatic interval 0..11: in major keys
# P1 A1 M2 m3 M3 P4 A4 P5 m6 M6 m7 M7 (C C# D Eb E F F# G Ab A Bb B); in minor keys m2, not A1.
_MAJOR_LETTER_STEPS = (0, 0, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6)
_MINOR_LETTER_STEPS = (0, 1, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6)


@dataclass(frozen=True)
class SpelledPitch:
    """A MIDI pitch spelled as a letter, an alteration in semitones and an octave (C4 = 60)."""

    letter: str
    alter: int
    octave: int

    @property
    def midi(self) -> int:
        return 12 * (self.octave + 1) + LETTER_PITCH_CLASSES[self.letter] + self.alter

    @property
    def music21_name(self) -> str:
        """``"F#4"``, ``"B-3"`` (music21 writes flats as ``-``)."""
        accidental = "#" * self.alter if self.alter > 0 else "-" * -self.alter
        return f"{self.letter}{accidental}{self.octave}"


@dataclass(frozen=True)
class Piece:
    """One written note or rest inside a bar; ``tie_start``/``tie_stop`` join it to its neighbours."""

    pitch: SpelledPitch | None
    quarters: Fraction
    tie_start: bool = False
    tie_stop: bool = False


def spell(midi: int, key: Key) -> SpelledPitch:
    """Spells a MIDI pitch in a key by its interval above the tonic (m3, not A2; A4, not d5)."""
    tonic_letter = key.tonic[0]
    interval = (midi - tonic_pitch_class(key.tonic)) % 12
    steps = _MINOR_LETTER_STEPS if mode_family(key.mode) == "minor" else _MAJOR_LETTER_STEPS
    letter = LETTERS[(LETTERS.index(tonic_letter) + steps[interval]) % 7]
    alter = (midi - LETTER_PITCH_CLASSES[letter]) % 12
    alter = alter - 12 if alter > 6 else alter
    octave = (midi - LETTER_PITCH_CLASSES[letter] - alter) // 12 - 1
    return SpelledPitch(letter, alter, octave)


def quarters_of(event: Event) -> Fraction:
    """An event's duration as an exact fraction of a quarter note."""
    return Fraction(event.quarters).limit_denominator(192)


def layout_bars(events: list[Event], key: Key, meter: Meter, pickup: Fraction = Fraction(0)) -> list[list[Piece]]:
    """Events -> bars of written pieces; notes crossing a bar line become tied pieces.

    The first bar starts at the first event and lasts ``pickup`` quarters when given (an upbeat,
    shorter than a bar), else a bar; the last bar may be incomplete and the last note keeps its
    full length.
    """
    if not 0 <= pickup < meter.bar_quarters:
        raise ValueError(f"a pickup of {pickup} quarters does not fit in a bar of {meter}")
    bars: list[list[Piece]] = [[]]
    room = pickup or meter.bar_quarters
    for event in events:
        pitch = None if event.pitch is None else spell(event.pitch, key)
        left = quarters_of(event)
        if left <= 0:
            raise ValueError(f"event {event} has no duration")
        first = True
        while left > 0:
            if room == 0:
                bars.append([])
                room = meter.bar_quarters
            length = _largest_writable(min(left, room))
            left -= length
            room -= length
            tie = pitch is not None
            bars[-1].append(Piece(pitch, length, tie_start=tie and left > 0, tie_stop=tie and not first))
            first = False
    return bars if bars[0] else []


def _largest_writable(quarters: Fraction) -> Fraction:
    """The longest plain or dotted note value <= ``quarters`` (``quarters`` itself if not dyadic)."""
    if quarters.denominator & (quarters.denominator - 1):
        return quarters
    best = Fraction(0)
    value = Fraction(1, 32)
    while value <= 4:
        for candidate in (value, value * Fraction(3, 2)):
            if best < candidate <= quarters:
                best = candidate
        value *= 2
    return best or quarters

"""Keys, meters, pitch spelling and bar layout: the notation shared by every writer.

Pure Python (no music21): a melody is a list of ``preprocessing.melody.Event`` in quarter notes;
``layout_bars`` cuts it into bars of a meter, splitting notes that cross a bar line (or that no
single note value can show) into tied pieces.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from preprocessing.melody.events import Event
from preprocessing.melody.keys import canonical_mode, mode_family

LETTERS = "CDEFGAB"
_LETTER_PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# Position of each natural letter on the circle of fifths (C = 0).
_LETTER_FIFTHS = {"F": -1, "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5}
# Fifths from a mode's key signature to the major key of the same tonic.
_MODE_FIFTHS = {"major": 0, "ionian": 0, "lydian": 1, "mixolydian": -1, "dorian": -2,
                "minor": -3, "aeolian": -3, "phrygian": -4, "locrian": -5}
# Letter steps above the tonic for each chromatic interval 0..11: in major keys
# P1 A1 M2 m3 M3 P4 A4 P5 m6 M6 m7 M7 (C C# D Eb E F F# G Ab A Bb B); in minor keys m2, not A1.
_MAJOR_LETTER_STEPS = (0, 0, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6)
_MINOR_LETTER_STEPS = (0, 1, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6)
# Sharps are added to the key signature in this letter order; flats in the reverse.
_SHARP_ORDER = "FCGDAEB"
_KEY_PATTERN = re.compile(r"^\s*([A-Ga-g])([#b]?)\s*([A-Za-z]*)\s*$")
_MODE_SUFFIXES = {"": "major", "m": "minor"}


@dataclass(frozen=True)
class Key:
    """A key: ``tonic`` spelled ``"Bb"`` / ``"F#"``, a mode name, and its signature in fifths."""

    tonic: str
    mode: str
    fifths: int

    @property
    def name(self) -> str:
        """ABC spelling: ``"G"``, ``"Em"``, ``"Bb"``, ``"Ddor"``."""
        suffix = {"major": "", "minor": "m"}.get(self.mode, self.mode[:3].capitalize())
        return self.tonic + suffix

    def signature_alteration(self, letter: str) -> int:
        """Semitones the key signature adds to a letter (-1, 0 or +1)."""
        if self.fifths > 0:
            return 1 if letter in _SHARP_ORDER[: self.fifths] else 0
        return -1 if letter in _SHARP_ORDER[::-1][: -self.fifths] else 0

    def semitones_from_c(self) -> int:
        """Semitones (-6..+5) that move a melody in C major / A minor onto this key signature."""
        semitones = (self.fifths * 7) % 12
        return semitones - 12 if semitones > 5 else semitones


@dataclass(frozen=True)
class Meter:
    """A time signature such as 3/4."""

    numerator: int
    denominator: int

    @property
    def bar_quarters(self) -> Fraction:
        return Fraction(4 * self.numerator, self.denominator)

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


@dataclass(frozen=True)
class SpelledPitch:
    """A MIDI pitch spelled as a letter, an alteration in semitones and an octave (C4 = 60)."""

    letter: str
    alter: int
    octave: int

    @property
    def midi(self) -> int:
        return 12 * (self.octave + 1) + _LETTER_PITCH_CLASSES[self.letter] + self.alter

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


C_MAJOR = Key("C", "major", 0)
COMMON_TIME = Meter(4, 4)


def parse_key(text: str) -> Key:
    """``"D"``, ``"Em"``, ``"Bb"``, ``"F#m"``, ``"D dorian"`` -> Key; ValueError naming a bad key."""
    match = _KEY_PATTERN.match(text)
    if match is None:
        raise ValueError(f"unknown key {text!r}; expected e.g. 'G', 'Em', 'Bb', 'F#m' or 'D dorian'")
    letter, accidental, suffix = match.group(1).upper(), match.group(2), match.group(3)
    try:
        mode = _MODE_SUFFIXES.get(suffix) or canonical_mode(suffix)
    except ValueError:
        raise ValueError(f"unknown key {text!r}: unknown mode {suffix!r}") from None
    alter = {"": 0, "#": 1, "b": -1}[accidental]
    fifths = _LETTER_FIFTHS[letter] + 7 * alter + _MODE_FIFTHS[mode]
    if not -7 <= fifths <= 7:
        raise ValueError(f"unknown key {text!r}: its signature would need {abs(fifths)} "
                         f"{'sharps' if fifths > 0 else 'flats'} (at most 7)")
    return Key(letter + accidental, mode, fifths)


def parse_meter(text: str) -> Meter:
    """``"3/4"``, ``"6/8"``, ``"C"`` (4/4), ``"C|"`` (2/2) -> Meter; ValueError naming a bad meter."""
    named = {"C": Meter(4, 4), "C|": Meter(2, 2)}
    if text.strip() in named:
        return named[text.strip()]
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if match is None:
        raise ValueError(f"unknown meter {text!r}; expected e.g. '4/4', '3/4', '6/8'")
    numerator, denominator = int(match.group(1)), int(match.group(2))
    if not 1 <= numerator <= 32 or denominator not in (1, 2, 4, 8, 16, 32):
        raise ValueError(f"unknown meter {text!r}; the numerator must be 1..32 and the "
                         "denominator a power of two up to 32")
    return Meter(numerator, denominator)


def spell(midi: int, key: Key) -> SpelledPitch:
    """Spells a MIDI pitch in a key by its interval above the tonic (m3, not A2; A4, not d5)."""
    tonic_letter = key.tonic[0]
    tonic_pc = (_LETTER_PITCH_CLASSES[tonic_letter] + {"": 0, "#": 1, "b": -1}[key.tonic[1:]]) % 12
    interval = (midi - tonic_pc) % 12
    steps = _MINOR_LETTER_STEPS if mode_family(key.mode) == "minor" else _MAJOR_LETTER_STEPS
    letter = LETTERS[(LETTERS.index(tonic_letter) + steps[interval]) % 7]
    alter = (midi - _LETTER_PITCH_CLASSES[letter]) % 12
    alter = alter - 12 if alter > 6 else alter
    octave = (midi - _LETTER_PITCH_CLASSES[letter] - alter) // 12 - 1
    return SpelledPitch(letter, alter, octave)


def quarters_of(event: Event) -> Fraction:
    """An event's duration as an exact fraction of a quarter note."""
    return Fraction(event.quarters).limit_denominator(192)


def layout_bars(events: list[Event], key: Key, meter: Meter) -> list[list[Piece]]:
    """Events -> bars of written pieces; notes crossing a bar line become tied pieces.

    The first bar starts at the first event; the last bar may be incomplete and the last note
    keeps its full length.
    """
    bars: list[list[Piece]] = [[]]
    room = meter.bar_quarters
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

"""Keys, modes and meters, and transposition to C major / A minor: the one home of the music theory.

Pitch classes count semitones above C (0..11). A ``Key`` carries its signature in fifths (sharps
> 0, flats < 0). Transposition moves the tune's key signature to that of C major / A minor
(``transposition_semitones``) by the smallest move, folded into -6..+5 (``fold_semitones``), and
is applied to encoded pitches (``transpose_events``), never to a music21 Score.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from preprocessing.melody.events import MIDI_MAX, MIDI_MIN, EncodingError, Event

LETTER_PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTAL_SEMITONES = {"#": 1, "b": -1, "-": -1}
# Position of each natural letter on the circle of fifths (C = 0).
_LETTER_FIFTHS = {"F": -1, "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5}
# Fifths from the key signature of a tonic's major key to that of the same tonic in each mode
# (D major: two sharps; D dorian: none). Seven fifths are seven semitones, so the tonic of the
# major key with the mode's signature lies ``7 * fifths`` semitones above the mode's tonic.
_MODE_FIFTHS = {"major": 0, "ionian": 0, "lydian": 1, "mixolydian": -1, "dorian": -2,
                "minor": -3, "aeolian": -3, "phrygian": -4, "locrian": -5}
_MODE_ALIASES = {"maj": "major", "min": "minor", "m": "minor", "dor": "dorian", "phr": "phrygian",
                 "lyd": "lydian", "mix": "mixolydian", "aeo": "aeolian", "loc": "locrian", "ion": "ionian"}
# Modes with a minor third above the tonic are reported (and transposed) as "minor".
_MINOR_MODES = {"minor", "aeolian", "dorian", "phrygian", "locrian"}
# Sharps are added to the key signature in this letter order; flats in the reverse.
_SHARP_ORDER = "FCGDAEB"
_KEY_PATTERN = re.compile(r"^\s*([A-Ga-g])([#b]?)\s*([A-Za-z]*)\s*$")
_NAMED_METERS = {"C": (4, 4), "C|": (2, 2)}
_PICKUP_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Key:
    """A key: ``tonic`` spelled ``"Bb"`` / ``"F#"``, a mode name, and its signature in fifths."""

    tonic: str
    mode: str
    fifths: int

    @property
    def name(self) -> str:
        """ABC spelling, as the corpora write it: ``"G"``, ``"Em"``, ``"Bb"``, ``"Ador"``, ``"Gmix"``."""
        suffix = {"major": "", "minor": "m"}.get(self.mode, self.mode[:3])
        return self.tonic + suffix

    def signature_alteration(self, letter: str) -> int:
        """Semitones the key signature adds to a letter (-1, 0 or +1)."""
        if self.fifths > 0:
            return 1 if letter in _SHARP_ORDER[: self.fifths] else 0
        return -1 if letter in _SHARP_ORDER[::-1][: -self.fifths] else 0

    def semitones_from_c(self) -> int:
        """Semitones (-6..+5) that move a melody in C major / A minor onto this key signature."""
        return fold_semitones(self.fifths * 7)


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


C_MAJOR = Key("C", "major", 0)
COMMON_TIME = Meter(4, 4)


def fold_semitones(semitones: int) -> int:
    """An interval in semitones, modulo the octave, as the smallest move: -6..+5 (7 -> -5, -7 -> 5)."""
    folded = semitones % 12
    return folded - 12 if folded > 5 else folded


def tonic_pitch_class(tonic: str) -> int:
    """``"D"``, ``"F#"``, ``"Bb"``, ``"b-"`` (music21 style), ``"Ebb"`` -> pitch class 0..11."""
    text = tonic.strip()
    if not text or text[0].upper() not in LETTER_PITCH_CLASSES:
        raise ValueError(f"unknown tonic {tonic!r}; expected a letter A-G and accidentals #, b or -")
    accidentals = text[1:]
    if any(char not in _ACCIDENTAL_SEMITONES for char in accidentals):
        raise ValueError(f"unknown accidental in tonic {tonic!r}; expected #, b or -")
    shift = sum(_ACCIDENTAL_SEMITONES[char] for char in accidentals)
    return (LETTER_PITCH_CLASSES[text[0].upper()] + shift) % 12


def tonic_name(music21_name: str) -> str:
    """music21's spelling of a pitch name -> ours: ``"B-"`` -> ``"Bb"``; ``"F#"`` unchanged."""
    return music21_name.replace("-", "b")


def music21_tonic(tonic: str) -> str:
    """Our spelling of a tonic -> music21's (it writes flats as ``-``): ``"Bb"`` -> ``"B-"``."""
    return tonic[0] + tonic[1:].replace("b", "-")


def canonical_mode(mode: str) -> str:
    """A mode name or abbreviation (``"Major"``, ``"min"``, ``"Dor"``) -> its full lower-case name."""
    name = mode.strip().lower()
    name = _MODE_ALIASES.get(name, name)
    if name not in _MODE_FIFTHS:
        raise ValueError(f"unknown mode {mode!r}; expected one of {sorted(_MODE_FIFTHS)}")
    return name


def mode_family(mode: str) -> str:
    """``"major"`` or ``"minor"``: church modes with a minor third (dorian, phrygian, aeolian,
    locrian) are minor, the others (ionian, lydian, mixolydian) major."""
    return "minor" if canonical_mode(mode) in _MINOR_MODES else "major"


def parse_key(text: str) -> Key:
    """``"D"``, ``"Em"``, ``"Bb"``, ``"F#m"``, ``"D dorian"`` -> Key; ValueError naming a bad key."""
    match = _KEY_PATTERN.match(text)
    if match is None:
        raise ValueError(f"unknown key {text!r}; expected e.g. 'G', 'Em', 'Bb', 'F#m' or 'D dorian'")
    letter, accidental, suffix = match.group(1).upper(), match.group(2), match.group(3)
    try:
        mode = canonical_mode(suffix or "major")
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
    if text.strip() in _NAMED_METERS:
        return Meter(*_NAMED_METERS[text.strip()])
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if match is None:
        raise ValueError(f"unknown meter {text!r}; expected e.g. '4/4', '3/4', '6/8'")
    numerator, denominator = int(match.group(1)), int(match.group(2))
    if not 1 <= numerator <= 32 or denominator not in (1, 2, 4, 8, 16, 32):
        raise ValueError(f"unknown meter {text!r}; the numerator must be 1..32 and the "
                         "denominator a power of two up to 32")
    return Meter(numerator, denominator)


def parse_pitch(text: str) -> int:
    """A MIDI pitch from ``"62"`` or a scientific name (``"D4"``, ``"F#5"``, ``"Bb3"``; C4 = 60)."""
    name = text.strip()
    if name.isdigit():
        pitch = int(name)
    else:
        match = re.fullmatch(r"([A-Ga-g][#b]*)(-?\d+)", name)
        if match is None:
            raise ValueError(f"unknown pitch {text!r}; expected a MIDI number or a name such as 'D4' or 'F#5'")
        pitch = 12 * (int(match.group(2)) + 1) + LETTER_PITCH_CLASSES[match.group(1)[0].upper()] \
            + sum(_ACCIDENTAL_SEMITONES[char] for char in match.group(1)[1:])
    if not 0 <= pitch <= 127:
        raise ValueError(f"pitch {text!r} is outside MIDI 0..127")
    return pitch


def transposition_semitones(tonic: str, mode: str) -> int:
    """Semitones (-6..+5) that take the key signature of ``tonic`` ``mode`` to that of C major.

    Major keys land in C major and minor keys in A minor (D major -> -2, E minor -> +5). A church
    mode is moved by its declared key signature: E dorian (two sharps, like D major) -> -2, so it
    becomes D dorian, played on the white keys; the smallest move is chosen, F# major -> -6.
    """
    relative_major = tonic_pitch_class(tonic) + 7 * _MODE_FIFTHS[canonical_mode(mode)]
    return fold_semitones(-relative_major)


def transpose_events(events: Sequence[Event], semitones: int) -> list[Event]:
    """Adds ``semitones`` to every pitch (rests unchanged); ValueError if a pitch leaves 0..127."""
    moved = []
    for position, event in enumerate(events):
        if event.pitch is None:
            moved.append(event)
            continue
        pitch = event.pitch + semitones
        if not MIDI_MIN <= pitch <= MIDI_MAX:
            raise EncodingError(
                "pitch_out_of_range",
                f"pitch {event.pitch} at event {position} transposed by {semitones} leaves "
                f"MIDI {MIDI_MIN}..{MIDI_MAX}",
            )
        moved.append(Event(pitch, event.quarters))
    return moved


def pickup_quarters(first_bar: float, meter: str) -> float:
    """How long a tune sounds before its first downbeat, from the length of its first bar (in
    quarters, up to its first bar line) and its meter: 0 for a full bar, an unknown meter or a
    first bar longer than one bar by a whole number of bars."""
    if not meter or first_bar <= 0:
        return 0.0
    try:
        bar = float(parse_meter(meter).bar_quarters)
    except ValueError:
        return 0.0
    remainder = first_bar % bar
    return 0.0 if remainder < _PICKUP_TOLERANCE or bar - remainder < _PICKUP_TOLERANCE else remainder

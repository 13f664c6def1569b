"""Keys and modes, and transposition to C major / A minor.

Transposition moves the tune's key signature to that of C major / A minor (``transposition_semitones``)
and is applied to encoded pitches (``transpose_events``), never to a music21 Score.
"""
from __future__ import annotations

from collections.abc import Sequence

from preprocessing.melody.events import MIDI_MAX, MIDI_MIN, EncodingError, Event

_LETTER_PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTAL_SEMITONES = {"#": 1, "b": -1, "-": -1}
# Semitones from a mode's tonic to the tonic of the major key with the same key signature.
_MODE_TO_RELATIVE_MAJOR = {
    "major": 0,
    "ionian": 0,
    "dorian": -2,
    "phrygian": -4,
    "lydian": -5,
    "mixolydian": -7,
    "minor": -9,
    "aeolian": -9,
    "locrian": -11,
}
_MODE_ALIASES = {"maj": "major", "min": "minor", "m": "minor", "dor": "dorian", "phr": "phrygian",
                 "lyd": "lydian", "mix": "mixolydian", "aeo": "aeolian", "loc": "locrian", "ion": "ionian"}
# Modes with a minor third above the tonic are reported (and transposed) as "minor".
_MINOR_MODES = {"minor", "aeolian", "dorian", "phrygian", "locrian"}


def tonic_pitch_class(tonic: str) -> int:
    """``"D"``, ``"F#"``, ``"Bb"``, ``"b-"`` (music21 style), ``"Ebb"`` -> pitch class 0..11."""
    text = tonic.strip()
    if not text or text[0].upper() not in _LETTER_PITCH_CLASSES:
        raise ValueError(f"unknown tonic {tonic!r}; expected a letter A-G and accidentals #, b or -")
    accidentals = text[1:]
    if any(char not in _ACCIDENTAL_SEMITONES for char in accidentals):
        raise ValueError(f"unknown accidental in tonic {tonic!r}; expected #, b or -")
    shift = sum(_ACCIDENTAL_SEMITONES[char] for char in accidentals)
    return (_LETTER_PITCH_CLASSES[text[0].upper()] + shift) % 12


def canonical_mode(mode: str) -> str:
    """A mode name or abbreviation (``"Major"``, ``"min"``, ``"Dor"``) -> its full lower-case name."""
    name = mode.strip().lower()
    name = _MODE_ALIASES.get(name, name)
    if name not in _MODE_TO_RELATIVE_MAJOR:
        raise ValueError(f"unknown mode {mode!r}; expected one of {sorted(_MODE_TO_RELATIVE_MAJOR)}")
    return name


def mode_family(mode: str) -> str:
    """``"major"`` or ``"minor"``: church modes with a minor third (dorian, phrygian, aeolian,
    locrian) are minor, the others (ionian, lydian, mixolydian) major."""
    return "minor" if canonical_mode(mode) in _MINOR_MODES else "major"


def transposition_semitones(tonic: str, mode: str) -> int:
    """Semitones (-6..+5) that take the key signature of ``tonic`` ``mode`` to that of C major.

    Major keys land in C major and minor keys in A minor (D major -> -2, E minor -> +5). A church
    mode is moved by its declared key signature: E dorian (two sharps, like D major) -> -2, so it
    becomes D dorian, played on the white keys; the smallest move is chosen, F# major -> -6.
    """
    relative_major = (tonic_pitch_class(tonic) + _MODE_TO_RELATIVE_MAJOR[canonical_mode(mode)]) % 12
    semitones = -relative_major % 12
    return semitones - 12 if semitones > 5 else semitones


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

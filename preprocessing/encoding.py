"""Pure-Python encodings of a monophonic tune, their inverses, and transposition.

No TensorFlow, Beam or music21 import: the trainer and the serving client import this module.

A tune is a list of ``Event`` (MIDI pitch or None for a rest, duration in quarter notes).

- ``timestep``: one symbol per 16th note (the seeds' 38-symbol text): the MIDI pitch number on a
  note onset (``"60"``), ``REST`` on a rest onset, ``HOLD`` while a note or rest holds; songs are
  joined with ``DELIMITER``.
- VAE codes: ``notes`` (pitch ``NOTE_MIN..NOTE_MAX``, rest ``NOTE_REST``) and ``rhythms`` (index of
  the duration in ``ACCEPTABLE_DURATIONS``).
- ``abc``: one tune's ABC text, normalised for the character model (``normalise_abc``).

Transposition moves the tune's key signature to that of C major / A minor (``transposition_semitones``)
and is applied to encoded pitches (``transpose_events``), never to a music21 Score.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

STEP_QUARTERS = 0.25
ACCEPTABLE_DURATIONS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)
REST = "r"
HOLD = "_"
DELIMITER = "/"

NOTE_MIN = 50
NOTE_MAX = 97
NOTE_REST = 99

MIDI_MIN = 0
MIDI_MAX = 127

_DURATION_TOLERANCE = 1e-6


class EncodingError(ValueError):
    """A tune (or symbol sequence) that an encoding cannot represent.

    ``reason`` is a short stable code (e.g. ``"unacceptable_duration"``); the message names the
    bad value and where it is.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Event:
    """One note (``pitch`` = MIDI number) or rest (``pitch`` = None) lasting ``quarters``."""

    pitch: int | None
    quarters: float


# --- timestep -------------------------------------------------------------------------------


def duration_code(quarters: float, position: int) -> int:
    """Index of ``quarters`` in ``ACCEPTABLE_DURATIONS``; EncodingError naming it otherwise."""
    for code, acceptable in enumerate(ACCEPTABLE_DURATIONS):
        if abs(quarters - acceptable) < _DURATION_TOLERANCE:
            return code
    raise EncodingError(
        "unacceptable_duration",
        f"duration {_format_quarters(quarters)} quarter notes at event {position} is not in "
        f"ACCEPTABLE_DURATIONS {ACCEPTABLE_DURATIONS}",
    )


def encode_timestep(events: Sequence[Event]) -> list[str]:
    """Events -> timestep symbols, one per 16th note (``[steps]`` strings)."""
    symbols: list[str] = []
    for position, event in enumerate(events):
        code = duration_code(event.quarters, position)
        steps = round(ACCEPTABLE_DURATIONS[code] / STEP_QUARTERS)
        symbols.append(REST if event.pitch is None else str(_checked_midi(event.pitch, position)))
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
        pitches.append(_parse_onset_symbol(symbol, position))
        steps.append(1)
    return [Event(pitch, count * STEP_QUARTERS) for pitch, count in zip(pitches, steps)]


def _parse_onset_symbol(symbol: str, position: int) -> int | None:
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
        pitch = _parse_onset_symbol(symbol, position)
        if pitch is not None:
            pitches.add(pitch)
    return [DELIMITER, HOLD, REST] + [str(pitch) for pitch in sorted(pitches)]


# --- VAE codes ------------------------------------------------------------------------------


def encode_notes(events: Sequence[Event]) -> list[int]:
    """Events -> ``[events]`` note codes: MIDI pitch in ``NOTE_MIN..NOTE_MAX``, rest ``NOTE_REST``."""
    codes = []
    for position, event in enumerate(events):
        if event.pitch is None:
            codes.append(NOTE_REST)
        elif NOTE_MIN <= event.pitch <= NOTE_MAX:
            codes.append(event.pitch)
        else:
            raise EncodingError(
                "pitch_out_of_range",
                f"pitch {event.pitch} at event {position} is outside {NOTE_MIN}..{NOTE_MAX}",
            )
    return codes


def encode_rhythms(events: Sequence[Event]) -> list[int]:
    """Events -> ``[events]`` duration codes 0..7 (index in ``ACCEPTABLE_DURATIONS``)."""
    return [duration_code(event.quarters, position) for position, event in enumerate(events)]


def decode_vae(notes: Sequence[int], rhythms: Sequence[int]) -> list[Event]:
    """Note codes ``[events]`` and rhythm codes ``[events]`` -> events."""
    if len(notes) != len(rhythms):
        raise EncodingError(
            "length_mismatch", f"{len(notes)} note codes but {len(rhythms)} rhythm codes"
        )
    events = []
    for position, (note, rhythm) in enumerate(zip(notes, rhythms)):
        if note != NOTE_REST and not NOTE_MIN <= note <= NOTE_MAX:
            raise EncodingError(
                "unknown_note_code",
                f"note code {note} at event {position} is neither {NOTE_MIN}..{NOTE_MAX} nor {NOTE_REST}",
            )
        if not 0 <= rhythm < len(ACCEPTABLE_DURATIONS):
            raise EncodingError(
                "unknown_rhythm_code",
                f"rhythm code {rhythm} at event {position} is not in 0..{len(ACCEPTABLE_DURATIONS) - 1}",
            )
        events.append(Event(None if note == NOTE_REST else int(note), ACCEPTABLE_DURATIONS[rhythm]))
    return events


# --- transposition --------------------------------------------------------------------------

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


# --- ABC ------------------------------------------------------------------------------------

_FIELD_LINE = re.compile(r"^([A-Za-z+]):(?![|:])(.*)$")  # "A:|" is a note and a repeat
# Fields kept in the body: mid-tune changes of unit length, meter and key.
_BODY_FIELDS = ("L", "M", "K")
DEFAULT_UNIT_LENGTH = "1/8"
DEFAULT_KEY = "C"


def normalise_abc(text: str) -> str:
    """One tune's ABC -> the character model's text: ``X:1``, ``L:``, ``M:``, ``K:`` then the body.

    Keeps the last L and M header values (a tune's own fields come after the file-header lines it
    inherits; when ``L`` is absent the standard's default is written, ``default_unit_length``;
    ``M`` omitted when absent, ``K:C`` added when absent)
    and, in the body, the music lines and mid-tune ``L:``, ``M:``, ``K:`` field lines. Drops comments (``%...``, ``%%`` directives), every other field
    (T, C, O, S, Z, N, H, B, A, D, F, R, P, Q, W, w, ...), blank lines, and collapses runs of
    spaces and tabs to one space, trimming both ends of each line. Raises EncodingError
    ``"empty_body"`` when no music line remains.
    """
    header: dict[str, str] = {}
    body: list[str] = []
    in_header = True
    for raw_line in text.splitlines():
        line = " ".join(_strip_comment(raw_line).split())
        if not line:
            continue
        field = _FIELD_LINE.match(line)
        if field is None:
            in_header = False
            body.append(line)
            continue
        name, value = field.group(1), field.group(2).strip()
        if in_header:
            if name in ("L", "M", "K"):
                header[name] = value  # a tune's own field overrides an inherited one
            in_header = name != "K"
        elif name in _BODY_FIELDS:
            body.append(f"{name}:{value}")
    if not any(_FIELD_LINE.match(line) is None for line in body):
        raise EncodingError("empty_body", f"ABC tune has no music lines: {' '.join(text.split())[:80]!r}")
    lines = ["X:1", f"L:{header.get('L') or default_unit_length(header.get('M', ''))}"]
    if header.get("M"):
        lines.append(f"M:{header['M']}")
    lines.append(f"K:{header.get('K') or DEFAULT_KEY}")
    return "\n".join(lines + body) + "\n"


# What ends one tune in a character model's output: a blank line (the training stream's separator)
# or the next tune's ``X:`` field.
ABC_TUNE_ENDS = ("\n\n", "\nX:")


def first_abc_tune(text: str, search_from: int = 0) -> tuple[str, bool]:
    """The first tune of generated ABC ``text`` (up to and including its last newline) and whether
    it ended there; an unfinished tune is the whole text. Only ends completed at or after
    ``search_from`` count (the length of a primer, whose own blank lines do not end the tune; a
    primer's final newline followed by a generated one does)."""
    ends = [text.find(marker, max(0, search_from - len(marker) + 1)) for marker in ABC_TUNE_ENDS]
    ends = [end for end in ends if end >= 0]
    if not ends:
        return text, False
    return text[: min(ends) + 1], True


# A note or rest followed by a length multiplier of three or more digits ("e943").
_LONG_NOTE = re.compile(r"(?<![A-Za-z])[_=^]*[A-Ga-gzx][,']*(\d{3,})")
MAX_NOTE_UNITS = 99


def check_abc_note_lengths(text: str) -> None:
    """Raises EncodingError ``"implausible_note_length"`` naming the first note of the body lines
    longer than ``MAX_NOTE_UNITS`` unit lengths: no tune holds one, a badly trained model may
    write one, and music21 takes tens of seconds to parse it."""
    for number, line in enumerate(text.splitlines(), start=1):
        if _FIELD_LINE.match(line):
            continue
        match = _LONG_NOTE.search(_strip_comment(line))
        if match is not None and int(match.group(1)) > MAX_NOTE_UNITS:
            raise EncodingError(
                "implausible_note_length",
                f"note {match.group(0)!r} on line {number} lasts {int(match.group(1))} unit lengths "
                f"(at most {MAX_NOTE_UNITS} are accepted)",
            )


def default_unit_length(meter: str) -> str:
    """The ABC standard's unit note length for a tune without ``L:``: ``1/16`` when the meter is
    below 3/4 (e.g. ``2/4``), else ``1/8`` (also for no meter, ``C``, ``C|`` and free meter)."""
    numerator, slash, denominator = meter.partition("/")
    if slash and numerator.strip().isdigit() and denominator.strip().isdigit() and int(denominator) > 0:
        if int(numerator) / int(denominator) < 0.75:
            return "1/16"
    return DEFAULT_UNIT_LENGTH


def _strip_comment(line: str) -> str:
    """The line up to an unescaped ``%``."""
    match = re.search(r"(?<!\\)%", line)
    return line if match is None else line[: match.start()]


def _checked_midi(pitch: int, position: int) -> int:
    if not MIDI_MIN <= pitch <= MIDI_MAX:
        raise EncodingError(
            "pitch_out_of_range", f"pitch {pitch} at event {position} is outside MIDI {MIDI_MIN}..{MIDI_MAX}"
        )
    return pitch


def _format_quarters(quarters: float) -> str:
    return f"{quarters:.6g}"

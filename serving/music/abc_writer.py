"""A small ABC notation writer (music21 reads ABC but cannot write it).

Writes X/T/M/L/K headers, notes with octave marks and accidentals relative to the key signature
(an accidental holds to the end of its bar, so later notes of that letter are marked explicitly),
lengths relative to ``L:1/8``, rests ``z``, bar lines per meter and ties across bar lines.
"""
from __future__ import annotations

from fractions import Fraction

from preprocessing.melody.events import Event
from preprocessing.melody.keys import Key, Meter
from serving.music.notation import Piece, SpelledPitch, layout_bars

UNIT_QUARTERS = Fraction(1, 2)  # L:1/8
BARS_PER_LINE = 4
_ACCIDENTAL_MARKS = {-2: "__", -1: "_", 0: "=", 1: "^", 2: "^^"}


def write_abc(events: list[Event], key: Key, meter: Meter, title: str = "", final_bar: str = "|]",
              pickup: Fraction = Fraction(0)) -> str:
    """One tune as ABC text: headers then the body, ``BARS_PER_LINE`` bars per line, its first bar
    ``pickup`` quarters long when given (an upbeat)."""
    headers = ["X:1"]
    if title:
        headers.append(f"T:{title}")
    headers += [f"M:{meter}", "L:1/8", f"K:{key.name}"]
    return "\n".join(headers) + "\n" + abc_body(events, key, meter, final_bar, pickup) + "\n"


def with_note_line(text: str, note: str) -> str:
    """ABC text with an ``N:`` (notes) field line after its ``X:`` line (first, when it has none)."""
    lines = text.split("\n")
    at = next((index + 1 for index, line in enumerate(lines) if line.startswith("X:")), 0)
    return "\n".join([*lines[:at], f"N:{note}", *lines[at:]])


def abc_body(events: list[Event], key: Key, meter: Meter, final_bar: str = "|]", pickup: Fraction = Fraction(0)) -> str:
    """The music lines of a tune (no headers; its first bar ``pickup`` quarters when given), ending
    with ``final_bar``; ``""`` leaves the tune open: a full last bar ends with ``|``, a short one
    with no bar line (the next note continues it)."""
    laid_out = layout_bars(events, key, meter, pickup)
    bars = [_write_bar(bar, key) for bar in laid_out]
    last_full = bool(laid_out) and sum(piece.quarters for piece in laid_out[-1]) == meter.bar_quarters
    lines = []
    for start in range(0, len(bars), BARS_PER_LINE):
        chunk = bars[start:start + BARS_PER_LINE]
        last_line = start + BARS_PER_LINE >= len(bars)
        close = (f" {final_bar}" if final_bar else " |" if last_full else "") if last_line else " |"
        lines.append(" | ".join(chunk) + close)
    return "\n".join(lines).rstrip()


def _write_bar(pieces: list[Piece], key: Key) -> str:
    marked_letters: set[str] = set()
    written = []
    for piece in pieces:
        if piece.pitch is None:
            written.append("z" + _length(piece.quarters))
            continue
        written.append(_note(piece.pitch, key, marked_letters) + _length(piece.quarters)
                       + ("-" if piece.tie_start else ""))
    return " ".join(written)


def _note(pitch: SpelledPitch, key: Key, marked_letters: set[str]) -> str:
    """Accidental (when it differs from the signature, or the letter was marked earlier in the
    bar), letter and octave marks (C = C4, c = C5, c' = C6, C, = C3)."""
    accidental = ""
    if pitch.alter != key.signature_alteration(pitch.letter) or pitch.letter in marked_letters:
        if pitch.alter not in _ACCIDENTAL_MARKS:
            raise ValueError(f"cannot write alteration {pitch.alter} of {pitch} in ABC")
        accidental = _ACCIDENTAL_MARKS[pitch.alter]
        marked_letters.add(pitch.letter)
    if pitch.octave >= 5:
        return accidental + pitch.letter.lower() + "'" * (pitch.octave - 5)
    return accidental + pitch.letter + "," * (4 - pitch.octave)


def _length(quarters: Fraction) -> str:
    """A length relative to L:1/8: ``""`` (1), ``"2"``, ``"3/2"``, ``"/2"``."""
    units = quarters / UNIT_QUARTERS
    if units.denominator & (units.denominator - 1):
        raise ValueError(f"cannot write a duration of {quarters} quarter notes in ABC without tuplets")
    if units.denominator == 1:
        return "" if units.numerator == 1 else str(units.numerator)
    numerator = "" if units.numerator == 1 else str(units.numerator)
    return f"{numerator}/{units.denominator}"

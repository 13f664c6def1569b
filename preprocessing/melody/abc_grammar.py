"""The small ABC grammar the constraint machine writes, and the request it is built from.

Time is counted in integer ticks: ``TICKS_PER_UNIT`` per unit note length (``L:``), so that
tuplets of 2, 3 and 4 notes stay whole numbers. Every note length the machine allows is a
multiple of ``GRID`` ticks (a quarter of the unit, ``//``), and so is every bar position outside
a tuplet: a bar with room left can always be filled with ``//`` notes.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from preprocessing.melody.keys import LETTER_PITCH_CLASSES, Key, parse_key, parse_meter, tonic_pitch_class

TICKS_PER_UNIT = 48
GRID = TICKS_PER_UNIT // 4
# A strain that ends on the tonic ends on a note of at least one unit (not a 32nd squeezed in).
FINAL_TICKS = TICKS_PER_UNIT
# Length suffixes after a note, rest or chord, and their ticks ("" is one unit).
LENGTHS = {"": 48, "2": 96, "3": 144, "4": 192, "6": 288, "8": 384,
           "/": 24, "//": 12, "/2": 24, "3/2": 72}
# "(p": p notes in the time of q.
TUPLETS = {"2": (2, 3), "3": (3, 2), "4": (4, 3)}
NOTE_LETTERS = frozenset("CDEFGABcdefgab")
ACCIDENTALS = {"^": 1, "_": -1, "=": 0}
MAX_OCTAVE_MARKS = 2
MAX_CHORD_NOTES = 3
MAX_GRACE_NOTES = 3
STRAIN_BARS = 8


# Every beginning of a length suffix -> the ticks of the lengths it can still become, shortest
# first (the likeliest to fit).
_COMPLETIONS = {text[:end]: tuple(sorted(ticks for full, ticks in LENGTHS.items() if full.startswith(text[:end])))
                for text in LENGTHS for end in range(len(text) + 1)}


def length_completions(suffix: str) -> tuple[int, ...]:
    """Ticks of every allowed length whose suffix starts with ``suffix``, shortest first."""
    return _COMPLETIONS.get(suffix, ())


def extends_length(suffix: str, char: str) -> bool:
    """Whether ``suffix + char`` begins some allowed length suffix."""
    return suffix + char in _COMPLETIONS


def octave_mark(letter: str) -> str:
    """The mark that moves a letter further from the middle: ``'`` up for c-b, ``,`` down for C-B."""
    return "'" if letter.islower() else ","


def note_pitch(letter: str, accidental: str, marks: int, key: Key) -> int:
    """MIDI pitch of an ABC note (``C`` = 60); without an accidental the key signature applies."""
    upper = letter.upper()
    octave = 12 * marks if letter.islower() else -12 * marks
    alteration = ACCIDENTALS[accidental] if accidental else key.signature_alteration(upper)
    return 60 + LETTER_PITCH_CLASSES[upper] + (12 if letter.islower() else 0) + octave + alteration


@dataclass(frozen=True)
class Strain:
    """One strain of the form: its length in bars (None: open-ended) and whether it is repeated."""

    bars: int | None
    repeated: bool


@dataclass(frozen=True)
class Plan:
    """A checked request: the bar in ticks, the key, the strains, and the end-on-tonic rule.

    ``free``: no form was asked for, so the tune is one strain and may write its own repeats;
    ``min_bars``: the fewest bars an open-ended tune (no ``bars``, no form) may close with ``|]``;
    ``chromatic``: accidentals may be written (else every note is in the key signature's scale).
    """

    bar_ticks: int
    key: Key
    tonic_pc: int
    strains: tuple[Strain, ...]
    free: bool
    end_on_tonic: bool
    min_bars: int = 1
    chromatic: bool = True


def parse_unit(text: str) -> Fraction:
    """``"1/8"`` -> Fraction(1, 8); ValueError unless it is 1/1 .. 1/32 (a power of two)."""
    try:
        unit = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"unknown unit note length {text!r}; expected e.g. '1/8'") from None
    if unit.numerator != 1 or unit.denominator not in (1, 2, 4, 8, 16, 32):
        raise ValueError(f"unknown unit note length {text!r}; expected 1/1, 1/2, ... or 1/32")
    return unit


def parse_form(form: str) -> tuple[Strain, ...]:
    """``"AABB"`` -> two repeated 8-bar strains; ``"AAB"``, ``"ABC"`` ... A letter written twice in
    a row is a repeated strain (``|: ... :|``); ValueError for more than two, or a letter that
    comes back after another (``"ABA"``: a repeat sign cannot write it)."""
    letters = form.strip()
    if not letters or not letters.isalpha() or not letters.isupper():
        raise ValueError(f"unknown form {form!r}; expected capital letters such as 'AABB'")
    runs: list[tuple[str, int]] = []
    for letter in letters:
        if runs and runs[-1][0] == letter:
            runs[-1] = (letter, runs[-1][1] + 1)
        elif any(seen == letter for seen, _ in runs):
            raise ValueError(f"form {form!r}: strain {letter} comes back after another strain; "
                             "only consecutive repeats (AABB) can be written")
        else:
            runs.append((letter, 1))
    if any(count > 2 for _, count in runs):
        raise ValueError(f"form {form!r}: a strain may be played at most twice in a row")
    return tuple(Strain(STRAIN_BARS, count == 2) for _, count in runs)


def make_plan(meter: str, unit: str, key: str, bars: int | None, form: str | None,
              end_on_tonic: bool, min_bars: int = 1, chromatic: bool = True) -> Plan:
    """Checks a request and returns its Plan; ValueError naming what cannot be met."""
    bar_units = parse_meter(meter).bar_quarters / 4 / parse_unit(unit)
    bar_ticks = bar_units * TICKS_PER_UNIT
    if bar_ticks.denominator != 1 or bar_ticks % GRID:
        raise ValueError(f"meter {meter} is {bar_units} units of L:{unit}; it must be a multiple of 1/4 unit")
    parsed_key = parse_key(key)
    if bars is not None and bars < 1:
        raise ValueError(f"bars must be at least 1, not {bars}")
    if form is None:
        strains, free = (Strain(bars, False),), True
    else:
        strains, free = parse_form(form), False
        written = STRAIN_BARS * len(strains)
        if bars is not None and bars != written:
            raise ValueError(f"form {form} has {len(strains)} strains of {STRAIN_BARS} bars: "
                             f"{written} written bars, not {bars}")
    if min_bars < 1:
        raise ValueError(f"min_bars must be at least 1, not {min_bars}")
    return Plan(int(bar_ticks), parsed_key, tonic_pitch_class(parsed_key.tonic), strains, free, end_on_tonic,
                min_bars, chromatic)

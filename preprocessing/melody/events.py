"""A monophonic tune as events: ``Event`` (MIDI pitch or None for a rest, duration in quarters).

The seeds keep only the eight ``ACCEPTABLE_DURATIONS``; ``duration_code`` is a duration's index there.
"""
from __future__ import annotations

from dataclasses import dataclass

ACCEPTABLE_DURATIONS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)
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


class TuneError(EncodingError):
    """A whole tune (not one encoding) cannot be used, e.g. it is polyphonic; ``title`` is its title."""

    def __init__(self, reason: str, message: str, title: str = "") -> None:
        super().__init__(reason, message)
        self.title = title


@dataclass(frozen=True)
class Event:
    """One note (``pitch`` = MIDI number) or rest (``pitch`` = None) lasting ``quarters``."""

    pitch: int | None
    quarters: float


def duration_code(quarters: float, position: int) -> int:
    """Index of ``quarters`` in ``ACCEPTABLE_DURATIONS``; EncodingError naming it otherwise."""
    for code, acceptable in enumerate(ACCEPTABLE_DURATIONS):
        if abs(quarters - acceptable) < _DURATION_TOLERANCE:
            return code
    raise EncodingError(
        "unacceptable_duration",
        f"duration {format_quarters(quarters)} quarter notes at event {position} is not in "
        f"ACCEPTABLE_DURATIONS {ACCEPTABLE_DURATIONS}",
    )

def checked_midi(pitch: int, position: int) -> int:
    if not MIDI_MIN <= pitch <= MIDI_MAX:
        raise EncodingError(
            "pitch_out_of_range", f"pitch {pitch} at event {position} is outside MIDI {MIDI_MIN}..{MIDI_MAX}"
        )
    return pitch


def format_quarters(quarters: float) -> str:
    return f"{quarters:.6g}"

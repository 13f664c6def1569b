"""The VAE codes of a tune: ``notes`` (pitch ``NOTE_MIN..NOTE_MAX``, rest ``NOTE_REST``) and
``rhythms`` (index of the duration in ``ACCEPTABLE_DURATIONS``), one code per event."""
from __future__ import annotations

import logging
from collections.abc import Sequence

from preprocessing.melody.events import ACCEPTABLE_DURATIONS, EncodingError, Event, duration_code

logger = logging.getLogger(__name__)

NOTE_MIN = 50
NOTE_MAX = 97
NOTE_REST = 99
# What to do with a sequence longer than a VAE's fixed length: keep its start (with a warning) or refuse it.
OVERFLOW_POLICIES = ("truncate", "refuse")


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


def check_overflow_policy(overflow: str) -> str:
    """``overflow`` if it is one of ``OVERFLOW_POLICIES``, else ValueError naming it."""
    if overflow not in OVERFLOW_POLICIES:
        raise ValueError(f"unknown overflow policy {overflow!r}; expected one of {OVERFLOW_POLICIES}")
    return overflow


def fit_codes(codes: Sequence[int], length: int, pad_code: int, overflow: str = "truncate",
              source: str = "the sequence", what: str = "events", limit: str = "") -> list[int]:
    """Codes ``[n]`` -> ``[length]``: padded with ``pad_code``, or cut to ``length`` with a warning
    (``overflow="truncate"``), or ValueError naming ``source`` (``overflow="refuse"``).

    ``what`` names the codes (``"notes events"``) and ``limit`` the length (default
    ``"length=L"``; ``"the VAE length L"``) in the warning and the error.
    """
    check_overflow_policy(overflow)
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    limit = limit or f"length={length}"
    codes = [int(code) for code in codes]
    if len(codes) > length:
        if overflow == "refuse":
            raise ValueError(f"{source} has {len(codes)} {what}, more than {limit} "
                             f"(overflow 'truncate' keeps the first {length})")
        logger.warning("%s has %d %s; only the first %d are encoded (%s)", source, len(codes), what, length, limit)
        codes = codes[:length]
    return codes + [pad_code] * (length - len(codes))

"""One raw tune in, one example (the features of ``preprocessing.schema``) and its dead letters out.

``process_tune`` parses the tune with music21, takes the melody (first part, flattened; ties
merged, grace notes dropped), reads the declared key, meter and title, transposes the encoded
pitches to C major / A minor, then computes each encoding independently (``timestep``,
``notes`` + ``rhythms``, ``abc``). A failed encoding is an empty feature plus a dead letter; the
tune is kept when it has at least one note and at least one encoding succeeded.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from preprocessing import encoding, schema
from preprocessing.encoding import EncodingError, Event
from preprocessing.records import (
    ENCODING_ABC,
    ENCODING_TIMESTEP,
    ENCODING_TUNE,
    ENCODING_VAE,
    DeadLetter,
    RawTune,
    TuneResult,
    make_excerpt,
)

logger = logging.getLogger(__name__)

IRISHMAN_ABC_KEY = "abc notation"
_MUSIC21_FORMATS = {"abc": "abc", "irishman": "abc", "kern": "humdrum", "musicxml": "musicxml", "midi": "midi"}
_BINARY_SUFFIXES = {"musicxml": ".mxl", "midi": ".mid"}
_TIME_TOLERANCE = 1e-6


class TuneError(ValueError):
    """A whole tune cannot be used; ``reason`` is the dead letter's reason code."""

    def __init__(self, reason: str, message: str, title: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.title = title


@dataclass(frozen=True)
class Melody:
    """What the encodings need from a parsed tune (original key, not transposed)."""

    events: tuple[Event, ...]
    title: str
    tonic: str  # e.g. "D", "F#", "Bb"
    mode: str  # music21's mode name, e.g. "major", "minor", "dorian"
    meter: str  # e.g. "3/4"; "" when none is declared


def process_tune(raw: RawTune) -> TuneResult:
    """Parses and encodes one tune; never raises on bad content (bad content -> dead letters)."""
    text = _source_text(raw)
    try:
        abc_text = _irishman_abc(raw) if raw.fmt == "irishman" else text if raw.fmt == "abc" else None
        melody = parse_melody(raw, abc_text)
    except TuneError as error:
        return TuneResult(None, (_dead_letter(raw, error.title, ENCODING_TUNE, error.reason, str(error), text),))
    except Exception as error:  # pylint: disable=broad-except  # music21 raises anything on bad input
        detail = f"music21 could not parse {raw.fmt} tune {raw.tune_id}: {type(error).__name__}: {error}"
        return TuneResult(None, (_dead_letter(raw, "", ENCODING_TUNE, "parse_error", detail, text),))
    return _encode(raw, melody, abc_text, text)


def _encode(raw: RawTune, melody: Melody, abc_text: str | None, text: str) -> TuneResult:
    dead_letters: list[DeadLetter] = []

    def attempt(encoding_name: str, encode: Callable[[], object], empty: object) -> object:
        try:
            return encode()
        except EncodingError as error:
            dead_letters.append(_dead_letter(raw, melody.title, encoding_name, error.reason, str(error), text))
            return empty

    semitones = encoding.transposition_semitones(melody.tonic, melody.mode)

    def transposed() -> list[Event]:
        return encoding.transpose_events(melody.events, semitones)

    timestep = attempt(ENCODING_TIMESTEP, lambda: encoding.encode_timestep(transposed()), [])
    notes, rhythms = attempt(
        ENCODING_VAE, lambda: (encoding.encode_notes(transposed()), encoding.encode_rhythms(transposed())), ([], [])
    )
    abc = ""
    if abc_text is not None:
        abc = attempt(ENCODING_ABC, lambda: encoding.normalise_abc(abc_text), "")
    if not (timestep or notes or abc):
        return TuneResult(None, tuple(dead_letters))
    example = {
        schema.FEATURE_ID: raw.tune_id,
        schema.FEATURE_CORPUS: raw.corpus,
        schema.FEATURE_TITLE: melody.title,
        schema.FEATURE_TIMESTEP: timestep,
        schema.FEATURE_NOTES: notes,
        schema.FEATURE_RHYTHMS: rhythms,
        schema.FEATURE_ABC: abc,
        schema.FEATURE_KEY: melody.tonic,
        schema.FEATURE_MODE: encoding.mode_family(melody.mode),
        schema.FEATURE_METER: melody.meter,
        schema.FEATURE_TRANSPOSE: semitones,
    }
    return TuneResult(example, tuple(dead_letters))


def parse_melody(raw: RawTune, abc_text: str | None = None) -> Melody:
    """Parses ``raw`` with music21 and extracts its melody; TuneError (or music21's errors) on failure.

    ``abc_text`` is the ABC to parse for ``abc`` and ``irishman`` tunes.
    """
    score = _parse_score(raw, abc_text)
    parts = getattr(score, "parts", None)
    part = parts[0] if parts else score
    flat = part.flatten()
    title = ((score.metadata.title or "") if score.metadata is not None else "").strip()
    try:
        events = _melody_events(flat, raw)
    except TuneError as error:
        raise TuneError(error.reason, str(error), title) from error
    if not any(event.pitch is not None for event in events):
        raise TuneError("no_notes", f"tune {raw.tune_id} has no notes ({len(events)} rests)", title)
    tonic, mode = _declared_key(flat) or _analysed_key(flat)
    meters = flat.getElementsByClass("TimeSignature")
    meter = meters[0].ratioString if meters else ""
    return Melody(tuple(events), title, tonic, mode, meter)


def _parse_score(raw: RawTune, abc_text: str | None):
    import music21  # pylint: disable=import-outside-toplevel  # slow import, only in workers

    music21_format = _MUSIC21_FORMATS[raw.fmt]
    if raw.fmt in ("abc", "irishman"):
        parsed = music21.converter.parse(abc_text, format=music21_format)
    elif raw.fmt in _BINARY_SUFFIXES and not _looks_like_text(raw.content):
        parsed = _parse_binary(raw, music21_format)
    else:
        parsed = music21.converter.parse(raw.content.decode("utf-8"), format=music21_format)
    if isinstance(parsed, music21.stream.Opus):
        if not parsed.scores:
            raise TuneError("parse_error", f"tune {raw.tune_id} holds no score")
        parsed = parsed.scores[0]
    return parsed


def _parse_binary(raw: RawTune, music21_format: str):
    """music21 reads MIDI and compressed MusicXML from files, so write one to a temporary file."""
    import music21  # pylint: disable=import-outside-toplevel

    handle, path = tempfile.mkstemp(suffix=_BINARY_SUFFIXES[raw.fmt])
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(raw.content)
        return music21.converter.parse(path, format=music21_format, forceSource=True)
    finally:
        os.remove(path)


def _melody_events(flat, raw: RawTune) -> list[Event]:
    """Notes and rests of a flattened monophonic part: ties merged, grace notes dropped, gaps
    filled with rests; a chord or overlapping notes raise TuneError naming where."""
    events: list[Event] = []
    end = 0.0
    tie_open = False
    for element in flat.notesAndRests:
        quarters = float(element.quarterLength)
        if element.duration.isGrace or quarters <= 0:
            continue
        offset = float(element.offset)
        if element.isChord and not element.isRest:
            pitches = " ".join(pitch.nameWithOctave for pitch in element.pitches)
            raise TuneError(
                "chord",
                f"chord [{pitches}] at measure {element.measureNumber} (offset {offset:g} quarters) "
                f"in monophonic tune {raw.tune_id}",
            )
        if offset < end - _TIME_TOLERANCE:
            raise TuneError(
                "overlapping_notes",
                f"{element.name} at measure {element.measureNumber} (offset {offset:g} quarters) starts "
                f"before the previous event ends ({end:g}) in tune {raw.tune_id}: not monophonic",
            )
        if offset > end + _TIME_TOLERANCE:
            events.append(Event(None, offset - end))
            tie_open = False
        pitch = None if element.isRest else int(element.pitch.midi)
        tie = None if element.isRest or element.tie is None else element.tie.type
        if tie_open and pitch is not None and events and events[-1].pitch == pitch and tie in ("continue", "stop"):
            events[-1] = Event(pitch, events[-1].quarters + quarters)
        else:
            events.append(Event(pitch, quarters))
        tie_open = tie in ("start", "continue")
        end = offset + quarters
    return events


def _declared_key(flat) -> tuple[str, str] | None:
    """(tonic, mode) of the first Key or KeySignature.

    A bare signature (no declared tonic, e.g. kern ``*k[f#]`` without ``*G:``) or a mode outside
    ``encoding.canonical_mode`` is read as the major key of that signature; the transposition is
    the same either way, as it moves the signature.
    """
    signatures = flat.getElementsByClass("KeySignature")
    if not signatures:
        return None
    first = signatures[0]
    if hasattr(first, "tonic") and hasattr(first, "mode"):
        try:
            return _tonic_name(first.tonic.name), encoding.canonical_mode(first.mode or "major")
        except ValueError:
            logger.debug("mode %r of %s is not a known mode; reading it as major", first.mode, first)
    return _tonic_name(first.asKey("major").tonic.name), "major"


def _analysed_key(flat) -> tuple[str, str]:
    """(tonic, mode) from music21's key analysis, for tunes that declare no key."""
    key = flat.analyze("key")
    return _tonic_name(key.tonic.name), encoding.canonical_mode(key.mode)


def _tonic_name(music21_name: str) -> str:
    """music21's ``"B-"`` -> ``"Bb"``; ``"F#"`` unchanged."""
    return music21_name.replace("-", "b")


def _irishman_abc(raw: RawTune) -> str:
    record = json.loads(raw.content.decode("utf-8"))
    abc = record.get(IRISHMAN_ABC_KEY)
    if not isinstance(abc, str) or not abc.strip():
        raise TuneError(
            "missing_abc_notation",
            f"IrishMAN record {raw.tune_id} has no {IRISHMAN_ABC_KEY!r} text (keys: {sorted(record)})",
        )
    return abc


def _source_text(raw: RawTune) -> str:
    """The tune's text for excerpts ("" for binary content)."""
    if raw.fmt in _BINARY_SUFFIXES and not _looks_like_text(raw.content):
        return ""
    return raw.content.decode("utf-8", errors="replace")


def _looks_like_text(content: bytes) -> bool:
    return b"\x00" not in content[:1024] and not content.startswith((b"MThd", b"PK"))


def _dead_letter(raw: RawTune, title: str, encoding_name: str, reason: str, detail: str, text: str) -> DeadLetter:
    return DeadLetter(raw.corpus, raw.tune_id, title, encoding_name, reason, detail, make_excerpt(text))

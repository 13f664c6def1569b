"""One raw tune in, one example (the features of ``preprocessing.schema``) and its dead letters out.

``process_tune`` parses the tune with music21 (ABC through its tokenizer, ``abc_melody``; kern,
MusicXML and MIDI through a Score, ``score_melody``), takes the melody (first part or voice; ties
merged, grace notes dropped, a chord is a ``chord`` dead letter), reads the declared key (music21's
key analysis only when none is declared), the first meter and the title, transposes the encoded
pitches to C major / A minor, then computes each encoding independently (``timestep``,
``notes`` + ``rhythms``, ``abc``). A failed encoding is an empty feature plus a dead letter; the
tune is kept when it has at least one note and at least one encoding succeeded, else it gets a
``tune`` dead letter too (``no_encoding``).
"""
from __future__ import annotations

import functools
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from preprocessing import schema
from preprocessing.melody.abc_text import normalise_abc
from preprocessing.melody.events import EncodingError, Event
from preprocessing.melody.keys import canonical_mode, mode_family, transpose_events, transposition_semitones
from preprocessing.melody.timestep import encode_timestep
from preprocessing.melody.vae_codes import encode_notes, encode_rhythms
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
    abc_text: str | None = None
    try:
        abc_text = _irishman_abc(raw) if raw.fmt == "irishman" else text if raw.fmt == "abc" else None
        melody = parse_melody(raw, abc_text)
        semitones = transposition_semitones(melody.tonic, melody.mode)
    except TuneError as error:
        return TuneResult(None, (_dead_letter(raw, error.title, ENCODING_TUNE, error.reason, str(error), text),))
    except Exception as error:  # pylint: disable=broad-except  # music21 raises anything on bad input
        detail = f"music21 could not parse {raw.fmt} tune {raw.tune_id}: {type(error).__name__}: {error}"
        title = _abc_title(abc_text) if raw.fmt in ("abc", "irishman") and abc_text else ""
        return TuneResult(None, (_dead_letter(raw, title, ENCODING_TUNE, "parse_error", detail, text),))
    return _encode(raw, melody, semitones, abc_text, abc_text or text)


def _encode(raw: RawTune, melody: Melody, semitones: int, abc_text: str | None, text: str) -> TuneResult:
    dead_letters: list[DeadLetter] = []

    def attempt(encoding_name: str, encode: Callable[[], object], empty: object) -> object:
        try:
            return encode()
        except EncodingError as error:
            dead_letters.append(_dead_letter(raw, melody.title, encoding_name, error.reason, str(error), text))
            return empty

    def transposed() -> list[Event]:
        return transpose_events(melody.events, semitones)

    timestep = attempt(ENCODING_TIMESTEP, lambda: encode_timestep(transposed()), [])
    notes, rhythms = attempt(
        ENCODING_VAE, lambda: (encode_notes(transposed()), encode_rhythms(transposed())), ([], [])
    )
    abc = ""
    if abc_text is not None:
        abc = attempt(ENCODING_ABC, lambda: normalise_abc(abc_text), "")
    if not (timestep or notes or abc):
        reasons = ", ".join(f"{letter.encoding}: {letter.reason}" for letter in dead_letters)
        detail = f"every encoding of tune {raw.tune_id} failed ({reasons})"
        skipped = _dead_letter(raw, melody.title, ENCODING_TUNE, "no_encoding", detail, text)
        return TuneResult(None, (skipped, *dead_letters))
    example = {
        schema.FEATURE_ID: raw.tune_id,
        schema.FEATURE_CORPUS: raw.corpus,
        schema.FEATURE_TITLE: melody.title,
        schema.FEATURE_TIMESTEP: timestep,
        schema.FEATURE_NOTES: notes,
        schema.FEATURE_RHYTHMS: rhythms,
        schema.FEATURE_ABC: abc,
        schema.FEATURE_KEY: melody.tonic,
        schema.FEATURE_MODE: mode_family(melody.mode),
        schema.FEATURE_METER: melody.meter,
        schema.FEATURE_TRANSPOSE: semitones,
    }
    return TuneResult(example, tuple(dead_letters))


def parse_melody(raw: RawTune, abc_text: str | None = None) -> Melody:
    """Parses ``raw`` with music21 and extracts its melody; TuneError (or music21's errors) on failure.

    ``abc_text`` is the ABC to parse for ``abc`` and ``irishman`` tunes: it goes through music21's
    ABC tokenizer only (``abc_melody``); the other formats through a music21 Score
    (``score_melody``).
    """
    if raw.fmt in ("abc", "irishman"):
        return abc_melody(abc_text or "", raw.tune_id)
    return score_melody(_parse_score(raw), raw.tune_id)


def abc_melody(text: str, tune_id: str) -> Melody:
    """One ABC tune's melody from music21's ABC tokens (``abcFormat.ABCHandler``).

    Reads what ``converter.parse(text, format="abc")`` would put in the first part (durations
    with broken rhythms and tuplets, accidentals carried through bars, key signatures, ties,
    grace notes) without building the Score: the Score's re-barring and beaming cost ~10x more
    than tokenizing. Differences from the Score, by design: notes annotated ``">"`` are kept
    (music21's Score drops them), the meter is the first declared ``M:`` (the Score may report
    a pickup bar's), and clef transpositions in ``K:`` are ignored (the ABC standard's reading).
    """
    from music21 import abcFormat, metadata  # pylint: disable=import-outside-toplevel

    handler = abcFormat.ABCFile().readstr(text)
    voices = handler.splitByVoice()
    if len(voices) > 1:  # common header, then the first voice, as music21's first part
        handler = voices[0] + voices[1]
    builder = _MelodyBuilder(tune_id)
    title, meter, declared_key = None, "", None
    bar = 1
    for token in handler.tokens:
        if isinstance(token, abcFormat.ABCMetadata):
            if token.isTitle() and title is None:  # "Jug of Punch, The" -> "The Jug of Punch", as music21
                title = metadata.Text(token.data.strip()).getNormalizedArticle()
            elif token.isMeter() and not meter:
                signature = token.getTimeSignatureObject()
                meter = signature.ratioString if signature is not None else ""
            elif token.isKey() and declared_key is None:
                declared_key = _key_of_signature(token.getKeySignatureObject())
        elif isinstance(token, abcFormat.ABCBar):
            bar += 1
        elif isinstance(token, abcFormat.ABCNote) and not token.inGrace:
            quarters = float(token.quarterLength)
            if token.activeTuplet is not None:
                quarters *= float(token.activeTuplet.tupletMultiplier())
            if isinstance(token, abcFormat.ABCChord):
                pitches = [_midi_number(sub.pitchName) for sub in token.subTokens
                           if isinstance(sub, abcFormat.ABCNote) and sub.pitchName]
                if len(set(pitches)) > 1:
                    raise TuneError("chord", f"chord {token.src!r} in bar {bar} of monophonic tune {tune_id}",
                                    title or "")
                builder.add(pitches[0] if pitches else None, quarters, token.tie)
            else:
                pitch = None if token.isRest or not token.pitchName else _midi_number(token.pitchName)
                builder.add(pitch, quarters, token.tie)
    return _finish(builder.events, title or "", declared_key, meter, tune_id)


def score_melody(score, tune_id: str) -> Melody:
    """The melody of a music21 Score (its first part, flattened)."""
    parts = getattr(score, "parts", None)
    flat = (parts[0] if parts else score).flatten()
    title = ((score.metadata.title or "") if score.metadata is not None else "").strip()
    builder = _MelodyBuilder(tune_id)
    for element in flat.notesAndRests:
        if element.duration.isGrace or "Harmony" in element.classes:  # chord symbols are not notes
            continue
        where = f"measure {element.measureNumber} (offset {float(element.offset):g} quarters)"
        pitch = None
        if element.isChord and not element.isRest:
            pitches = sorted({pitch.midi for pitch in element.pitches})
            if len(pitches) > 1:
                names = " ".join(pitch.nameWithOctave for pitch in element.pitches)
                raise TuneError("chord", f"chord [{names}] at {where} in monophonic tune {tune_id}", title)
            pitch = pitches[0] if pitches else None
        elif not element.isRest:
            pitch = int(element.pitch.midi)
        tie = None if element.isRest or element.tie is None else element.tie.type
        builder.add_at(float(element.offset), pitch, float(element.quarterLength), tie, where, title)
    signatures = flat.getElementsByClass("KeySignature")
    meters = flat.getElementsByClass("TimeSignature")
    declared_key = _key_of_signature(signatures[0]) if signatures else None
    return _finish(builder.events, title, declared_key, meters[0].ratioString if meters else "", tune_id)


def _finish(events: list[Event], title: str, declared_key: tuple[str, str] | None, meter: str,
            tune_id: str) -> Melody:
    if not any(event.pitch is not None for event in events):
        raise TuneError("no_notes", f"tune {tune_id} has no notes ({len(events)} rests)", title)
    tonic, mode = declared_key or _analysed_key(events)
    return Melody(tuple(events), title, tonic, mode, meter)


class _MelodyBuilder:
    """Collects a monophonic melody's events: tied notes merged into one event."""

    def __init__(self, tune_id: str) -> None:
        self.tune_id = tune_id
        self.events: list[Event] = []
        self._end = 0.0
        self._tie_open = False

    def add(self, pitch: int | None, quarters: float, tie: str | None) -> None:
        """Appends a note (or rest) that starts where the previous event ends."""
        if quarters <= 0:
            return
        last = self.events[-1] if self.events else None
        if self._tie_open and pitch is not None and last is not None and last.pitch == pitch and tie in (
                "continue", "stop"):
            self.events[-1] = Event(pitch, last.quarters + quarters)
        else:
            self.events.append(Event(pitch, quarters))
        self._tie_open = pitch is not None and tie in ("start", "continue")
        self._end += quarters

    def add_at(self, offset: float, pitch: int | None, quarters: float, tie: str | None, where: str,
               title: str) -> None:
        """Appends an event starting at ``offset``: a gap becomes a rest, an overlap a TuneError."""
        if quarters <= 0:
            return
        if offset < self._end - _TIME_TOLERANCE:
            raise TuneError(
                "overlapping_notes",
                f"event at {where} starts before the previous one ends ({self._end:g}) in tune "
                f"{self.tune_id}: not monophonic", title,
            )
        if offset > self._end + _TIME_TOLERANCE:
            self.add(None, offset - self._end, None)
        self.add(pitch, quarters, tie)


@functools.lru_cache(maxsize=512)
def _midi_number(pitch_name: str) -> int:
    """music21 pitch name (``"F#4"``, ``"B-3"``) -> MIDI number."""
    from music21 import pitch  # pylint: disable=import-outside-toplevel

    return int(pitch.Pitch(pitch_name).midi)


def _parse_score(raw: RawTune):
    import music21  # pylint: disable=import-outside-toplevel  # slow import, only in workers

    music21_format = _MUSIC21_FORMATS[raw.fmt]
    if raw.fmt in _BINARY_SUFFIXES and not _looks_like_text(raw.content):
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


def _key_of_signature(signature) -> tuple[str, str] | None:
    """(tonic, mode) of a music21 Key or KeySignature (None for None).

    A bare signature (no declared tonic, e.g. kern ``*k[f#]`` without ``*G:``) or a mode outside
    ``canonical_mode`` is read as the major key of that signature; the transposition is
    the same either way, as it moves the signature.
    """
    if signature is None:
        return None
    if hasattr(signature, "tonic") and hasattr(signature, "mode"):
        try:
            return _tonic_name(signature.tonic.name), canonical_mode(signature.mode or "major")
        except ValueError:
            logger.debug("mode %r of %s is not a known mode; reading it as major", signature.mode, signature)
    return _tonic_name(signature.asKey("major").tonic.name), "major"


def _analysed_key(events: list[Event]) -> tuple[str, str]:
    """(tonic, mode) from music21's key analysis of the notes, for tunes that declare no key."""
    from music21 import note, stream  # pylint: disable=import-outside-toplevel

    notes = stream.Stream([note.Note(event.pitch, quarterLength=event.quarters)
                           for event in events if event.pitch is not None])
    key = notes.analyze("key")
    return _tonic_name(key.tonic.name), canonical_mode(key.mode)


def _tonic_name(music21_name: str) -> str:
    """music21's ``"B-"`` -> ``"Bb"``; ``"F#"`` unchanged."""
    return music21_name.replace("-", "b")


def _abc_title(text: str) -> str:
    """The first ``T:`` field of an ABC tune ("" when absent), for dead letters of unparsable tunes."""
    match = re.search(r"^T:(.*)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else ""


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

"""The one reader of music21 scores: corpus tunes, primers and VAE input -> events, key and meter.

Corpus ABC tunes are read from music21's ABC tokens (``abc_melody``), every other score through a
music21 Score (``score_melody``); both take the first part or voice (ties merged, grace notes
dropped, gaps as rests, overlaps refused), the first key signature (music21's key analysis when
none is declared), the first meter and the title. ``melody_events``, ``declared_key`` and
``declared_meter`` give that reading as ``Event`` / ``Key`` / ``Meter`` (a chord: its top note).
music21 is imported inside functions: the Beam launcher imports this module without reading scores.
"""
from __future__ import annotations

import functools
import logging
import os
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from preprocessing.melody.events import Event, TuneError
from preprocessing.melody.keys import Key, Meter, canonical_mode, parse_key, parse_meter, pickup_quarters, tonic_name
from preprocessing.melody.melody_builder import MelodyBuilder

if TYPE_CHECKING:
    from music21 import abcFormat, key, stream

logger = logging.getLogger(__name__)

# File extension -> score format (a ``RawTune.fmt``), for corpus folders, primers and VAE input.
FORMAT_BY_EXTENSION = {".abc": "abc", ".krn": "kern", ".xml": "musicxml", ".musicxml": "musicxml",
                       ".mxl": "musicxml", ".mid": "midi", ".midi": "midi"}
_MUSIC21_FORMATS = {"abc": "abc", "kern": "humdrum", "musicxml": "musicxml", "midi": "midi"}
# Formats whose content may be binary (compressed MusicXML is a zip), which music21 reads from a file.
_BINARY_SUFFIXES = {"musicxml": ".mxl", "midi": ".mid"}


@dataclass(frozen=True)
class Melody:
    """What the encodings need from a parsed tune (original key, not transposed)."""

    events: tuple[Event, ...]
    title: str
    tonic: str  # e.g. "D", "F#", "Bb"
    mode: str  # a ``canonical_mode`` name, e.g. "major", "minor", "dorian"
    meter: str  # e.g. "3/4"; "" when none is declared
    pickup: float = 0.0  # quarters before the first downbeat (0: the tune starts on one)


def parse_abc_text(text: str) -> stream.Score:
    """ABC text -> music21 Score (the first tune); ValueError naming the text when it fails."""
    from music21 import converter  # pylint: disable=import-outside-toplevel

    try:
        return converter.parse(text, format="abc")
    except Exception as error:  # music21 raises many kinds of errors on bad input
        raise ValueError(f"cannot parse ABC {' '.join(text.split())[:60]!r}: {error}") from None


def parse_music_file(path: str) -> stream.Score:
    """A file with one of ``FORMAT_BY_EXTENSION``'s extensions -> music21 Score; ValueError naming it."""
    from music21 import converter  # pylint: disable=import-outside-toplevel

    if not os.path.isfile(path):
        raise ValueError(f"music file {path!r} does not exist")
    extension = os.path.splitext(path)[1].lower()
    if extension not in FORMAT_BY_EXTENSION:
        raise ValueError(f"music file {path!r}: unknown extension {extension!r}; "
                         f"expected one of {sorted(FORMAT_BY_EXTENSION)}")
    try:
        return converter.parse(path, format=_MUSIC21_FORMATS[FORMAT_BY_EXTENSION[extension]])
    except Exception as error:  # music21 raises many kinds of errors on bad input
        raise ValueError(f"cannot parse {path!r}: {error}") from None


def parse_tune(content: bytes, fmt: str, source: str) -> stream.Stream:
    """One tune's bytes in score format ``fmt`` -> its (first) Score; TuneError for an empty collection."""
    import music21  # pylint: disable=import-outside-toplevel

    if is_binary(fmt, content):  # music21 reads MIDI and compressed MusicXML from files only
        handle, path = tempfile.mkstemp(suffix=_BINARY_SUFFIXES[fmt])
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(content)
            parsed = music21.converter.parse(path, format=_MUSIC21_FORMATS[fmt], forceSource=True)
        finally:
            os.remove(path)
    else:
        parsed = music21.converter.parse(content.decode("utf-8"), format=_MUSIC21_FORMATS[fmt])
    if isinstance(parsed, music21.stream.Opus):
        if not parsed.scores:
            raise TuneError("parse_error", f"{source} holds no score")
        parsed = parsed.scores[0]
    return parsed


def is_binary(fmt: str, content: bytes) -> bool:
    """Whether a tune's ``content`` is binary (MIDI, compressed MusicXML) rather than text."""
    return fmt in _BINARY_SUFFIXES and (b"\x00" in content[:1024] or content.startswith((b"MThd", b"PK")))


def abc_melody(text: str, source: str) -> Melody:
    """One ABC tune's melody from music21's ABC tokens (``abcFormat.ABCHandler``).

    Reads what ``converter.parse(text, format="abc")`` would put in the first part (durations
    with broken rhythms and tuplets, accidentals carried through bars, key signatures, ties,
    grace notes) without building the Score: the Score's re-barring and beaming cost ~10x more
    than tokenizing. Differences from the Score, by design: notes annotated ``">"`` are kept
    (music21's Score drops them), the meter is the first declared ``M:`` (the Score may report
    a pickup bar's), and clef transpositions in ``K:`` are ignored (the ABC standard's reading).
    ``source`` names the tune in errors (``"tune erk/a.abc#3"``).
    """
    from music21 import abcFormat, metadata  # pylint: disable=import-outside-toplevel

    handler = abcFormat.ABCFile().readstr(text)
    voices = handler.splitByVoice()
    if len(voices) > 1:  # common header, then the first voice, as music21's first part
        handler = voices[0] + voices[1]
    builder = MelodyBuilder(source)
    title, meter, declared = None, "", None
    bar = 1
    first_bar: float | None = None  # quarters before the first bar line that follows a note or rest
    for token in handler.tokens:
        if isinstance(token, abcFormat.ABCMetadata):
            if token.isTitle() and title is None:  # "Jug of Punch, The" -> "The Jug of Punch", as music21
                title = metadata.Text(token.data.strip()).getNormalizedArticle()
            elif token.isMeter() and not meter:
                signature = token.getTimeSignatureObject()
                meter = signature.ratioString if signature is not None else ""
            elif token.isKey() and declared is None:
                declared = _key_of_signature(token.getKeySignatureObject())
        elif isinstance(token, abcFormat.ABCBar):
            bar += 1
            if first_bar is None and builder.end > 0:
                first_bar = builder.end
        elif isinstance(token, abcFormat.ABCNote) and not token.inGrace:
            quarters = abc_token_quarters(token)
            if isinstance(token, abcFormat.ABCChord):
                pitches = [_midi_number(sub.pitchName) for sub in token.subTokens
                           if isinstance(sub, abcFormat.ABCNote) and sub.pitchName]
                if len(set(pitches)) > 1:
                    raise TuneError("chord", f"chord {token.src!r} in bar {bar} of monophonic {source}", title or "")
                builder.add(pitches[0] if pitches else None, quarters, token.tie)
            else:
                pitch = None if token.isRest or not token.pitchName else _midi_number(token.pitchName)
                builder.add(pitch, quarters, token.tie)
    return _finish(builder.events, title or "", declared, meter, source, pickup_quarters(first_bar or 0.0, meter))


def abc_token_quarters(token: abcFormat.ABCNote) -> float:
    """How long a music21 ABC note, rest or chord token sounds, in quarters (its tuplet applied)."""
    quarters = float(token.quarterLength)
    if token.activeTuplet is not None:
        quarters *= float(token.activeTuplet.tupletMultiplier())
    return quarters


def score_melody(score: stream.Stream, source: str, top_of_chords: bool = False) -> Melody:
    """A Score's first part's melody; a chord is a ``chord`` TuneError, or its top note with ``top_of_chords``."""
    part = _first_part(score)
    title = ((score.metadata.title or "") if score.metadata is not None else "").strip()
    events = _score_events(part, source, title, top_of_chords)
    meter = _first_meter(part)
    return _finish(events, title, _signature_key(part), meter, source, pickup_quarters(_first_bar(part), meter))


def melody_events(score: stream.Stream, source: str) -> list[Event]:
    """``score_melody``'s events, a chord giving its top note; TuneError naming ``source`` without notes."""
    events = _score_events(_first_part(score), source, "", top_of_chords=True)
    _check_notes(events, source, "")
    return events


def declared_key(score: stream.Stream) -> Key:
    """``score_melody``'s key as a Key: the first key signature, else music21's analysis."""
    part = _first_part(score)
    tonic, mode = _signature_key(part) or _analysed_key(_score_events(part, "the score", "", top_of_chords=True))
    return parse_key(f"{tonic} {mode}")


def declared_meter(score: stream.Stream) -> Meter | None:
    """The first time signature, or None."""
    meter = _first_meter(_first_part(score))
    return parse_meter(meter) if meter else None


def _first_part(score: stream.Stream) -> stream.Stream:
    parts = getattr(score, "parts", None)
    return parts[0] if parts else score


def _score_events(part: stream.Stream, source: str, title: str, top_of_chords: bool) -> list[Event]:
    builder = MelodyBuilder(source)
    for element in part.flatten().notesAndRests:
        if element.duration.isGrace or "Harmony" in element.classes:  # chord symbols are not notes
            continue
        where = f"measure {element.measureNumber} (offset {float(element.offset):g} quarters)"
        pitch = None
        if element.isChord and not element.isRest:
            pitches = sorted({pitch.midi for pitch in element.pitches})
            if len(pitches) > 1 and not top_of_chords:
                names = " ".join(pitch.nameWithOctave for pitch in element.pitches)
                raise TuneError("chord", f"chord [{names}] at {where} in monophonic {source}", title)
            pitch = pitches[-1] if pitches else None
        elif not element.isRest:
            pitch = int(element.pitch.midi)
        tie = None if element.isRest or element.tie is None else element.tie.type
        builder.add_at(float(element.offset), pitch, float(element.quarterLength), tie, where, title)
    return builder.events


def _signature_key(part: stream.Stream) -> tuple[str, str] | None:
    """The opening key signature in the order of the music (a flattened Score may sort a pickup's
    later), the declared key among those at its offset first (kern writes ``*k[]`` then ``*a:``)."""
    signatures = list(part.recurse().getElementsByClass("KeySignature"))
    if not signatures:
        return None
    start = signatures[0].getOffsetInHierarchy(part)
    opening = [found for found in signatures if found.getOffsetInHierarchy(part) == start]
    return _key_of_signature(next((found for found in opening if hasattr(found, "tonic")), signatures[0]))


def _first_meter(part: stream.Stream) -> str:
    meter = part.recurse().getElementsByClass("TimeSignature").first()
    return "" if meter is None else meter.ratioString


def _first_bar(part: stream.Stream) -> float:
    """Quarters from the part's start to its second measure (0 without measures)."""
    measures = list(part.getElementsByClass("Measure"))
    return float(measures[1].offset - measures[0].offset) if len(measures) > 1 else 0.0


def _finish(events: list[Event], title: str, declared: tuple[str, str] | None, meter: str, source: str,
            pickup: float = 0.0) -> Melody:
    _check_notes(events, source, title)
    tonic, mode = declared or _analysed_key(events)
    return Melody(tuple(events), title, tonic, mode, meter, pickup)


def _check_notes(events: list[Event], source: str, title: str) -> None:
    if not any(event.pitch is not None for event in events):
        raise TuneError("no_notes", f"{source} holds no melody (no notes, {len(events)} rests)", title)


@functools.lru_cache(maxsize=512)
def _midi_number(pitch_name: str) -> int:
    """music21 pitch name (``"F#4"``, ``"B-3"``) -> MIDI number."""
    from music21 import pitch  # pylint: disable=import-outside-toplevel

    return int(pitch.Pitch(pitch_name).midi)


def _key_of_signature(signature: key.KeySignature | None) -> tuple[str, str] | None:
    """(tonic, mode) of a music21 Key or KeySignature (None for None).

    A bare signature (no declared tonic, e.g. kern ``*k[f#]`` without ``*G:``) or a mode outside
    ``canonical_mode`` is read as the major key of that signature; the transposition is
    the same either way, as it moves the signature.
    """
    if signature is None:
        return None
    if hasattr(signature, "tonic") and hasattr(signature, "mode"):
        try:
            return tonic_name(signature.tonic.name), canonical_mode(signature.mode or "major")
        except ValueError:
            logger.debug("mode %r of %s is not a known mode; reading it as major", signature.mode, signature)
    return tonic_name(signature.asKey("major").tonic.name), "major"


def _analysed_key(events: list[Event]) -> tuple[str, str]:
    """(tonic, mode) from music21's key analysis of the notes, for tunes that declare no key."""
    from music21 import note, stream  # pylint: disable=import-outside-toplevel,redefined-outer-name

    notes = stream.Stream([note.Note(event.pitch, quarterLength=event.quarters)
                           for event in events if event.pitch is not None])
    found = notes.analyze("key")
    return tonic_name(found.tonic.name), canonical_mode(found.mode)

"""One raw tune in, one example (the features of ``preprocessing.schema``) and its dead letters out.

``process_tune`` reads the tune's melody, key, meter and title with
``preprocessing.melody.music21_reader`` (ABC and IrishMAN tunes from music21's ABC tokens, kern,
MusicXML and MIDI through a Score), transposes the encoded pitches to C major / A minor, then
computes each encoding independently (``timestep``, ``notes`` + ``rhythms``, ``abc``); the
tune's meter, mode and pickup (in 16th steps) go beside them. A failed
encoding is an empty feature plus a dead letter; the tune is kept when it has at least one note
and at least one encoding succeeded, else it gets a ``tune`` dead letter too (``no_encoding``).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable

from preprocessing import schema
from preprocessing.melody.abc_text import normalise_abc
from preprocessing.melody.events import EncodingError, Event, TuneError
from preprocessing.melody.keys import mode_family, transpose_events, transposition_semitones
from preprocessing.melody.music21_reader import Melody, abc_melody, is_binary, parse_tune, score_melody
from preprocessing.melody.timestep import STEP_QUARTERS, encode_timestep
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

IRISHMAN_ABC_KEY = "abc notation"


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
        schema.FEATURE_PICKUP: round(melody.pickup / STEP_QUARTERS),
    }
    return TuneResult(example, tuple(dead_letters))


def parse_melody(raw: RawTune, abc_text: str | None = None) -> Melody:
    """Parses ``raw`` with music21 and extracts its melody; TuneError (or music21's errors) on failure.

    ``abc_text`` is the ABC to parse for ``abc`` and ``irishman`` tunes: it goes through music21's
    ABC tokenizer only (``abc_melody``); the other formats through a music21 Score
    (``score_melody``).
    """
    source = f"tune {raw.tune_id}"
    if raw.fmt in ("abc", "irishman"):
        return abc_melody(abc_text or "", source)
    return score_melody(parse_tune(raw.content, raw.fmt, source), source)


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
    return "" if is_binary(raw.fmt, raw.content) else raw.content.decode("utf-8", errors="replace")


def _dead_letter(raw: RawTune, title: str, encoding_name: str, reason: str, detail: str, text: str) -> DeadLetter:
    return DeadLetter(raw.corpus, raw.tune_id, title, encoding_name, reason, detail, make_excerpt(text))

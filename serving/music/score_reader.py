"""Melodies out of music files and ABC text, through music21: events, declared key and meter."""
from __future__ import annotations

import os

from music21 import converter
from music21 import key as m21key
from music21 import meter as m21meter

from preprocessing.melody.events import Event
from serving.music.notation import Key, Meter, parse_key, parse_meter

_FORMATS_BY_EXTENSION = {".abc": "abc", ".mid": "midi", ".midi": "midi", ".xml": "musicxml",
                         ".musicxml": "musicxml", ".mxl": "musicxml", ".krn": "humdrum"}


def parse_abc_text(text: str):
    """ABC text -> music21 Score (the first tune); ValueError naming the text when it fails."""
    try:
        return converter.parse(text, format="abc")
    except Exception as error:  # music21 raises many kinds of errors on bad input
        raise ValueError(f"cannot parse ABC {_excerpt(text)!r}: {error}") from None


def parse_music_file(path: str):
    """An ABC / MIDI / MusicXML / kern file -> music21 Score; ValueError naming the file."""
    if not os.path.isfile(path):
        raise ValueError(f"primer file {path!r} does not exist")
    extension = os.path.splitext(path)[1].lower()
    if extension not in _FORMATS_BY_EXTENSION:
        raise ValueError(f"primer file {path!r}: unknown extension {extension!r}; "
                         f"expected one of {sorted(_FORMATS_BY_EXTENSION)}")
    try:
        return converter.parse(path, format=_FORMATS_BY_EXTENSION[extension])
    except Exception as error:  # music21 raises many kinds of errors on bad input
        raise ValueError(f"cannot parse {path!r}: {error}") from None


def melody_events(score, source: str) -> list[Event]:
    """The melody of a score: its first part's notes (a chord gives its top note) and rests,
    grace notes dropped, ties merged. ValueError naming ``source`` when it holds no note."""
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    flat = parts[0].stripTies().flatten().notesAndRests
    events: list[Event] = []
    for element in flat:
        quarters = float(element.quarterLength)
        if quarters <= 0:
            continue
        if element.isRest:
            events.append(Event(None, quarters))
        elif element.isChord:
            events.append(Event(max(p.midi for p in element.pitches), quarters))
        else:
            events.append(Event(element.pitch.midi, quarters))
    if not any(event.pitch is not None for event in events):
        raise ValueError(f"{source} holds no melody (no notes)")
    return events


def declared_key(score) -> Key:
    """The score's first key (declared, else analysed) as a Key."""
    found = next(iter(score.recurse().getElementsByClass(m21key.Key)), None)
    if found is None:
        signature = next(iter(score.recurse().getElementsByClass(m21key.KeySignature)), None)
        found = signature.asKey("major") if signature is not None else score.analyze("key")
    return parse_key(found.tonic.name.replace("-", "b") + " " + found.mode)


def declared_meter(score) -> Meter | None:
    """The score's first time signature, or None."""
    found = next(iter(score.recurse().getElementsByClass(m21meter.TimeSignature)), None)
    return None if found is None else parse_meter(found.ratioString)


def _excerpt(text: str) -> str:
    return " ".join(text.split())[:60]

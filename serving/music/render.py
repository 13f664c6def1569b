"""Generated tokens -> a melody in a requested key and meter -> MIDI, MusicXML, ABC, SVG, WAV files.

Timestep models: the symbols are decoded (primer delimiters dropped, generation cut at its first
``/``) and moved from C major / A minor onto the requested key signature by transposing the
encoded pitches. Character models: the generated ABC text is parsed by music21.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import verovio
from music21 import key as m21key
from music21 import metadata, note, pitch, stream, tempo, tie
from music21 import meter as m21meter

from preprocessing.melody import music21_reader
from preprocessing.melody.abc_text import check_abc_note_lengths
from preprocessing.melody.events import Event
from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, Key, Meter, fold_semitones, music21_tonic, transpose_events
from preprocessing.melody.timestep import DELIMITER, HOLD, decode_timestep
from serving.music import abc_writer, audio
from serving.music.notation import layout_bars

logger = logging.getLogger(__name__)

FORMATS = ("mid", "musicxml", "abc", "svg", "wav")
DEFAULT_TEMPO_BPM = 120.0
_VEROVIO_OPTIONS = {"pageWidth": 2100, "pageHeight": 60000, "adjustPageHeight": True,
                    "breaks": "auto", "scale": 40, "footer": "none"}


@dataclass(frozen=True)
class Melody:
    """A melody ready to write: ``events`` already in ``key``; ``abc_text`` is the model's own
    ABC (character models), written as-is when no transposition was asked."""

    events: tuple[Event, ...]
    key: Key
    meter: Meter
    title: str = "Folkgen melody"
    abc_text: str | None = None

    @property
    def notes(self) -> int:
        return sum(event.pitch is not None for event in self.events)

    @property
    def quarters(self) -> float:
        return sum(event.quarters for event in self.events)


def melody_from_timesteps(symbols: Sequence[str], primer_length: int, key: Key = C_MAJOR,
                          meter: Meter = COMMON_TIME, title: str = "Folkgen melody") -> Melody:
    """Primer + generated timestep symbols (in C major / A minor) -> a Melody in ``key``.

    The primer's delimiters are dropped, the generation is cut at its first ``/``, and holds with
    nothing to hold at the start are dropped. ValueError when no note is left.
    """
    primer = [symbol for symbol in symbols[:primer_length] if symbol != DELIMITER]
    generated = list(symbols[primer_length:])
    if DELIMITER in generated:
        generated = generated[: generated.index(DELIMITER)]
    melody = primer + generated
    while melody and melody[0] == HOLD:
        melody.pop(0)
    events = transpose_events(decode_timestep(melody), key.semitones_from_c())
    if not any(event.pitch is not None for event in events):
        raise ValueError(f"melody {title!r} has no notes before its first {DELIMITER!r}")
    return Melody(tuple(events), key, meter, title)


def melody_from_abc(text: str, key: Key | None = None, meter: Meter | None = None,
                    title: str = "Folkgen melody") -> Melody:
    """A character model's ABC text -> a Melody; moved onto ``key``'s signature when given."""
    text = with_unit_length(text)
    check_abc_note_lengths(text)
    score = music21_reader.parse_abc_text(text)
    events = music21_reader.melody_events(score, f"melody {title!r}")
    own_key = music21_reader.declared_key(score)
    own_meter = music21_reader.declared_meter(score) or COMMON_TIME
    if key is None or key.fifths == own_key.fifths:
        return Melody(tuple(events), own_key, meter or own_meter, title,
                      abc_text=text if meter in (None, own_meter) else None)
    semitones = fold_semitones(key.semitones_from_c() - own_key.semitones_from_c())
    return Melody(tuple(transpose_events(events, semitones)), key, meter or own_meter, title)


def with_unit_length(text: str) -> str:
    """ABC text whose header (the lines before ``K:``) has neither ``L:`` nor ``M:`` gets the
    standard's default ``L:1/8`` before its ``K:`` line (music21 cannot read its notes otherwise)."""
    lines = text.split("\n")
    key_line = next((index for index, line in enumerate(lines) if line.startswith("K:")), None)
    if key_line is None or any(line.startswith(("L:", "M:")) for line in lines[:key_line]):
        return text
    return "\n".join([*lines[:key_line], "L:1/8", *lines[key_line:]])


def to_stream(melody: Melody, tempo_bpm: float = DEFAULT_TEMPO_BPM) -> stream.Score:
    """The melody as a music21 Score: one part, measures per meter, ties across bar lines."""
    part = stream.Part()
    for number, bar in enumerate(layout_bars(list(melody.events), melody.key, melody.meter), start=1):
        measure = stream.Measure(number=number)
        if number == 1:
            measure.append(_music21_key(melody.key))
            measure.append(m21meter.TimeSignature(str(melody.meter)))
            measure.append(tempo.MetronomeMark(number=tempo_bpm))
        for piece in bar:
            if piece.pitch is None:
                measure.append(note.Rest(quarterLength=piece.quarters))
                continue
            written = note.Note(pitch.Pitch(piece.pitch.music21_name), quarterLength=piece.quarters)
            if piece.tie_start or piece.tie_stop:
                kind = "continue" if piece.tie_start and piece.tie_stop else "start" if piece.tie_start else "stop"
                written.tie = tie.Tie(kind)
            measure.append(written)
        part.append(measure)
    score = stream.Score([part])
    score.metadata = metadata.Metadata(title=melody.title)
    return score


def write_formats(melody: Melody, formats: Sequence[str], out_dir: str, stem: str,
                  tempo_bpm: float = DEFAULT_TEMPO_BPM) -> dict[str, str]:
    """Writes ``out_dir/stem.<format>`` for each format; returns ``{format: path}``."""
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format {unknown[0]!r}; expected some of {', '.join(FORMATS)}")
    os.makedirs(out_dir, exist_ok=True)
    score = to_stream(melody, tempo_bpm)
    paths = {name: os.path.join(out_dir, f"{stem}.{name}") for name in formats}
    midi_path = paths.get("mid")
    if "mid" in paths:
        score.write("midi", fp=paths["mid"])
    if "musicxml" in paths or "svg" in paths:
        musicxml_path = paths.get("musicxml", os.path.join(out_dir, f".{stem}.musicxml"))
        score.write("musicxml", fp=musicxml_path)
        if "svg" in paths:
            write_svg(musicxml_path, paths["svg"])
        if "musicxml" not in paths:
            os.remove(musicxml_path)
    if "abc" in paths:
        with open(paths["abc"], "w", encoding="utf-8") as handle:
            handle.write(melody.abc_text or abc_writer.write_abc(list(melody.events), melody.key,
                                                                 melody.meter, melody.title))
    if "wav" in paths:
        synthesiser = audio.write_wav(list(melody.events), paths["wav"], tempo_bpm, midi_path)
        logger.info("wrote %s with %s", paths["wav"], synthesiser)
    return paths


def write_svg(musicxml_path: str, svg_path: str) -> None:
    """Engraves a MusicXML file as one SVG page with verovio."""
    toolkit = verovio.toolkit()
    toolkit.setOptions(_VEROVIO_OPTIONS)
    if not toolkit.loadFile(musicxml_path):
        raise ValueError(f"verovio cannot load {musicxml_path!r}")
    with open(svg_path, "w", encoding="utf-8") as handle:
        handle.write(toolkit.renderToSVG(1))


def _music21_key(key: Key) -> m21key.KeySignature:
    if key.mode in ("major", "minor"):
        return m21key.Key(music21_tonic(key.tonic), key.mode)
    return m21key.KeySignature(key.fifths)



"""Generated tokens -> a melody in a requested key and meter -> MIDI, MusicXML, ABC, SVG, WAV, PNG files.

Timestep models: the symbols are decoded (primer delimiters dropped, generation cut at its first
``/``) and moved from C major / A minor onto the requested key signature by transposing the
encoded pitches; their bars come from the meter and the primer's pickup (a first measure that
short, an anacrusis in every format). Character models: the generated ABC text is
read by music21 (``abc_score``) and the score keeps the tune's own bars (pickup, repeats,
endings); MIDI and WAV play its repeats. Every score is dressed by ``engraving.dress``.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import verovio
from music21 import key as m21key
from music21 import meter as m21meter
from music21 import note, pitch, stream, tie

from preprocessing.melody import music21_reader
from preprocessing.melody.abc_text import check_abc_note_lengths
from preprocessing.melody.events import Event
from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, Key, Meter, fold_semitones, music21_tonic, transpose_events
from preprocessing.melody.timestep import DELIMITER, HOLD, decode_timestep
from serving.music import abc_writer, audio, engraving, piano_roll
from serving.music.abc_score import read_abc_score
from serving.music.formats import DEFAULT_FORMATS, DEFAULT_TEMPO_BPM, FORMATS  # noqa: F401 (re-exported as render.*)
from serving.music.notation import layout_bars, spell

logger = logging.getLogger(__name__)

_VEROVIO_OPTIONS = {"pageWidth": 2100, "pageHeight": 60000, "adjustPageHeight": True,
                    "breaks": "auto", "scale": 40, "footer": "none"}


@dataclass(frozen=True)
class Melody:
    """A melody ready to write: ``events`` (as written, repeats not expanded) already in ``key``.

    ``abc_text`` is a character model's own ABC, whose bars the score keeps: read by music21 and
    moved by ``abc_semitones`` onto ``key``; it is written as the ``.abc`` file as-is when not
    moved. ``creator`` fills the scores' composer line (the model and seed); ``novelty`` (when
    given) is written as the ABC's ``N:`` line and the MusicXML's ``novelty`` field; ``pickup``:
    the quarters a laid-out melody sounds before its first downbeat (its first measure, 0: none).
    """

    events: tuple[Event, ...]
    key: Key
    meter: Meter
    title: str = "Folkgen melody"
    abc_text: str | None = None
    abc_semitones: int = 0
    creator: str = "Folkgen"
    novelty: str = ""
    pickup: Fraction = Fraction(0)

    @property
    def notes(self) -> int:
        return sum(event.pitch is not None for event in self.events)

    @property
    def quarters(self) -> float:
        return sum(event.quarters for event in self.events)

    @property
    def pickup_steps(self) -> int:
        """The pickup in 16th-note steps."""
        return int(self.pickup * 4)


def starts_with_pickup(melody: Melody) -> bool:
    """Whether the score's first measure is a pickup: a laid-out melody's ``pickup``, or a character
    model's ABC whose first bar is short (music21 reads it as the pickup measure, number 0)."""
    if melody.abc_text is None:
        return melody.pickup > 0
    first = read_abc_score(melody.abc_text).parts[0].getElementsByClass(stream.Measure).first()
    return first is not None and first.number == 0


def steps_to_quarters(steps: int) -> Fraction:
    """``steps`` 16th-note steps in quarters, exactly: a timestep pickup as ``Melody.pickup`` holds it
    (``keys.pickup_quarters``, by contrast, measures a pickup from a read first bar)."""
    return Fraction(steps, 4)


def melody_from_timesteps(symbols: Sequence[str], primer_length: int, key: Key = C_MAJOR,
                          meter: Meter = COMMON_TIME, title: str = "Folkgen melody") -> Melody:
    """Primer + generated timestep symbols (in C major / A minor) -> a Melody in ``key``.

    The primer's delimiters are dropped, the generation is cut at its first ``/``, holds with
    nothing to hold at the start are dropped and consecutive rests are one. ValueError when no
    note is left.
    """
    primer, generated = timestep_tune(symbols, primer_length)
    melody = primer + generated
    while melody and melody[0] == HOLD:
        melody.pop(0)
    events = transpose_events(_merge_rests(decode_timestep(melody)), key.semitones_from_c())
    if not any(event.pitch is not None for event in events):
        raise ValueError(f"melody {title!r} has no notes before its first {DELIMITER!r}")
    return Melody(tuple(events), key, meter, title)


def timestep_tune(symbols: Sequence[str], primer_length: int) -> tuple[list[str], list[str]]:
    """(the primer's symbols without delimiters, the generated ones up to the first ``/``)."""
    primer = [symbol for symbol in symbols[:primer_length] if symbol != DELIMITER]
    generated = list(symbols[primer_length:])
    return primer, generated[:generated.index(DELIMITER)] if DELIMITER in generated else generated


def _merge_rests(events: list[Event]) -> list[Event]:
    """Consecutive rests (the model may strike ``r`` several times in a row) as one rest."""
    merged: list[Event] = []
    for event in events:
        if event.pitch is None and merged and merged[-1].pitch is None:
            merged[-1] = Event(None, merged[-1].quarters + event.quarters)
        else:
            merged.append(event)
    return merged


def melody_from_abc(text: str, key: Key | None = None, meter: Meter | None = None,
                    title: str = "Folkgen melody") -> Melody:
    """A character model's ABC text -> a Melody titled by the tune's ``T:`` (else ``title``);
    moved onto ``key``'s signature when given. A ``meter`` other than the tune's re-bars it
    from the first note (the tune's bars are then lost)."""
    text = with_unit_length(text)
    check_abc_note_lengths(text)
    score = read_abc_score(text)
    events = music21_reader.melody_events(score, f"melody {title!r}")
    own_key = music21_reader.declared_key(score)
    own_meter = music21_reader.declared_meter(score) or COMMON_TIME
    title = ((score.metadata.title if score.metadata is not None else "") or "").strip() or title
    semitones = 0 if key is None or key.fifths == own_key.fifths else fold_semitones(
        key.semitones_from_c() - own_key.semitones_from_c())
    own_text = text if meter in (None, own_meter) else None
    return Melody(tuple(transpose_events(events, semitones)), own_key if key is None else key, meter or own_meter,
                  title, abc_text=own_text, abc_semitones=semitones)


def with_unit_length(text: str) -> str:
    """ABC text whose header (the lines before ``K:``) has neither ``L:`` nor ``M:`` gets the
    standard's default ``L:1/8`` before its ``K:`` line (music21 cannot read its notes otherwise)."""
    lines = text.split("\n")
    key_line = next((index for index, line in enumerate(lines) if line.startswith("K:")), None)
    if key_line is None or any(line.startswith(("L:", "M:")) for line in lines[:key_line]):
        return text
    return "\n".join([*lines[:key_line], "L:1/8", *lines[key_line:]])


def to_stream(melody: Melody, tempo_bpm: float = DEFAULT_TEMPO_BPM) -> stream.Score:
    """The melody as a dressed music21 Score of one part: the ABC's own measures, or measures
    per meter with ties across bar lines."""
    score = _abc_stream(melody) if melody.abc_text is not None else _laid_out_stream(melody)
    engraving.dress(score, melody.title, melody.creator, tempo_bpm, melody.novelty)
    return score


def _abc_stream(melody: Melody) -> stream.Score:
    """The ABC text's score, moved by ``abc_semitones`` and respelled in ``melody.key``."""
    score = read_abc_score(melody.abc_text or "")
    if not melody.abc_semitones:
        return score
    for element in score.recurse().notes:
        if "Harmony" in element.classes:  # a chord symbol moves with its root's spelling
            element.transpose(melody.abc_semitones, inPlace=True)
            continue
        for written in element.pitches:
            written.nameWithOctave = spell(int(written.midi) + melody.abc_semitones, melody.key).music21_name
    for old in list(score.recurse().getElementsByClass(m21key.KeySignature)):
        old.activeSite.replace(old, _music21_key(melody.key))
    return score


def _laid_out_stream(melody: Melody) -> stream.Score:
    part = stream.Part()
    first = 0 if melody.pickup else 1  # an anacrusis is measure 0, short by its padding
    for number, bar in enumerate(layout_bars(list(melody.events), melody.key, melody.meter, melody.pickup), first):
        measure = stream.Measure(number=number)
        if number == first:
            measure.append(_music21_key(melody.key))
            measure.append(m21meter.TimeSignature(str(melody.meter)))
            if melody.pickup:
                measure.paddingLeft = float(melody.meter.bar_quarters - melody.pickup)
                measure.showNumber = stream.enums.ShowNumber.NEVER  # MusicXML's implicit="yes"
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
    return stream.Score([part])


def write_formats(melody: Melody, formats: Sequence[str], out_dir: str, stem: str,
                  tempo_bpm: float = DEFAULT_TEMPO_BPM) -> dict[str, str]:
    """Writes ``out_dir/stem.<format>`` for each format; returns ``{format: path}``.

    MusicXML and SVG show the score as written; MIDI and WAV play it with its repeats expanded,
    and the PNG piano roll draws what they play.
    """
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format {unknown[0]!r}; expected some of {', '.join(FORMATS)}")
    os.makedirs(out_dir, exist_ok=True)
    paths = {name: os.path.join(out_dir, f"{stem}.{name}") for name in formats}
    if "abc" in paths:
        _write_abc(melody, paths["abc"])
    if set(paths) - {"abc"}:  # every other format is read from the music21 score: built only for them
        score = to_stream(melody, tempo_bpm)
        if "musicxml" in paths or "svg" in paths:
            musicxml_path = paths.get("musicxml", os.path.join(out_dir, f".{stem}.musicxml"))
            score.write("musicxml", fp=musicxml_path)
            if "svg" in paths:
                write_svg(musicxml_path, paths["svg"])
            if "musicxml" not in paths:
                os.remove(musicxml_path)
        if "mid" in paths or "wav" in paths or "png" in paths:
            _write_played(engraving.played(score), paths, out_dir, stem, tempo_bpm)
    return paths


def _write_abc(melody: Melody, path: str) -> None:
    """The ABC file: a character model's own text when not moved, else the events written as ABC;
    the novelty as its ``N:`` line."""
    text = (melody.abc_text if melody.abc_text is not None and not melody.abc_semitones
            else abc_writer.write_abc(list(melody.events), melody.key, melody.meter, melody.title, pickup=melody.pickup))
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(abc_writer.with_note_line(text, melody.novelty) if melody.novelty else text)


def _write_played(score: stream.Score, paths: dict[str, str], out_dir: str, stem: str, tempo_bpm: float) -> None:
    """MIDI, WAV and piano roll of the played (repeats expanded) score; the WAV's synthesiser is logged."""
    if "png" in paths:
        piano_roll.write_piano_roll(score, paths["png"], stem)
    if "mid" not in paths and "wav" not in paths:
        return
    midi_path = paths.get("mid", os.path.join(out_dir, f".{stem}.mid"))
    score.write("midi", fp=midi_path)
    if "wav" in paths:
        events = music21_reader.melody_events(score, f"melody {stem!r}")
        synthesiser = audio.write_wav(events, paths["wav"], tempo_bpm, midi_path)
        logger.info("wrote %s with %s", paths["wav"], synthesiser)
    if "mid" not in paths:
        os.remove(midi_path)


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

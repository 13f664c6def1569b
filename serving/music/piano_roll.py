"""A piano roll of a melody as PNG: each note a bar at its pitch and time, the written bar lines drawn.

Drawn with matplotlib's object API (a ``Figure`` on the Agg canvas, no global pyplot state), from
the played score (repeats expanded, as the MIDI plays it), so its bar lines are the score's own:
a pickup is a short first bar.
"""
from __future__ import annotations

from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from music21 import pitch as m21_pitch
from music21 import stream

INCHES_PER_QUARTER = 0.25
MIN_WIDTH, MAX_WIDTH, HEIGHT = 6.0, 40.0, 3.5
DPI = 100
NOTE_COLOUR = "#1f5f99"


def write_piano_roll(played: stream.Score, path: str, title: str) -> None:
    """``played``'s first part as a piano roll PNG at ``path``; ValueError when it holds no note."""
    part = played.parts[0] if played.parts else played
    notes = [(float(element.offset), float(element.quarterLength), max(p.midi for p in element.pitches))
             for element in part.flatten().notes if not element.duration.isGrace]  # a chord: its top note
    if not notes:
        raise ValueError(f"melody {title!r} has no notes to draw")
    end = max(onset + length for onset, length, _ in notes)
    figure = Figure(figsize=(min(MAX_WIDTH, max(MIN_WIDTH, end * INCHES_PER_QUARTER)), HEIGHT), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for onset, length, midi in notes:
        axes.broken_barh([(onset, length)], (midi - 0.4, 0.8), facecolors=NOTE_COLOUR, edgecolors="white",
                         linewidth=0.8)  # repeated notes stay apart
    for offset in _bar_offsets(part):
        axes.axvline(offset, color="#999999", linewidth=0.6)
    pitches = sorted({midi for _, _, midi in notes})
    axes.set_yticks(pitches, [_name(midi) for midi in pitches], fontsize=7)
    axes.set_xlim(0, end)
    axes.set_ylim(pitches[0] - 1, pitches[-1] + 1)
    axes.set_xlabel("quarter notes")
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, format="png")


def _bar_offsets(part: stream.Stream) -> Sequence[float]:
    """Where each written bar begins (the first bar's start excluded)."""
    measures = list(part.getElementsByClass(stream.Measure))
    return [float(measure.offset) for measure in measures[1:]]


def _name(midi: int) -> str:
    return m21_pitch.Pitch(midi=midi).nameWithOctave.replace("-", "b")

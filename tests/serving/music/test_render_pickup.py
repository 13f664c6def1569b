"""A laid-out melody with a pickup: an anacrusis in MusicXML, ABC and MIDI, read back by music21,
verovio and mido; a note crossing the first bar line is tied there."""
from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import mido
import pytest
import verovio
from music21 import converter, stream

from preprocessing.melody.keys import parse_key, parse_meter
from serving.music import render
from serving.music.notation import layout_bars

pytestmark = pytest.mark.unit

# 6/8 with a 3-sixteenth upbeat: 67 (2 steps) and 69 (3 steps, crossing the first bar line), then a
# bar of 72 and a bar of 60.
TOKENS = "/ 67 _ 69 _ _ 72 _ _ _ _ _ _ _ _ _ 60 _ _ _ _ _ _ _ _ _ _ _ _ /".split()


def written(tmp_path):
    melody = replace(render.melody_from_timesteps(TOKENS, 1, parse_key("C"), parse_meter("6/8")),
                     pickup=render.steps_to_quarters(3))
    return render.write_formats(melody, ("musicxml", "abc", "mid"), str(tmp_path), "upbeat")


def test_the_first_measure_is_the_pickup_and_the_note_over_its_bar_line_is_tied(tmp_path):
    paths = written(tmp_path)
    for kind in ("musicxml", "abc"):
        measures = converter.parse(paths[kind]).parts[0].getElementsByClass(stream.Measure)
        assert [Fraction(m.duration.quarterLength) for m in measures][:2] == [Fraction(3, 4), Fraction(3)]
        first = [(n.pitch.midi, Fraction(n.quarterLength)) for n in measures[0].notes]
        assert first == [(67, Fraction(1, 2)), (69, Fraction(1, 4))]
        assert measures[0].notes[-1].tie.type == "start" and measures[1].notes[0].tie.type == "stop"
    assert '<measure implicit="yes" number="0">' in open(paths["musicxml"], encoding="utf-8").read()
    toolkit = verovio.toolkit()
    assert toolkit.loadFile(paths["musicxml"])
    starts = [e["qstamp"] for e in toolkit.renderToTimemap({"includeMeasures": True}) if "measureOn" in e]
    assert starts[:3] == [0, 0.75, 3.75]
    played, ticks, onsets = mido.MidiFile(paths["mid"]), 0, []
    for message in mido.merge_tracks(played.tracks):
        ticks += message.time
        if message.type == "note_on" and message.velocity:
            onsets.append((message.note, ticks / played.ticks_per_beat))
    assert onsets == [(67, 0.0), (69, 0.5), (72, 1.25), (60, 3.75)]


def test_a_pickup_of_a_bar_or_more_is_refused():
    with pytest.raises(ValueError, match=r"a pickup of 3 quarters does not fit in a bar of 3/4"):
        layout_bars([], parse_key("C"), parse_meter("3/4"), Fraction(3))

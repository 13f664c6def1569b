"""Every format written for a known token sequence, read back with other tools."""
from __future__ import annotations

import os
import re
import wave
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from music21 import converter

from preprocessing.melody.events import Event
from preprocessing.melody.keys import parse_key, parse_meter
from serving.music import abc_writer, audio, render
from serving.music.notation import layout_bars
from tests.helpers.midi_events import midi_events as _mido_events
from tests.helpers.score_notes import merged_notes

# Primer "/ 60 _ _ _" then generated symbols; the generation ends at its first "/".
TOKENS = ("/ 60 _ _ _ 62 _ 64 _ _ _ _ _ r _ 71 _ _ _ _ _ _ _ _ 61 _ 66 _ "
          "69 _ _ _ 72 _ _ _ _ _ _ _ _ _ / 60 _ 62").split()
PRIMER_LENGTH = 5
# The same melody as events in C: (MIDI pitch or None, quarter notes); the last note is 2.5 quarters.
EVENTS_IN_C = [(60, 1.0), (62, 0.5), (64, 1.5), (None, 0.5), (71, 2.25), (61, 0.5), (66, 0.5),
               (69, 1.0), (72, 2.5)]


def _expected(semitones: int) -> list[tuple[int | None, float]]:
    return [(None if p is None else p + semitones, q) for p, q in EVENTS_IN_C]


@pytest.fixture(scope="module", params=[("C", "4/4", 0), ("G", "3/4", -5), ("Bb", "6/8", -2), ("Em", "3/4", -5)])
def written(request, tmp_path_factory):
    key_name, meter_name, semitones = request.param
    melody = render.melody_from_timesteps(TOKENS, PRIMER_LENGTH, parse_key(key_name), parse_meter(meter_name))
    out = tmp_path_factory.mktemp(f"render_{key_name}")
    return melody, render.write_formats(melody, render.FORMATS, str(out), "melody"), _expected(semitones)


def test_decoded_melody_is_the_tokens_transposed(written):
    melody, _, expected = written
    assert [(e.pitch, e.quarters) for e in melody.events] == expected
    assert melody.notes == 8 and melody.quarters == pytest.approx(10.25)


def test_midi_reads_back_with_mido_and_music21(written):
    _, paths, expected = written
    assert _mido_events(paths["mid"]) == expected
    assert merged_notes(converter.parse(paths["mid"])) == expected


def test_musicxml_reads_back_with_music21(written):
    melody, paths, expected = written
    score = converter.parse(paths["musicxml"])
    assert merged_notes(score) == expected
    assert score.recurse().getElementsByClass("TimeSignature")[0].ratioString == str(melody.meter)
    assert score.recurse().getElementsByClass("KeySignature")[0].sharps == melody.key.fifths
    assert [clef.sign + str(clef.line) for clef in score.recurse().getElementsByClass("Clef")] == ["G2"]
    assert score.parts[0].partName == "Piano" and score.metadata.composer == "Folkgen"


def test_abc_reads_back_with_music21(written):
    melody, paths, expected = written
    text = open(paths["abc"], encoding="utf-8").read()
    assert re.search(rf"^M:{melody.meter}$", text, re.M) and re.search(rf"^K:{melody.key.name}$", text, re.M)
    score = converter.parse(text, format="abc")
    assert merged_notes(score) == expected


def test_svg_shows_every_written_note(written):
    melody, paths, _ = written
    svg = open(paths["svg"], encoding="utf-8").read()
    assert svg.lstrip().startswith("<svg")
    written_notes = sum(piece.pitch is not None for bar in layout_bars(list(melody.events), melody.key, melody.meter)
                        for piece in bar)
    assert svg.count('class="note"') == written_notes >= melody.notes


def test_wav_lasts_the_melody_and_sounds_its_first_pitch(written):
    melody, paths, expected = written
    with wave.open(paths["wav"]) as handle:
        rate, frames = handle.getframerate(), handle.getnframes()
    channels, samples = audio.read_wav(paths["wav"])
    seconds = melody.quarters * 60 / render.DEFAULT_TEMPO_BPM
    assert seconds - 0.01 <= frames / rate <= seconds + 3.0  # FluidSynth lets the last note ring
    first = samples[::channels][: int(0.4 * rate)]  # the first note lasts a quarter (0.5 s)
    spectrum = np.abs(np.fft.rfft(first * np.hanning(first.size)))
    peak_hz = np.argmax(spectrum) * rate / first.size
    assert peak_hz == pytest.approx(440 * 2 ** ((expected[0][0] - 69) / 12), rel=0.03)
    assert 20 * np.log10(np.abs(samples).max()) == pytest.approx(audio.PEAK_DBFS, abs=0.05)


def test_abc_accidentals_hold_to_the_bar_end_and_ties_cross_bar_lines():
    events = [Event(66, 0.5), Event(65, 0.5), Event(77, 0.5), Event(66, 2.5)]
    text = abc_writer.abc_body(events, parse_key("G"), parse_meter("3/4"))
    assert text == "F =F =f ^F3- | F2 |]"
    score = converter.parse("X:1\nM:3/4\nL:1/8\nK:G\n" + text + "\n", format="abc")
    assert merged_notes(score) == [(e.pitch, e.quarters) for e in events]


def test_abc_octaves_and_lengths():
    events = [Event(48, 0.25), Event(84, 0.75), Event(None, 0.25), Event(59, 3.0), Event(85, 0.25)]
    assert abc_writer.abc_body(events, parse_key("C"), parse_meter("4/4")) == "C,/2 c'3/2 z/2 B,4- B,3/2- | B,/2 ^c'/2 |]"


def test_unknown_format_is_named(tmp_path):
    melody = render.melody_from_timesteps(["60", "_"], 0)
    with pytest.raises(ValueError, match="'pdf'"):
        render.write_formats(melody, ["mid", "pdf"], str(tmp_path), "x")


def test_generation_without_notes_is_an_error():
    with pytest.raises(ValueError, match="no notes"):
        render.melody_from_timesteps(["/", "/", "r", "_", "/"], 2)


def test_character_model_abc_keeps_its_text_and_transposes_on_request():
    text = "X:1\nL:1/8\nM:6/8\nK:D\nd2 f a2 f | g3 f3 |\n"
    own = render.melody_from_abc(text)
    assert own.abc_text == text and own.abc_semitones == 0 and own.key.name == "D" and str(own.meter) == "6/8"
    assert [e.pitch for e in own.events] == [74, 78, 81, 78, 79, 78]
    moved = render.melody_from_abc(text, key=parse_key("G"))
    assert moved.abc_semitones == 5 and [e.pitch for e in moved.events] == [79, 83, 86, 83, 84, 83]
    score = render.to_stream(moved)
    assert [n.nameWithOctave for n in score.flatten().notes] == ["G5", "B5", "D6", "B5", "C6", "B5"]
    assert score.recurse().getElementsByClass("KeySignature")[0].sharps == 1


def test_numpy_synthesiser_is_silent_on_rests():
    samples = audio.synthesise([Event(None, 1.0), Event(69, 1.0)], tempo_bpm=60, sample_rate=8000)
    assert samples.shape == (16000,) and np.all(samples[:8000] == 0) and np.abs(samples[8000:]).max() > 0.5


def test_rests_struck_in_a_row_are_one_rest(tmp_path):
    symbols = ["/", "60", "_", "_", "_", "r", "_", "r", "_", "_", "_", "r", "_", "_", "_", "_", "_", "_", "_",
               "r", "_", "_", "_", "62", "_", "_", "_"]  # C, four rests struck in a row (4.5 quarters), D
    melody = render.melody_from_timesteps(symbols, 1)
    assert [(event.pitch, event.quarters) for event in melody.events] == [(60, 1.0), (None, 4.5), (62, 1.0)]
    paths = render.write_formats(melody, ("abc",), str(tmp_path), "rests")
    body = open(paths["abc"], encoding="utf-8").read().split("K:C\n", 1)[1]
    assert body.split() == ["C2", "z6", "|", "z3", "D2", "|]"]  # one rest per bar, as music21 reads it back
    rests = [float(n.quarterLength) for n in converter.parse(paths["abc"], format="abc").flatten().notesAndRests
             if n.isRest]
    assert rests == [3.0, 1.5]


@pytest.mark.parametrize("melody", [
    replace(render.melody_from_timesteps(TOKENS, PRIMER_LENGTH, parse_key("Bb"), parse_meter("6/8")),
            pickup=Fraction(1, 2), novelty="no run of 8 notes found"),
    render.melody_from_abc("X:1\nT:Jig\nL:1/8\nM:6/8\nK:D\nA|d2 f a2 f|g3 f2:|\n"),
    replace(render.melody_from_abc("X:1\nL:1/8\nM:6/8\nK:D\nA|d2 f a2 f|g3 f2:|\n", key=parse_key("G")), novelty="n"),
], ids=["timestep", "abc", "abc moved"])
def test_abc_alone_is_the_abc_written_beside_every_format(melody, tmp_path):
    alone = render.write_formats(melody, ["abc"], str(tmp_path / "alone"), "tune")
    every = render.write_formats(melody, render.FORMATS, str(tmp_path / "every"), "tune")
    assert list(alone) == ["abc"] and sorted(os.listdir(tmp_path / "alone")) == ["tune.abc"]
    assert open(alone["abc"], encoding="utf-8").read() == open(every["abc"], encoding="utf-8").read()

"""ABC tunes with pickups, repeats and endings written to every format and read back by other
tools: the MusicXML's XML itself, music21, mido, verovio's SVG and (where installed) abc2midi."""
from __future__ import annotations

import copy
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace

import pytest
from music21 import converter, note, stream
from PIL import Image

from preprocessing.melody.keys import parse_key
from serving.music import piano_roll, render
from tests.helpers.midi_events import midi_events
from tests.helpers.score_notes import merged_notes

CREATOR = "Folkgen model abc_irish, seed 7"


@dataclass(frozen=True)
class Tune:
    """An ABC tune and what its score must hold: measure indexes count from 0 (the pickup)."""

    text: str
    measures: int
    pickup_quarters: float | None
    repeats: tuple[tuple[int, str], ...]  # (measure, direction)
    endings: tuple[tuple[str, str, int], ...]  # (number, start | stop, measure)
    fifths: int
    octave_change: int  # the clef's: -1 for treble-8vb
    play_order: tuple[int, ...]  # measures as abc2midi plays them
    notes: int  # ties merged, as written
    played_notes: int  # ties merged, repeats expanded


JIG = Tune("X:1\nT:Test Jig\nM:6/8\nL:1/8\nK:D\n"
           "D|:EDD EFD|A2B AFD|1 EDD EFA|d3 d2:|2 EDD EFA|d3 d2||\n"
           "|:f|g2e f2d|e3 e2f|[1 g2e fed|d3 d2:|[2 gfe fed|d3 d2|]\n",
           measures=14, pickup_quarters=0.5, repeats=((1, "forward"), (4, "backward"), (7, "forward"), (11, "backward")),
           endings=(("1", "start", 3), ("1", "stop", 4), ("2", "start", 5), ("2", "stop", 6),
                    ("1", "start", 10), ("1", "stop", 11), ("2", "start", 12), ("2", "stop", 13)),
           fifths=2, octave_change=0, play_order=(0, 1, 2, 3, 4, 1, 2, 5, 6, 7, 8, 9, 10, 11, 7, 8, 9, 12, 13),
           notes=51, played_notes=70)
REEL = Tune("X:1\nT:Pickup Reel\nM:4/4\nL:1/8\nK:G\nGA|:B2 dB c2 ec|B2 dB A2 GA|B2 dB c2 ec|1 BAGF G2 GA:|2 BAGF G4||\n",
            measures=6, pickup_quarters=1.0, repeats=((1, "forward"), (4, "backward")),
            endings=(("1", "start", 4), ("1", "stop", 4), ("2", "start", 5), ("2", "stop", 5)),
            fifths=1, octave_change=0, play_order=(0, 1, 2, 3, 4, 1, 2, 3, 5), notes=32, played_notes=50)
LOW = Tune("X:1\nT:Low Waltz\nM:3/4\nL:1/8\nK:Edor\n|:E,2 G,2 B,2|B,3- B,2 A,|c3 B2 A|G,4 E,2:|\n",
           measures=4, pickup_quarters=None, repeats=((0, "forward"), (3, "backward")), endings=(),
           fifths=2, octave_change=-1, play_order=(0, 1, 2, 3, 0, 1, 2, 3), notes=10, played_notes=20)
TUNES = {"jig": JIG, "reel": REEL, "low": LOW}


@pytest.fixture(scope="module", params=sorted(TUNES))
def written(request, tmp_path_factory):
    tune = TUNES[request.param]
    melody = replace(render.melody_from_abc(tune.text, title="fallback title"), creator=CREATOR)
    paths = render.write_formats(melody, render.FORMATS, str(tmp_path_factory.mktemp(request.param)), "tune")
    return tune, paths, ET.parse(paths["musicxml"]).getroot()


def _measures(root: ET.Element) -> list[ET.Element]:
    return root.findall("part/measure")


def test_musicxml_measures_pickup_repeats_and_endings_are_the_abc_s(written):
    tune, _, root = written
    measures = _measures(root)
    assert len(measures) == tune.measures
    divisions = int(root.find("part/measure/attributes/divisions").text)
    first = sum(int(note.find("duration").text) for note in measures[0].findall("note")) / divisions
    if tune.pickup_quarters is None:
        assert measures[0].get("implicit") == "no" and measures[0].get("number") == "1"
    else:
        assert measures[0].get("implicit") == "yes" and measures[0].get("number") == "0"
        assert first == tune.pickup_quarters
    assert tuple((index, repeat.get("direction")) for index, measure in enumerate(measures)
                 for repeat in measure.iter("repeat")) == tune.repeats
    assert tuple((ending.get("number"), ending.get("type"), index) for index, measure in enumerate(measures)
                 for ending in measure.iter("ending")) == tune.endings


def test_musicxml_has_clef_key_instrument_title_and_creator(written):
    tune, _, root = written
    clefs = root.findall(".//clef")
    assert [(c.findtext("sign"), c.findtext("line"), int(c.findtext("clef-octave-change") or 0)) for c in clefs] == [
        ("G", "2", tune.octave_change)]
    assert [int(fifths.text) for fifths in root.iter("fifths")] == [tune.fifths]
    assert root.findtext("part-list/score-part/part-name") == "Piano"
    assert root.findtext("part-list/score-part/score-instrument/instrument-name") == "Piano"
    assert root.findtext("work/work-title") == tune.text.split("T:")[1].split("\n")[0]
    assert [c.text for c in root.iter("creator")] == [CREATOR]


def test_abc_and_musicxml_hold_the_same_notes(written):
    tune, paths, _ = written
    with open(paths["abc"], encoding="utf-8") as handle:
        assert handle.read() == tune.text
    from_abc = merged_notes(converter.parse(tune.text, format="abc"))
    from_musicxml = merged_notes(converter.parse(paths["musicxml"]))
    assert from_musicxml == from_abc and len(from_abc) == tune.notes


def test_midi_plays_the_repeats_in_abc2midi_s_order(written):
    tune, paths, _ = written
    measures = list(converter.parse(paths["musicxml"]).parts[0].getElementsByClass(stream.Measure))
    played = stream.Stream()
    for index in tune.play_order:
        for element in measures[index].notesAndRests:
            played.append(copy.deepcopy(element))
    expected = merged_notes(played)
    assert midi_events(paths["mid"]) == expected and len(expected) == tune.played_notes


@pytest.mark.skipif(shutil.which("abc2midi") is None, reason="abc2midi is not installed")
def test_midi_plays_what_abc2midi_plays(written, tmp_path):
    _, paths, _ = written
    reference = tmp_path / "abc2midi.mid"
    subprocess.run(["abc2midi", paths["abc"], "-o", str(reference)], check=True, capture_output=True, timeout=60)
    assert _onsets(str(reference)) == _onsets(paths["mid"])


def _onsets(path: str) -> list[tuple[int, int]]:
    """(pitch, onset in 48ths of a quarter) of each note: abc2midi shortens notes by a tick or two."""
    now, onsets = 0.0, []
    for pitch, quarters in midi_events(path):
        if pitch is not None:
            onsets.append((pitch, round(now * 48)))
        now += quarters
    return onsets


def test_svg_holds_a_clef_per_system_every_note_and_the_endings(written):
    tune, paths, root = written
    svg = open(paths["svg"], encoding="utf-8").read()
    assert svg.count('class="clef"') == svg.count('class="system"') >= 1
    assert svg.count('class="note"') == len(root.findall("part/measure/note/pitch"))
    assert svg.count('class="voltaBracket"') == sum(kind == "start" for _, kind, _ in tune.endings)


def test_png_piano_roll_draws_the_played_tune(written):
    tune, paths, _ = written
    played = sum(quarters for _, quarters in midi_events(paths["mid"]))
    with Image.open(paths["png"]) as image:  # read back by Pillow
        assert image.format == "PNG"
        width, height = image.size
        pixels = image.convert("RGB").getdata()
        assert (0x1F, 0x5F, 0x99) in set(pixels)  # the notes' colour
    expected = min(piano_roll.MAX_WIDTH, max(piano_roll.MIN_WIDTH, played * piano_roll.INCHES_PER_QUARTER))
    assert abs(width - expected * piano_roll.DPI) <= 1 and height == round(piano_roll.HEIGHT * piano_roll.DPI)


def test_a_piano_roll_without_notes_is_refused(tmp_path):
    rests = stream.Score([stream.Part([stream.Measure([note.Rest(quarterLength=4)])])])
    with pytest.raises(ValueError, match="'empty' has no notes"):
        piano_roll.write_piano_roll(rests, str(tmp_path / "empty.png"), "empty")


def test_ties_join_equal_pitches_only_and_the_fermata_keeps_its_note(tmp_path):
    text = "X:1\nM:4/4\nL:1/8\nK:G\nB3- A2 c3|Hd2 e2 B2- B2|]\n"
    melody = render.melody_from_abc(text)
    expected = [(71, 1.5), (69, 1.0), (72, 1.5), (74, 1.0), (76, 1.0), (71, 2.0)]
    assert [(event.pitch, event.quarters) for event in melody.events] == expected
    paths = render.write_formats(melody, ["mid", "musicxml"], str(tmp_path), "ties")
    assert midi_events(paths["mid"]) == expected
    root = ET.parse(paths["musicxml"]).getroot()
    assert [(tied.get("type")) for tied in root.iter("tied")] == ["start", "stop"]
    assert merged_notes(converter.parse(paths["musicxml"])) == expected


def test_title_is_the_given_one_without_a_t_field():
    melody = render.melody_from_abc("X:1\nM:3/4\nL:1/8\nK:D\nd2 f2 a2|\n", title="abc_irish_seed3")
    assert melody.title == "abc_irish_seed3"
    assert render.to_stream(melody).metadata.title == "abc_irish_seed3"


def test_a_transposed_tune_keeps_its_bars(tmp_path):
    melody = render.melody_from_abc(REEL.text, key=parse_key("A"))
    root = ET.parse(render.write_formats(melody, ["musicxml"], str(tmp_path), "moved")["musicxml"]).getroot()
    measures = _measures(root)
    assert len(measures) == REEL.measures and measures[0].get("implicit") == "yes"
    assert [int(fifths.text) for fifths in root.iter("fifths")] == [3]
    assert tuple((index, repeat.get("direction")) for index, measure in enumerate(measures)
                 for repeat in measure.iter("repeat")) == REEL.repeats
    pitches = [note.findtext("pitch/step") + (note.findtext("pitch/alter") or "") for note in measures[0].findall("note")]
    assert pitches == ["A", "B"]


def test_an_overfull_bar_and_an_unclosed_repeat_still_write_and_play_as_written(tmp_path):
    text = "X:1\nM:6/8\nL:1/8\nK:D\nd2 e f2 ga|d3 d3|:A3 B3|A6||\n"  # bar 1 holds 7 eighths; |: never closed
    melody = render.melody_from_abc(text)
    paths = render.write_formats(melody, ["mid", "musicxml", "wav"], str(tmp_path), "rough")
    assert midi_events(paths["mid"]) == [(event.pitch, event.quarters) for event in melody.events]
    assert len(melody.events) == 10


def test_a_second_end_repeat_goes_back_to_the_first_one_as_in_abc2midi(tmp_path):
    melody = render.melody_from_abc("X:1\nM:2/4\nL:1/8\nK:G\nG2 B2|d2 B2:|c2 e2|d4:|\n")
    paths = render.write_formats(melody, ["mid", "musicxml"], str(tmp_path), "strains")
    assert [pitch for pitch, _ in midi_events(paths["mid"])] == [67, 71, 74, 71] * 2 + [72, 76, 74] * 2
    measures = _measures(ET.parse(paths["musicxml"]).getroot())
    assert tuple((index, repeat.get("direction")) for index, measure in enumerate(measures)
                 for repeat in measure.iter("repeat")) == ((1, "backward"), (2, "forward"), (3, "backward"))

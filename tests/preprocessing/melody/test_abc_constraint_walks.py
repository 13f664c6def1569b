"""Random walks through the ABC state machine, each tune checked by music21, not by the machine."""
from __future__ import annotations

import random
import string
from fractions import Fraction

import music21
import pytest

from preprocessing.melody.abc_constraints import AbcConstraint
from preprocessing.melody.keys import parse_key, tonic_pitch_class

# A character model's kind of vocabulary: letters, digits, ABC punctuation, space and newline.
VOCABULARY = list(string.ascii_letters + string.digits + " |:[]{}()/,'^_=-<>~.\"!%\n")
NOTE_CHARS = set("abcdefgABCDEFG")
MAX_CHARS = 4000
REQUESTS = [
    dict(meter="4/4", unit="1/8", key="D", bars=8, form=None, end_on_tonic=True),
    dict(meter="6/8", unit="1/8", key="Em", bars=None, form="AABB", end_on_tonic=True),
    dict(meter="3/4", unit="1/8", key="Gmix", bars=6, form=None, end_on_tonic=True),
    dict(meter="2/4", unit="1/16", key="Ador", bars=4, form=None, end_on_tonic=False),
    dict(meter="9/8", unit="1/8", key="Bb", bars=None, form="AAB", end_on_tonic=True),
    dict(meter="4/4", unit="1/4", key="F#m", bars=8, form=None, end_on_tonic=True),
    dict(meter="6/8", unit="1/8", key="G", bars=None, form="ABC", end_on_tonic=False),
]
SEEDS = range(15)


def random_walk(machine: AbcConstraint, seed: int) -> str:
    """Uniform among the allowed characters, half the time among the allowed note letters; asserts
    that something is allowed at every step before the end."""
    rng = random.Random(seed)
    state, written = machine.start(), []
    while not machine.is_complete(state):
        assert len(written) < MAX_CHARS, f"no end after {MAX_CHARS} characters: {''.join(written)}"
        choices = [char for char, ok in zip(VOCABULARY, machine.allowed(state, VOCABULARY)) if ok]
        assert choices, f"dead end after {''.join(written)!r}"
        notes = [char for char in choices if char in NOTE_CHARS]
        char = rng.choice(notes if notes and rng.random() < 0.5 else choices)
        state = machine.advance(state, char)
        written.append(char)
    assert machine.allowed(state, VOCABULARY) == [False] * len(VOCABULARY)
    return "".join(written)


def _sounding(measure: music21.stream.Measure) -> list[music21.note.GeneralNote]:
    return [n for n in measure.notesAndRests if n.duration.quarterLength > 0]


def check_with_music21(request: dict, body: str) -> None:
    """The tune as music21 reads it: bar lengths, bar count, tonic endings, ties, repeats."""
    text = f"X:1\nM:{request['meter']}\nL:{request['unit']}\nK:{request['key']}\n{body}\n"
    score = music21.converter.parse(text, format="abc")
    part = score.parts[0] if score.parts else score
    measures = list(part.getElementsByClass("Measure"))
    assert measures, f"music21 found no bars (it needs two plain bar lines): {text}"
    meter = music21.meter.TimeSignature(request["meter"]).barDuration.quarterLength
    lengths = [sum(Fraction(n.duration.quarterLength) for n in _sounding(m)) for m in measures]
    first_endings = {id(m) for bracket in part.spannerBundle.getByClass("RepeatBracket")
                     if str(bracket.number) == "1" for m in bracket.getSpannedElements()}
    pickup = lengths[0] if lengths[0] < meter else Fraction(0)
    strain_bars = 8 if request["form"] else request["bars"]
    tonic = tonic_pitch_class(parse_key(request["key"]).tonic)
    counted, upbeat = 0, False
    for measure, length in list(zip(measures, lengths))[1 if pickup else 0:]:
        if upbeat:  # after a strain of a tune with a pickup, the next strain's own pickup
            assert length == pickup, (text, measure.number, length)
            upbeat = False
            continue
        index = counted
        counted += id(measure) not in first_endings
        strain_end = index % strain_bars == strain_bars - 1
        assert length == (meter - pickup if strain_end else meter), (text, measure.number, length)
        upbeat = strain_end and bool(pickup) and id(measure) not in first_endings
        if strain_end and request["end_on_tonic"]:
            last = _sounding(measure)[-1]
            assert isinstance(last, music21.note.Note) and last.pitch.pitchClass == tonic, (text, measure.number)
    expected_bars = request["bars"] or 8 * len(set(request["form"]))
    assert counted == expected_bars, text
    written = sum(length for measure, length in zip(measures, lengths) if id(measure) not in first_endings)
    assert written == expected_bars * meter, (text, written)  # every strain whole, its pickup included
    notes = list(part.flatten().notes)
    for first, second in zip(notes, notes[1:]):
        if first.tie is not None and first.tie.type == "start":
            assert isinstance(first, music21.note.Note) and first.pitch.ps == second.pitch.ps, text
    open_repeat = False
    for measure in measures:
        if isinstance(measure.leftBarline, music21.bar.Repeat) and measure.leftBarline.direction == "start":
            assert not open_repeat, text
            open_repeat = True
        if isinstance(measure.rightBarline, music21.bar.Repeat) and measure.rightBarline.direction == "end":
            assert open_repeat, text
            open_repeat = False
    assert not open_repeat, text


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: f"{r['meter']}-{r['key']}-{r['form'] or r['bars']}")
def test_random_walks_are_valid_tunes_by_music21(request_: dict) -> None:
    machine = AbcConstraint.from_request(**request_)
    for seed in SEEDS:
        check_with_music21(request_, random_walk(machine, seed))


@pytest.mark.parametrize("body", [
    "|:" + "DEFG ABcd|" * 7 + "defg a4:|",          # ends on A, not the tonic D
    "DEFG ABcd|DEFG ABc|" + "DEFG ABcd|" * 5 + "d8|]",  # a 7/8 bar in 4/4
    "DEFG ABcd|" * 6 + "d8|]",                      # 7 bars, not 8
    "|:" + "DEFG ABcd|" * 7 + "d8|]",               # a repeat left open
    "DEFG ABc=c-|c" + "DEFG ABc|" + "DEFG ABcd|" * 5 + "d8|]",  # C natural tied to C sharp (the key's)
])
def test_the_music21_check_refuses_a_bad_tune(body: str) -> None:
    with pytest.raises(AssertionError):
        check_with_music21(REQUESTS[0], body)


def test_an_aabb_tune_with_a_pickup_opens_strain_b_with_one_too() -> None:
    """The machine takes B's pickup and refuses B without one (whose last bar, short, would leave
    B a third of a bar short); music21 reads 16 whole bars only in the first."""
    request = REQUESTS[1]  # 6/8, Em, AABB
    strain = "EFG ABc|" * 7 + "E3 E2"  # after a one-unit pickup, 7 bars and a last bar of 5 units
    machine = AbcConstraint.from_request(**request)
    state = machine.start()
    for char in (body := f"|:B|{strain}::B|{strain}:|"):
        state = machine.advance(state, char)
    assert machine.is_complete(state)
    check_with_music21(request, body)
    unpicked = f"|:B|{strain}::{strain}:|"
    with pytest.raises(AssertionError):
        check_with_music21(request, unpicked)
    state = machine.start()
    with pytest.raises(ValueError, match="strain 2"):
        for char in unpicked:
            state = machine.advance(state, char)

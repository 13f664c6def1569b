"""A tune's bar repeats: found in a training tune (``bar_repeats``), shipped in its export's frame
table, drawn with its length (or, for ``--bars N``, among the N-bar tunes) and followed where the tune
is sampled on the client."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from preprocessing.melody.keys import parse_meter
from preprocessing.melody.timestep import DELIMITER, HOLD
from serving.contract import bar_position as bp
from serving.generation.constrained_rows import TimestepRows
from serving.generation.repeated_bars import RepeatedBars
from serving.generation.timestep_constraints import TimestepConstraints
from serving.generation.tokens import GenerationConfig, generate
from serving.generation.tune_frame import drawn_frames
from serving.generation.tune_request import TuneRequest
from serving.local_client import LocalModelClient
from tests.helpers.tiny_models import VOCABULARY, export_tiny_meter_lstm

NAME = "lstm_meter_repeats"
FOUR_FOUR = bp.meter_index("4/4")
# 4/4 tunes after no pickup: eight bars A B C D A B E F, and six bars A B A B C C.
FORMS = [(-1, -1, -1, -1, 0, 1, -1, -1), (-1, -1, 0, 1, -1, 4)]
FRAMES = [bp.TuneFrame(16, 0, FOUR_FOUR, 0, 16 * len(form), form) for form in FORMS]


@pytest.mark.unit
@pytest.mark.parametrize(("steps", "pickup", "bar_steps", "repeats"), [
    ("abababab", 0, 2, (-1, 0, 0, 0)),
    ("abcdabcd", 0, 2, (-1, -1, 0, 1)),
    ("xabcdab", 1, 2, (-1, -1, 0)),  # bars after the pickup
    ("abcaba", 0, 2, (-1, -1, -1)),  # "ca" is no bar of the tune before
    ("abcdabc", 0, 2, (-1, -1, 0, -1)),  # a last, shorter bar repeats none
    ("abcabc", 0, 3, (-1, 0)),
])
def test_each_bar_names_the_first_earlier_bar_it_repeats(steps, pickup, bar_steps, repeats):
    assert bp.bar_repeats(list(steps), pickup, bar_steps) == repeats


@pytest.mark.unit
def test_a_frame_table_ships_every_tunes_repeats_and_reads_them_back():
    table = bp.FrameTable.of(FRAMES)
    np.testing.assert_array_equal(table.repeats, [bar for form in FORMS for bar in form])
    assert [table.tune_repeats(tune) for tune in range(2)] == FORMS
    again = bp.FrameTable.from_outputs(table.outputs())
    assert [again.tune_repeats(tune) for tune in range(2)] == FORMS
    plain = bp.FrameTable.of([dataclasses.replace(frame, repeats=()) for frame in FRAMES])
    assert plain.repeats is None and "bar_repeats" not in plain.outputs() and plain.tune_repeats(1) == ()
    assert bp.FrameTable.from_outputs(plain.outputs()).repeats is None  # an export from before repeats


@pytest.mark.unit
def test_repeats_that_do_not_fit_their_tunes_are_refused():
    with pytest.raises(ValueError, match=r"only repeat an earlier bar .* \[\(1, 1\)\]"):
        bp.TuneFrame(16, 0, FOUR_FOUR, 0, 32, (-1, 1))
    with pytest.raises(ValueError, match=r"tune frames \[1\] need one bar repeat per bar"):
        bp.FrameTable.of([FRAMES[0], dataclasses.replace(FRAMES[1], repeats=(-1, 0))])
    with pytest.raises(ValueError, match=r"repeats need one per bar \(14\), got 3"):
        bp.FrameTable(*(np.array([value, value]) for value in (16, 0, FOUR_FOUR, 7)), repeats=np.array([-1, -1, 0]))


@pytest.mark.unit
def test_a_stated_length_draws_its_form_from_the_training_tunes_of_that_length():
    table, six_bars = bp.FrameTable.of(FRAMES), bp.TuneFrame(16, 0, FOUR_FOUR, 0, 16 * 6)
    drawn = drawn_frames(table, six_bars, range(5), pickup=False, length=False)
    assert drawn == [dataclasses.replace(six_bars, repeats=FORMS[1])] * 5
    seven_bars = dataclasses.replace(six_bars, length=16 * 7)  # no training tune of 7 bars: no form
    assert drawn_frames(table, seven_bars, range(2), pickup=False, length=False) == [seven_bars] * 2
    plain = bp.FrameTable.of([dataclasses.replace(frame, repeats=()) for frame in FRAMES])
    assert drawn_frames(plain, six_bars, range(2), pickup=False, length=False) == [six_bars] * 2


@pytest.mark.unit
@pytest.mark.parametrize("form", FORMS)
def test_sampling_under_the_bar_rules_plays_each_repeated_bar_again_but_the_last(form):
    """Random tokens that the rules allow, row by row: every repeated bar before the last equals the
    bar it repeats; the last bar (the cadence) is drawn freely."""
    request = TuneRequest(bars=len(form), meter=parse_meter("4/4"))
    primers = [[VOCABULARY.index(DELIMITER)]] * 2
    frame = bp.TuneFrame(16, 0, FOUR_FOUR, 0, 16 * len(form), form)
    rules = RepeatedBars(TimestepRows(TimestepConstraints(request, VOCABULARY), primers, 200), [frame] * 2,
                         primers, VOCABULARY.index(DELIMITER))
    generator = np.random.default_rng(3)
    for row in range(2):
        tune: list[int] = []
        while not rules.ended(row):
            token = int(generator.choice(np.flatnonzero(rules.allowed(row))))
            rules.advance(row, token)
            tune.append(token)
        bars = [tune[start:start + 16] for start in range(0, 16 * len(form), 16)]
        repeats = [bars.index(bar) if bars.index(bar) < index else -1 for index, bar in enumerate(bars)]
        assert repeats[:-1] == list(form[:-1]) and repeats[-1] == -1
    assert rules.followed == rules.asked == 2 * 16 * sum(earlier >= 0 for earlier in form[:-1])


@pytest.mark.server
@pytest.mark.parametrize(("bars", "forms"), [(None, set(FORMS)), (6, {FORMS[1]})])
def test_generated_tunes_repeat_the_bars_their_drawn_training_tune_repeats(tmp_path, bars, forms):
    """music21 reads each written MusicXML: a repeated measure holds the notes of the one it repeats,
    but for the last, the tune's cadence, left to the model (the second form's last bar repeats one).
    A drawn length brings its tune's form; ``--bars 6`` draws the form of a 6-bar training tune."""
    import music21  # noqa: PLC0415

    export_tiny_meter_lstm(tmp_path / "models" / NAME, frames=FRAMES)
    client = LocalModelClient(str(tmp_path / "models"), NAME)
    config = GenerationConfig(primer=None, num=6, seed=0, formats=("musicxml",), out_dir=str(tmp_path / "out"),
                              constraints=TuneRequest(bars=bars))  # the CLI's default request, or --bars
    melodies = generate(client, config, NAME)
    assert {melody.frame.repeats for melody in melodies} == forms
    for melody in melodies:
        part = music21.converter.parse(melody.paths["musicxml"]).parts[0]
        measures = [[(element.name if element.isRest else element.nameWithOctave, element.quarterLength)
                     for element in measure.notesAndRests] for measure in part.getElementsByClass("Measure")]
        assert len(measures) == len(melody.frame.repeats), melody.paths["musicxml"]
        for bar, earlier in enumerate(melody.frame.repeats):
            first_onset = melody.tokens[melody.primer_length + bar * 16]
            # A bar that starts holding a note continues its own (music21 splits it at the bar line).
            if earlier >= 0 and first_onset != HOLD and bar < len(measures) - 1:
                assert measures[bar] == measures[earlier], (melody.paths["musicxml"], bar, earlier)

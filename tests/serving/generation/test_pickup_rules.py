"""A timestep tune barred from its primer's pickup: the primer reads its upbeat, the bar rules put
the first bar line after it (a random walk stands in for a model), and Vary cuts the pickup as bar 0."""
from __future__ import annotations

import numpy as np
import pytest
from music21 import meter as m21meter
from music21 import note, stream

from preprocessing.melody.keys import parse_key, parse_meter
from preprocessing.melody.timestep import DELIMITER, HOLD, timestep_vocabulary_order
from serving.contract.bar_rules import advance, allowed_tokens
from serving.generation import primers
from serving.generation.bar_goals import timestep_bars
from serving.generation.timestep_constraints import TimestepConstraints
from serving.generation.tune_request import TuneRequest
from tests.serving.generation.test_timestep_constraints import walk

pytestmark = pytest.mark.unit

VOCABULARY = timestep_vocabulary_order(str(pitch) for pitch in range(48, 85))
# 3/4, L:1/8, a one-eighth upbeat (2 steps) before the first bar line, inside a repeat.
UPBEAT_ABC = "X:1\nT:Upbeat\nM:3/4\nL:1/8\nK:G\n|: D | G2 G2 A2 | B4 A2 |"


def anacrusis_musicxml(path) -> str:
    """A 4/4 MusicXML file whose measure 0 is a quarter-note anacrusis (4 steps), written by music21."""
    part = stream.Part()
    pickup = stream.Measure(number=0)
    pickup.append(m21meter.TimeSignature("4/4"))
    pickup.append(note.Note("G4", quarterLength=1))
    pickup.paddingLeft = 3.0
    part.append(pickup)
    for number, names in ((1, ("C5", "E5", "G5", "E5")), (2, ("D5", "B4", "C5", "C5"))):
        measure = stream.Measure(number=number)
        for name in names:
            measure.append(note.Note(name, quarterLength=1))
        part.append(measure)
    stream.Score([part]).write("musicxml", fp=str(path))
    return str(path)


def test_an_abc_upbeat_and_a_musicxml_anacrusis_are_the_primers_pickup(tmp_path):
    assert primers.timestep_primer(primers.PrimerSource(abc=UPBEAT_ABC)).pickup == 2
    from_file = primers.timestep_primer(primers.PrimerSource(file=anacrusis_musicxml(tmp_path / "up.musicxml")))
    assert from_file.pickup == 4 and from_file.symbols[:6] == ["/", "67", HOLD, HOLD, HOLD, "72"]
    assert primers.timestep_primer(primers.PrimerSource(abc="X:1\nM:3/4\nL:1/8\nK:G\nG2 G2 A2 | B4 A2 |")).pickup == 0
    assert primers.timestep_primer(primers.PrimerSource(name="twinkle")).pickup == 0
    assert primers.timestep_primer(primers.PrimerSource(symbols="/ 60 _")).pickup == 0


@pytest.mark.parametrize("meter_text, pickup", [("3/4", 2), ("4/4", 4), ("6/8", 2), ("2/4", 7), ("3/4", 0)])
def test_a_tune_ends_on_a_bar_line_after_its_pickup_and_bars_full_bars(meter_text, pickup):
    request = TuneRequest(parse_meter(meter_text), parse_key("G"), 6)
    constraints = TimestepConstraints(request, VOCABULARY, pickup)
    bar = constraints.bar
    primer_symbols = [DELIMITER, "67"] + [HOLD] * (pickup - 1) if pickup else [DELIMITER, "67", HOLD]
    primer = [VOCABULARY.index(symbol) for symbol in primer_symbols]
    needed = constraints.tokens_needed(primer, 6)
    for seed in range(20):
        sampled = walk(constraints, primer, needed, np.random.default_rng(seed))
        tune = [VOCABULARY[token] for token in primer[1:] + sampled]
        assert tune[-1] == DELIMITER and len(tune) - 1 == pickup + 6 * bar and len(sampled) == needed
        spans = timestep_bars([DELIMITER] + tune, len(primer), bar, pickup)
        assert [end - start for start, end in spans] == ([pickup] if pickup else []) + [bar] * 6


def test_the_final_downbeat_is_the_bar_line_after_the_pickup():
    """No rest on the last bar's downbeat: in 3/4 with a 2-step pickup, step 2 + 5 * 12 of the tune."""
    constraints = TimestepConstraints(TuneRequest(parse_meter("3/4"), parse_key("C"), 6), VOCABULARY, 2)
    state = constraints.start([VOCABULARY.index(symbol) for symbol in (DELIMITER, "60", HOLD)])
    rules = constraints.rules(6, 6)
    for _ in range(5 * 12 - 1):
        state = advance(rules, state, VOCABULARY.index("64"))
    before, state = allowed_tokens(rules, state), advance(rules, state, VOCABULARY.index("64"))
    assert before[VOCABULARY.index("r")] and not allowed_tokens(rules, state)[VOCABULARY.index("r")]
    assert state.position == 5 * 12


def test_a_pickup_outside_the_bar_and_an_unfinished_cut_are_refused():
    with pytest.raises(ValueError, match=r"pickup 12 steps is not in 0..11"):
        TimestepConstraints(TuneRequest(parse_meter("3/4")), VOCABULARY, 12)
    tokens = [DELIMITER, "60", HOLD] + ["62"] * 12 + [DELIMITER]
    assert timestep_bars(tokens, 1, 12, 2) == [(1, 3), (3, 15)]
    with pytest.raises(ValueError, match="after whole bars"):
        timestep_bars(tokens, 1, 12, 3)


def test_the_meter_aware_frame_puts_downbeats_where_the_rules_put_bar_lines():
    from serving.contract import signatures as sig
    from serving.generation.tune_frame import tune_frame

    constraints = TimestepConstraints(TuneRequest(parse_meter("6/8"), parse_key("D"), 4), VOCABULARY, 5)
    frame = tune_frame(parse_meter("6/8"), parse_key("D"), 4, 5)
    state, rules, positions = constraints.start([VOCABULARY.index(DELIMITER)]), constraints.rules(4, 4), []
    for _ in range(5 + 4 * 12):
        positions.append(state.position)
        state = advance(rules, state, VOCABULARY.index("62"))
    steps = np.arange(len(positions))
    assert frame.step_inputs(steps)[sig.BAR_POSITION].tolist() == [p % 12 for p in positions]
    assert frame.length == len(positions) and state.position == 4 * 12


def test_a_triplet_after_an_upbeat_is_named_by_the_scores_bar_number():
    text = "X:1\nM:2/4\nL:1/8\nK:C\nG | C2 D2 | (3EFG A2 |"
    with pytest.raises(ValueError, match=r"note 4 \(bar 3\) lasts 0.333333 quarters"):
        primers.timestep_primer(primers.PrimerSource(abc=text))

"""serving/generation/bar_goals.py without a model: uniform random walks (a stand-in for any model)
under a regenerated bar's mask always finish the bar, and the kept tokens after it replay to a whole
tune under the constraint machines; the ABC bar cutter agrees with music21's measures."""
from __future__ import annotations

import numpy as np
import pytest
from music21 import converter, stream

from preprocessing.melody.abc_constraints import AbcConstraint
from preprocessing.melody.keys import parse_key, parse_meter
from preprocessing.melody.timestep import timestep_vocabulary_order
from serving.contract.bar_rules import advance, allowed_tokens
from serving.generation.bar_goals import AbcBar, TimestepRun, abc_bars, after_close, timestep_bars
from serving.generation.timestep_constraints import TimestepConstraints
from serving.generation.tune_request import TuneRequest

TIMESTEP_VOCABULARY = timestep_vocabulary_order(str(pitch) for pitch in range(55, 80))
ABC_VOCABULARY = sorted(set("ABCDEFGabcdefgz,'2346/|:[]1-> \n"))
HEADER = "X:1\nL:1/8\nM:{meter}\nK:{key}\n"


def test_abc_bars_cut_at_the_bar_lines_a_pickup_and_endings_included() -> None:
    text = HEADER.format(meter="4/4", key="D") + "|: A2 |d2 f2 a2 f2|1 e8 :|2 e6 A2 ||\n[1 d8 :|[2 d6 |]"
    bars = abc_bars(text)
    cut = [text[start:end] for start, _, end in bars]
    assert cut == ["A2 |", "d2 f2 a2 f2|1", "e8 :|2", "e6 A2 ||", "[1 d8 :|", "[2 d6 |]"]
    assert [text[close:end] for _, close, end in bars] == ["|", "|1", ":|2", "||", ":|", "|]"]
    part = converter.parse(text, format="abc").parts[0]
    assert len(part.getElementsByClass(stream.Measure)) == len(bars)
    with pytest.raises(ValueError, match="unfinished"):
        abc_bars(text[:-2])
    with pytest.raises(ValueError, match="no K: line"):
        abc_bars("X:1\nabc|")


def test_timestep_bars_follow_the_meter_from_the_primer_s_last_delimiter() -> None:
    tokens = ("/", "60", "_", "_", "62", "_", "64", "_", "60", "/")
    assert timestep_bars(tokens, 3, 4) == [(1, 5), (5, 9)]
    with pytest.raises(ValueError, match="unfinished"):
        timestep_bars(tokens[:-1], 3, 4)
    with pytest.raises(ValueError, match="before its last '/'"):
        timestep_bars(("/", "60", "/", *tokens[1:]), 3, 4)


def walk(mask_of, state, step, done, rng: np.random.Generator, limit: int = 400) -> tuple[object, list[int]]:
    """Uniform draws among the allowed tokens until ``done``."""
    drawn = []
    while not drawn or not done(state, drawn[-1]):
        mask = mask_of(state)
        assert mask.any(), f"dead end after {drawn}"
        drawn.append(int(rng.choice(np.flatnonzero(mask))))
        state = step(state, drawn[-1])
        assert len(drawn) < limit
    return state, drawn


@pytest.mark.parametrize("meter, key, bars, form", [("3/4", "G", 4, None), ("6/8", "D", None, "AABB")])
def test_a_random_bar_closes_where_the_original_did_and_the_rest_replays(meter, key, bars, form) -> None:
    machine = AbcConstraint.from_request(meter=meter, key=key, bars=bars, form=form, end_on_tonic=True,
                                         chromatic=False, min_bars=4)
    rng = np.random.default_rng(7)
    header = HEADER.format(meter=meter, key=key)
    state, drawn = walk(lambda s: np.array(machine.allowed(s, ABC_VOCABULARY)), machine.start(),
                        lambda s, t: machine.advance(s, ABC_VOCABULARY[t]), lambda s, _: machine.is_complete(s), rng,
                        limit=3000)
    text = header + "".join(ABC_VOCABULARY[token] for token in drawn)
    states = [machine.start()]
    for char in text[len(header):]:
        states.append(machine.advance(states[-1], char))
    at = lambda index: states[index - len(header)]  # noqa: E731
    cut = abc_bars(text)
    middle = len(cut) // 2  # the first bars, the strain edge (or the middle) and the last bars
    for number in [0, 1, middle - 1, middle, len(cut) - 2, len(cut) - 1]:
        begin, close, end = cut[number]
        goal = AbcBar(machine, ABC_VOCABULARY, text[close:end], after_close(machine, at(end)),
                      machine.token_closed(at(close)).pos, at(close).bars)
        state, new = walk(goal.mask, at(begin), lambda s, t: machine.step(s, ABC_VOCABULARY[t]), goal.finished, rng)
        for char in text[close + 1:]:
            state = machine.advance(state, char)
        assert machine.is_complete(state)
        varied = text[:begin] + "".join(ABC_VOCABULARY[token] for token in new) + text[close + 1:]
        again = abc_bars(varied)
        assert len(again) == len(cut) and again[number][0] == begin
        assert varied[again[number][1]:] == text[close:]  # the same bar line, then the kept text


def test_a_random_timestep_run_keeps_the_held_note_and_the_tune_whole() -> None:
    vocabulary = TIMESTEP_VOCABULARY
    constraints = TimestepConstraints(TuneRequest(parse_meter("3/4"), parse_key("G"), 6), vocabulary)
    primer = [vocabulary.index("/"), vocabulary.index("60")]
    rules = constraints.rules(*constraints.bar_limits(1, constraints.tokens_needed(primer, 6)))
    rng = np.random.default_rng(3)
    hold = vocabulary.index("_")
    for _ in range(6):
        state = constraints.start(primer)
        _, drawn = walk(lambda s: allowed_tokens(rules, s), state, lambda s, t: advance(rules, s, t),
                        lambda s, _: s.ended, rng)
        ids = primer + drawn
        states = [constraints.start([])]
        for index, token in enumerate(ids):
            states.append(advance(rules, states[-1], token, sampled=index >= len(primer)))
        spans = timestep_bars([vocabulary[token] for token in ids], len(primer), constraints.bar)
        for first, last in [(1, 1), (2, 3), (5, 5)]:
            start, end = spans[first][0], spans[last][1]
            held = (states[end].sounding, states[end].is_note) if ids[end] == hold else None
            run = TimestepRun(rules, states[end].position, ids[end:], held, None)
            state, new = walk(run.mask, states[start], lambda s, t: advance(rules, s, t), run.finished, rng)
            assert len(new) == end - start
            if held:
                assert (state.sounding, state.is_note) == held
            for token in ids[end:]:
                assert allowed_tokens(rules, state)[token]
                state = advance(rules, state, token)
            assert state.ended

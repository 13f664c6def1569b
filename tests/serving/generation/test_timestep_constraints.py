"""serving/generation/timestep_constraints.py: masks that make every sampled tune valid by construction."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from preprocessing.melody.keys import parse_key, parse_meter, parse_pitch
from preprocessing.melody.timestep import decode_timestep, timestep_vocabulary_order
from serving.contract.bar_rules import advance, allowed_tokens
from serving.generation.timestep_constraints import MIN_BARS, TimestepConstraints
from serving.generation.tune_request import TuneRequest

VOCABULARY = timestep_vocabulary_order(str(pitch) for pitch in range(48, 85))
SCALES = {"G": {7, 9, 11, 0, 2, 4, 6}, "Em": {4, 6, 7, 9, 11, 0, 2}, "Ddor": {2, 4, 5, 7, 9, 11, 0},
          "Bb": {10, 0, 2, 3, 5, 7, 9}, "C": {0, 2, 4, 5, 7, 9, 11}}
TONICS = {"G": 7, "Em": 4, "Ddor": 2, "Bb": 10, "C": 0}


def index(symbol: str) -> int:
    return VOCABULARY.index(symbol)


def walk(constraints: TimestepConstraints, primer: list[int], steps: int, rng: np.random.Generator,
         prefer_end: bool = False) -> list[int]:
    """Uniform choices among the allowed tokens until the end symbol (a stand-in for any model);
    ``prefer_end``: the end symbol whenever it is allowed."""
    state = constraints.start(primer)
    rules = constraints.rules(*constraints.bar_limits(state.position, steps))
    sampled = []
    while not state.ended:
        mask = allowed_tokens(rules, state)
        assert mask.any(), f"dead end after {sampled}"
        token = index("/") if prefer_end and mask[index("/")] else int(rng.choice(np.flatnonzero(mask)))
        sampled.append(token)
        state = advance(rules, state, token)
        assert len(sampled) <= steps
    return sampled


@pytest.mark.parametrize("key_name", sorted(SCALES))
@pytest.mark.parametrize("meter_text, bars", [("4/4", 4), ("3/4", 16), ("6/8", 8), ("2/4", 3), ("9/8", 5)])
def test_random_walks_are_whole_tunes_of_the_asked_shape(key_name, meter_text, bars) -> None:
    key, meter = parse_key(key_name), parse_meter(meter_text)
    low, high = parse_pitch("D4"), parse_pitch("D6")
    constraints = TimestepConstraints(TuneRequest(meter, key, bars, low, high), VOCABULARY)
    primer = [index("/"), index("60"), index("_"), index("62"), index("_")]
    shift = key.semitones_from_c()
    for seed in range(25):
        sampled = walk(constraints, primer, constraints.tokens_needed(primer, bars), np.random.default_rng(seed))
        assert VOCABULARY[sampled[-1]] == "/" and "/" not in [VOCABULARY[t] for t in sampled[:-1]]
        events = decode_timestep([VOCABULARY[t] for t in primer[1:] + sampled[:-1]])
        assert sum(Fraction(e.quarters) for e in events) == bars * meter.bar_quarters
        new = decode_timestep(["r", *[VOCABULARY[t] for t in sampled[:-1]]])
        written = [e.pitch + shift for e in new if e.pitch is not None]
        assert written, "no new note"
        assert {pitch % 12 for pitch in written} <= SCALES[key_name]
        assert all(low <= pitch <= high for pitch in written)
        final = events[-1]
        assert final.pitch is not None and (final.pitch + shift) % 12 == TONICS[key_name]
        beat = Fraction(3, 2) if meter.denominator == 8 and meter.numerator % 3 == 0 else Fraction(4, meter.denominator)
        assert final.quarters >= beat  # sounds from the last beat, held to the bar line
        onset, bar_start = Fraction(0), (bars - 1) * meter.bar_quarters
        for event in events:  # the final bar's downbeat is no rest
            if onset <= bar_start < onset + Fraction(event.quarters):
                assert event.pitch is not None
            onset += Fraction(event.quarters)


def test_without_bars_the_end_comes_at_a_bar_line_from_eight_bars_on() -> None:
    constraints = TimestepConstraints(TuneRequest(), VOCABULARY)
    primer = [index("/"), index("60")]
    for seed in range(10):  # at most what --steps leaves room for, at a bar line
        sampled = walk(constraints, primer, 200, np.random.default_rng(seed))
        assert len(sampled) == 192 and VOCABULARY[sampled[-1]] == "/"  # 12 bars: (1 + 200 - 1) // 16
    state = constraints.start(primer)
    assert constraints.bar_limits(state.position, 256) == (MIN_BARS, 16)
    rules = constraints.rules(MIN_BARS, 16)
    ends = []
    bar = [index("64")] + [index("_")] * 7 + [index("60")] + [index("_")] * 7  # E for two beats, C for two
    for token in [index("_")] * 15 + bar * 9:
        if allowed_tokens(rules, state)[index("/")]:
            ends.append(state.position)
        state = advance(rules, state, token)
    assert ends == [128, 144]  # from bar 8 on, at bar lines where the tonic sounds from the last beat


def test_the_end_symbol_is_masked_until_the_last_bar_line_and_then_forced() -> None:
    constraints = TimestepConstraints(TuneRequest(bars=2), VOCABULARY)
    state = constraints.start([index("/"), index("60")])
    assert constraints.bar_limits(state.position, 100) == (2, 2)
    rules = constraints.rules(2, 2)
    for token in [index("_")] * 15:
        assert not allowed_tokens(rules, state)[index("/")]
        state = advance(rules, state, token)
    assert state.position == 16 and not allowed_tokens(rules, state)[index("r")]  # final downbeat
    for token in [index("64")] + [index("_")] * 11 + [index("60")] + [index("_")] * 3:
        state = advance(rules, state, token)
    mask = allowed_tokens(rules, state)
    assert mask.nonzero()[0].tolist() == [index("/")]


def test_the_final_beat_forces_the_tonic_when_another_note_sounds() -> None:
    constraints = TimestepConstraints(TuneRequest(bars=1), VOCABULARY)
    state = constraints.start([index("/"), index("64"), index("_"), index("_"), index("_")])
    assert constraints.bar_limits(state.position, 20) == (1, 1)
    rules = constraints.rules(1, 1)
    for token in [index("65")] + [index("_")] * 7:
        state = advance(rules, state, token)
    allowed = [VOCABULARY[i] for i in np.flatnonzero(allowed_tokens(rules, state))]
    assert allowed == ["48", "60", "72", "84"]  # the C onsets; holding the F is masked


@pytest.mark.parametrize("request_fields, message", [
    ({"key": parse_key("G"), "low": 61, "high": 61}, "no pitch of G"),
    ({"key": parse_key("G"), "low": 62, "high": 64}, "holds no tonic of G"),
    ({"low": 70, "high": 60}, "inverted"),
    ({"bars": 0}, "--bars must be >= 1"),
])
def test_a_request_that_cannot_be_met_is_refused(request_fields, message) -> None:
    with pytest.raises(ValueError, match=message):
        TimestepConstraints(TuneRequest(**request_fields), VOCABULARY)


def test_a_primer_longer_than_the_bars_or_too_few_steps_are_refused() -> None:
    constraints = TimestepConstraints(TuneRequest(bars=1), VOCABULARY)
    with pytest.raises(ValueError, match="no room for a final beat in 1 bars"):
        constraints.bar_limits(14, 100)
    with pytest.raises(ValueError, match="--steps is 5"):
        constraints.bar_limits(4, 5)
    with pytest.raises(ValueError, match="at least 8 are needed"):
        TimestepConstraints(TuneRequest(), VOCABULARY).bar_limits(1, 64)

"""A request's hard constraints on a timestep model: the rules of ``serving.contract.bar_rules``.

The model writes 16th-note steps in model space (C major / A minor key signatures, the white
keys). A request's key gives the model-space tonic (its mode's tonic on the white keys: D for
any dorian key) and the shift to the written key; its meter gives the steps per bar and beat;
its range and scale give the pitches that may be struck; ``--bars`` (or, without it, at least 8
bars and at most what ``--steps`` leaves room for) where the end symbol comes. The primer's
``pickup`` (16th steps before its first downbeat) puts the first bar line after it: ``--bars N``
counts N full bars after the pickup. A request that cannot be met is refused before sampling
(ValueError naming the reason).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, Meter, tonic_pitch_class
from preprocessing.melody.timestep import DELIMITER, HOLD, REST
from serving.contract.bar_rules import BarRules, RowState, advance, tune_start
from serving.generation.tune_request import TuneRequest

MIN_BARS = 8
STEPS_PER_QUARTER = 4
_WHITE_KEYS = frozenset({0, 2, 4, 5, 7, 9, 11})


def steps_per_bar(meter: Meter) -> int:
    """16th-note steps in one bar of ``meter``; ValueError if a bar is not a whole number of them."""
    steps = meter.bar_quarters * STEPS_PER_QUARTER
    if steps.denominator != 1:
        raise ValueError(f"meter {meter} is not a whole number of 16th notes per bar")
    return int(steps)


def beat_steps(meter: Meter) -> int:
    """Steps per beat: a dotted quarter in compound meters (6/8, 9/8, 12/8), else one denominator note."""
    compound = meter.denominator == 8 and meter.numerator % 3 == 0 and meter.numerator > 3
    return 6 if compound else max(1, 16 // meter.denominator)


class TimestepConstraints:
    """The masks of one request over one vocabulary ``[V]`` symbols (a request without key or
    meter is in C major, 4/4), for a tune whose primer sounds ``pickup`` steps before its first downbeat."""

    def __init__(self, request: TuneRequest, vocabulary: Sequence[str], pickup: int = 0) -> None:
        missing = [symbol for symbol in (DELIMITER, HOLD, REST) if symbol not in vocabulary]
        if missing:
            raise ValueError(f"the model's vocabulary lacks {missing}: not a timestep vocabulary")
        request = self.request = request.filled(C_MAJOR, COMMON_TIME)
        self.size = len(vocabulary)
        self.end, self.hold, self.rest = (vocabulary.index(symbol) for symbol in (DELIMITER, HOLD, REST))
        self.bar = steps_per_bar(request.meter)
        self.beat = beat_steps(request.meter)
        if not 0 <= pickup < self.bar:
            raise ValueError(f"pickup {pickup!r} steps is not in 0..{self.bar - 1} (a bar of {request.meter})")
        self.pickup = pickup
        shift = request.key.semitones_from_c()
        self.tonic = (tonic_pitch_class(request.key.tonic) - shift) % 12
        self.pitch_of = np.full(self.size, -1)
        for index, symbol in enumerate(vocabulary):
            if symbol.isdigit():
                self.pitch_of[index] = int(symbol)
        written = self.pitch_of + shift
        in_range = (self.pitch_of >= 0) & (written >= (request.low if request.low is not None else 0)) \
            & (written <= (request.high if request.high is not None else 127))
        in_scale = np.isin(self.pitch_of % 12, sorted(_WHITE_KEYS)) | request.chromatic
        self.pitches = in_range & in_scale
        self.is_tonic = (self.pitch_of >= 0) & (self.pitch_of % 12 == self.tonic)
        self._check_satisfiable(shift)

    def _check_satisfiable(self, shift: int) -> None:
        request = self.request
        written = sorted(int(p) + shift for p in self.pitch_of if p >= 0)
        if not self.pitches.any():
            raise ValueError(f"no pitch of {request.key.name} lies in the range {request.low}..{request.high}; "
                             f"the model writes {written[0]}..{written[-1]} in that key")
        if request.end_on_tonic and not (self.pitches & self.is_tonic).any():
            raise ValueError(f"the range {request.low}..{request.high} holds no tonic of {request.key.name} "
                             "(needed by --end tonic)")

    def bar_limits(self, position: int, max_tokens: int) -> tuple[int, int]:
        """(min_bars, max_bars) for a primer that leaves the tune at ``position`` (``start(primer).position``:
        its steps less the pickup) and ``max_tokens`` to sample."""
        final_beat = lambda bars: bars * self.bar - self.beat  # noqa: E731
        primer_steps = position + self.pickup
        if self.request.bars is not None:
            bars = self.request.bars
            if position > final_beat(bars):
                raise ValueError(f"the primer is {primer_steps} steps long: it leaves no room for a final "
                                 f"beat in {bars} bars of {self.request.meter} ({bars * self.bar} steps)")
            needed = bars * self.bar - position + 1
            if needed > max_tokens:
                raise ValueError(f"{bars} bars of {self.request.meter} need {needed} steps after the primer; "
                                 f"--steps is {max_tokens}")
            return bars, bars
        most = (position + max_tokens - 1) // self.bar
        least = max(MIN_BARS, -(-(position + self.beat) // self.bar))
        if most < least:
            raise ValueError(f"--steps {max_tokens} leaves room for {most} bars of {self.request.meter}; "
                             f"at least {least} are needed (or give --bars)")
        return least, most

    def rules(self, min_bars: int, max_bars: int) -> BarRules:
        """The rules of a tune ending between ``min_bars`` and ``max_bars`` bars."""
        return BarRules(self.pitches, self.is_tonic, self.end, self.hold, self.rest, self.bar, self.beat,
                        min_bars, max_bars, self.request.end_on_tonic, self.pickup)

    def start(self, primer: Sequence[int]) -> RowState:
        """The state after feeding the primer's token indices (from its last ``/``, at ``-pickup``)."""
        rules = self.rules(1, 1)
        state = tune_start(rules)
        for token in primer:
            state = advance(rules, state, token, sampled=False)
        return state

    def tokens_needed(self, primer: Sequence[int], bars: int) -> int:
        """Tokens to sample for a tune of ``bars`` full bars after ``primer``'s pickup (the end symbol included)."""
        return bars * self.bar - self.start(primer).position + 1

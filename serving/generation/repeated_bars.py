"""A tune's form while it is sampled: the bars its frame says repeat an earlier bar are played again.

A meter-aware model's tune that takes a training tune's length also takes that tune's bar repeats
(``TuneFrame.repeats``: which bars repeat an earlier bar step for step). Sampled on the client,
each step of such a bar may only be the step it repeats, where the bar rules allow that step
(they still decide the tune's length); elsewhere the model samples as before, and so in the
tune's last bar, whose cadence is the model's own.
Folk tunes repeat themselves: an eighth of the 8-note runs of han's and erk's test tunes repeat an
earlier run of the same tune, and the model, left alone, writes under 1%.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from serving.contract.bar_position import TuneFrame
from serving.generation.constrained_rows import TimestepRows


class RepeatedBars:
    """``TimestepRows`` whose rows follow their frame's bar repeats; ``followed`` / ``asked``: the
    steps that took the repeated step, of those whose bar repeats one."""

    def __init__(self, rules: TimestepRows, frames: Sequence[TuneFrame], primers: Sequence[Sequence[int]],
                 end: int) -> None:
        if len(frames) != len(primers):
            raise ValueError(f"{len(frames)} tune frames for {len(primers)} primers")
        self.rules = rules
        self.frames = list(frames)
        # Each row's tune so far: the primer's steps after its last end symbol, then what it samples.
        self.tunes = [list(primer[_tune_start(primer, end):]) for primer in primers]
        self.first_position = [rules.position(row) - len(tune) for row, tune in enumerate(self.tunes)]
        self.followed = self.asked = 0

    def repeated_step(self, row: int) -> int | None:
        """The token that row ``row``'s next step repeats, or None where its bar repeats none or is
        the tune's last (its cadence is the model's own: a repeat of new notes need not end it)."""
        frame, position = self.frames[row], self.rules.position(row)
        if position < 0:
            return None
        bar, step = divmod(position, frame.bar_steps)
        if bar >= len(frame.repeats) - 1 or frame.repeats[bar] < 0:
            return None
        index = frame.repeats[bar] * frame.bar_steps + step - self.first_position[row]
        return self.tunes[row][index] if 0 <= index < len(self.tunes[row]) else None

    def allowed(self, row: int) -> np.ndarray:
        allowed = self.rules.allowed(row)
        token = self.repeated_step(row)
        if token is None:
            return allowed
        self.asked += 1
        if not allowed[token]:
            return allowed
        self.followed += 1
        only = np.zeros_like(allowed)
        only[token] = True
        return only

    def advance(self, row: int, token: int) -> None:
        self.tunes[row].append(token)
        self.rules.advance(row, token)

    def ended(self, row: int) -> bool:
        return self.rules.ended(row)


def _tune_start(primer: Sequence[int], end: int) -> int:
    """The index after the primer's last end symbol (0 without one)."""
    ends = [index for index, token in enumerate(primer) if token == end]
    return ends[-1] + 1 if ends else 0

"""A request's ``TuneFrame``: what a meter-aware timestep model is told about every step it samples.

From the request (or the primer's) meter (4/4 when none), the key's mode family, ``--bars`` and
the primer's pickup (the steps its tune sounds before the first downbeat; 0 for a primer that
starts on one, as the named primers do). The tune's steps count from the primer's last ``/``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from preprocessing.melody.keys import COMMON_TIME, Key, Meter, mode_family
from preprocessing.melody.timestep import DELIMITER
from serving.contract.bar_position import TuneFrame, meter_index, mode_index  # noqa: F401 (TuneFrame: re-exported)
from serving.generation.timestep_constraints import steps_per_bar

if TYPE_CHECKING:
    from serving.generation.token_model import TokenModel


def tune_frame(meter: Meter | None, key: Key | None, bars: int | None, pickup: int = 0) -> TuneFrame:
    """The frame of a tune in ``meter`` and ``key`` (None: 4/4, major), ``bars`` full bars after its
    ``pickup`` (None: no length): the bar rules' tune, which ends ``bars * bar + pickup`` steps in."""
    meter = meter or COMMON_TIME
    mode = mode_index(mode_family(key.mode)) if key is not None else 0
    bar = steps_per_bar(meter)
    return TuneFrame(bar_steps=bar, pickup=pickup, meter=meter_index(str(meter)), mode=mode,
                     length=None if bars is None else bars * bar + pickup)


def fed_steps(previous: int, token: int, end: int) -> int:
    """Tune steps fed after ``token`` (an index), ``previous`` before it: the end symbol ``end`` restarts the count."""
    return 0 if token == end else previous + 1


class CountedSteps:
    """``model.step`` for ``rows`` rows that each count their tune's steps, so that a meter-aware
    model is told each predicted step's place in ``frame``; other models are stepped as they are."""

    def __init__(self, model: TokenModel, frame: TuneFrame, rows: int) -> None:
        self.model, self.frame = model, frame
        self.counts = np.zeros(rows, np.int64)
        self.end = model.symbols.index(DELIMITER) if DELIMITER in model.symbols else -1

    def repeated(self, rows: int) -> CountedSteps:
        """A counter of ``rows`` rows, each where row 0 of this one is."""
        copy = CountedSteps(self.model, self.frame, rows)
        copy.counts[:] = self.counts[0]
        return copy

    def __call__(self, rows: Sequence[int], tokens: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feeds ``tokens`` (int32 `[R]`) to the rows ``rows`` in ``state`` (`[R, S]`): logits `[R, V]`, new state."""
        if not self.model.conditioning:
            return self.model.step(tokens, state)
        for row, token in zip(rows, tokens):
            self.counts[row] = fed_steps(int(self.counts[row]), int(token), self.end)
        inputs = {name: value[np.asarray(rows)] for name, value in self.frame.step_inputs(self.counts).items()}
        return self.model.step(tokens, state, inputs)

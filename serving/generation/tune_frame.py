"""A request's ``TuneFrame``: what a meter-aware timestep model is told about every step it samples.

From the request (or the primer's) meter (when neither names one, the meter most of the model's
training tunes are in, ``usual_meter``; 4/4 for an export without `tune_frames`), the key's mode
family, ``--bars`` and the primer's pickup (the steps its tune sounds before the first downbeat; 0 for a primer that
starts on one, as the named primers do). The tune's steps count from the primer's last ``/``.
Where the request leaves the length (or, with no notes in the primer, the pickup) open, each
seed draws a training tune's (``FrameTable``, the export's `tune_frames`), so that the tunes
start and end as the corpus's do in that meter. The drawn tune brings its bar repeats (which bars
repeat an earlier one exactly), which client-side sampling follows (``repeated_bars``); a request
of ``--bars N`` draws them from the training tunes of N bars.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from preprocessing.melody.keys import COMMON_TIME, Key, Meter, mode_family, parse_meter
from preprocessing.melody.timestep import DELIMITER
from serving.contract.bar_position import METERS, FrameTable, TuneFrame, meter_index, mode_index  # noqa: F401 (TuneFrame: re-exported)
from serving.generation.timestep_constraints import steps_per_bar

if TYPE_CHECKING:
    from serving.generation.token_model import TokenModel

logger = logging.getLogger(__name__)
_DRAW_STREAM = 13  # a frame draw's random stream beside the seed's sampling stream


def tune_frame(meter: Meter | None, key: Key | None, bars: int | None, pickup: int = 0) -> TuneFrame:
    """The frame of a tune in ``meter`` and ``key`` (None: 4/4, major), ``bars`` full bars after its
    ``pickup`` (None: no length): the bar rules' tune, which ends ``bars * bar + pickup`` steps in."""
    meter = meter or COMMON_TIME
    mode = mode_index(mode_family(key.mode)) if key is not None else 0
    bar = steps_per_bar(meter)
    return TuneFrame(bar_steps=bar, pickup=pickup, meter=meter_index(str(meter)), mode=mode,
                     length=None if bars is None else bars * bar + pickup)


def usual_meter(table: FrameTable | None) -> Meter | None:
    """The meter (of ``METERS``) that most of the table's tunes are in (4/4 among those tied, else
    the first of them in ``METERS``); None without a table or with no tune in one of them."""
    if table is None:
        return None
    counts = np.bincount(table.meter[table.meter < len(METERS)], minlength=len(METERS))
    if not counts.any():
        return None
    tied = [meter for meter, count in zip(METERS, counts) if count == counts.max()]
    return COMMON_TIME if str(COMMON_TIME) in tied else parse_meter(tied[0])


def drawn_frames(table: FrameTable, frame: TuneFrame, seeds: Sequence[int], *, pickup: bool, length: bool,
                 min_bars: int = 1) -> list[TuneFrame]:
    """Per seed, ``frame`` with one training tune's in its meter of at least ``min_bars`` bars, drawn
    uniformly with the seed (the same seed, the same draw): its pickup (if ``pickup``), its length
    (if ``length``) and its bar repeats. A ``frame`` of a stated length (``--bars``) draws among the
    tunes of that length, for their repeats, where there are any. ``frame`` itself for every seed
    when there is nothing to draw."""
    fits = (table.bar_steps == frame.bar_steps) & (table.meter == frame.meter) & (table.bars >= min_bars)
    same_length = fits & (table.bars == frame.bars) if frame.bars is not None and not length else np.zeros_like(fits)
    form = bool(same_length.any()) and table.repeats is not None
    candidates = np.flatnonzero(same_length if form else fits)
    if not (pickup or length or form) or not len(candidates):
        if pickup or length:
            logger.info("no training tune of at least %d bars of %d steps (meter %d) to draw a frame from",
                        min_bars, frame.bar_steps, frame.meter)
        return [frame] * len(seeds)
    frames = []
    for seed in seeds:
        tune = int(candidates[np.random.default_rng([seed % 2**32, _DRAW_STREAM]).integers(len(candidates))])
        start = int(table.pickup[tune]) if pickup else frame.pickup
        bars = int(table.bars[tune]) if length else frame.bars
        end = None if bars is None else bars * frame.bar_steps + start
        repeats = table.tune_repeats(tune) if length or form else frame.repeats
        frames.append(dataclasses.replace(frame, pickup=start, length=end, repeats=repeats))
    return frames


def fed_steps(previous: int, token: int, end: int) -> int:
    """Tune steps fed after ``token`` (an index), ``previous`` before it: the end symbol ``end`` restarts the count."""
    return 0 if token == end else previous + 1


class CountedSteps:
    """``model.step`` for ``rows`` rows that each count their tune's steps, so that a meter-aware
    model is told each predicted step's place in its row's frame (``frames``: one for every row,
    or one per row); other models are stepped as they are."""

    def __init__(self, model: TokenModel, frames: TuneFrame | Sequence[TuneFrame], rows: int) -> None:
        self.model = model
        self.frames = [frames] * rows if isinstance(frames, TuneFrame) else list(frames)
        if len(self.frames) != rows:
            raise ValueError(f"{len(self.frames)} tune frames for {rows} rows")
        self._groups = {frame: np.array([row for row in range(rows) if self.frames[row] == frame])
                        for frame in dict.fromkeys(self.frames)}
        self.counts = np.zeros(rows, np.int64)
        self.end = model.symbols.index(DELIMITER) if DELIMITER in model.symbols else -1

    def repeated(self, rows: int) -> CountedSteps:
        """A counter of ``rows`` rows, each where row 0 of this one is (in its frame)."""
        copy = CountedSteps(self.model, self.frames[0], rows)
        copy.counts[:] = self.counts[0]
        return copy

    def step_inputs(self) -> dict[str, np.ndarray]:
        """Every row's conditioning at its count, int32 `[rows]` by name."""
        inputs: dict[str, np.ndarray] = {}
        for frame, rows in self._groups.items():
            for name, value in frame.step_inputs(self.counts[rows]).items():
                inputs.setdefault(name, np.zeros(len(self.counts), np.int32))[rows] = value
        return inputs

    def __call__(self, rows: Sequence[int], tokens: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feeds ``tokens`` (int32 `[R]`) to the rows ``rows`` in ``state`` (`[R, S]`): logits `[R, V]`, new state."""
        if not self.model.conditioning:
            return self.model.step(tokens, state)
        for row, token in zip(rows, tokens):
            self.counts[row] = fed_steps(int(self.counts[row]), int(token), self.end)
        inputs = {name: value[np.asarray(rows)] for name, value in self.step_inputs().items()}
        return self.model.step(tokens, state, inputs)

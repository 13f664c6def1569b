"""Where a timestep tune's steps fall in their bars: the conditioning of a meter-aware model.

A meter-aware timestep model reads, beside each symbol, four small integers about the step it
predicts (``signatures.STEP_CONDITIONING``): the position in the bar (16th steps since the bar's
downbeat), the meter, the mode and the bars left to the tune's end (when a length is requested).
The trainer computes them for every step of a corpus tune from its meter and its own pickup, the
client for every step it samples from the request, and ``generate`` in the graph; all three use
the definitions below (the TensorFlow twin is ``trainer.token_models.meter_conditioning``).

Step ``t`` counts from the tune's first step (0, after the primer's last ``/``); ``t = L``, one
past the last of ``L`` steps, is where the end symbol comes.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from serving.contract import signatures as sig

# The meters the model tells apart; any other (or none) is index len(METERS).
METERS = ("2/4", "3/4", "4/4", "3/8", "6/8", "2/2", "3/2", "6/4")
METER_CLASSES = len(METERS) + 1
MODES = ("major", "minor")
# Positions 0..MAX_BAR_STEPS - 1 (a bar of 12/4); a position past it reads as the last.
MAX_BAR_STEPS = 48
# Bars left 0..MAX_BARS_LEFT (the last: that many or more), then NO_LENGTH: none requested.
MAX_BARS_LEFT = 16
NO_LENGTH = MAX_BARS_LEFT + 1
BARS_LEFT_CLASSES = MAX_BARS_LEFT + 2


DEFAULT_BAR_STEPS = 16  # a tune without a meter, or with one that is no whole number of 16ths, reads as 4/4
_WRITTEN_METER = re.compile(r"[1-9][0-9]?/(1|2|4|8|16|32)")


def bar_steps_of(meter: str) -> int:
    """16th steps per bar of a meter written ``"N/D"`` (``"6/8"`` -> 12); ``DEFAULT_BAR_STEPS`` for
    ``""``, another spelling, or a bar that is no whole number of 16ths."""
    if not _WRITTEN_METER.fullmatch(meter):
        return DEFAULT_BAR_STEPS
    numerator, denominator = (int(part) for part in meter.split("/"))
    return 16 * numerator // denominator if (16 * numerator) % denominator == 0 else DEFAULT_BAR_STEPS


def meter_index(meter: str) -> int:
    """``"3/4"`` -> its index in ``METERS``; any other meter (or ``""``) -> ``len(METERS)``."""
    return METERS.index(meter) if meter in METERS else len(METERS)


def mode_index(mode: str) -> int:
    """``"major"`` / ``"minor"`` -> 0 / 1; ValueError naming any other mode (use ``mode_family``)."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")
    return MODES.index(mode)


def bar_positions(steps: np.ndarray, bar_steps: int, pickup: int) -> np.ndarray:
    """int `[...]` steps -> their positions in the bar `[...]`: ``(t - pickup) mod bar_steps``."""
    return np.mod(np.asarray(steps) - pickup, bar_steps)


def bars_left(steps: np.ndarray, tune_steps: int | None, bar_steps: int) -> np.ndarray:
    """int `[...]` steps -> bars from each to the end of a tune of ``tune_steps`` steps, rounded up
    (0 at the end itself); -1 everywhere when ``tune_steps`` is None (no length requested)."""
    steps = np.asarray(steps)
    if tune_steps is None:
        return np.full(steps.shape, -1, np.int64)
    return np.maximum(-((steps - tune_steps) // bar_steps), 0)


@dataclass(frozen=True)
class TuneFrame:
    """What the conditioning of one tune's steps depends on: its bar, pickup, meter, mode and, when
    a length is requested, ``length``: the step where it ends (``bars * bar_steps`` for ``--bars``)."""

    bar_steps: int
    pickup: int = 0
    meter: int = len(METERS)
    mode: int = 0
    length: int | None = None
    repeats: tuple[int, ...] = ()  # per bar after the pickup: the earlier bar it repeats, or -1 (``bar_repeats``)

    def __post_init__(self) -> None:
        if self.bar_steps < 1:
            raise ValueError(f"bar_steps must be >= 1, got {self.bar_steps!r}")
        if not 0 <= self.pickup < self.bar_steps:
            raise ValueError(f"pickup must be in 0..{self.bar_steps - 1} steps, got {self.pickup!r}")
        if not 0 <= self.meter < METER_CLASSES or not 0 <= self.mode < len(MODES):
            raise ValueError(f"meter index {self.meter!r} or mode index {self.mode!r} out of range")
        if self.length is not None and self.length < 1:
            raise ValueError(f"length must be >= 1 step or None, got {self.length!r}")
        wrong = [(bar, earlier) for bar, earlier in enumerate(self.repeats) if not -1 <= earlier < bar]
        if wrong:
            raise ValueError(f"a bar can only repeat an earlier bar (or -1), got (bar, repeats) {wrong[:3]}")

    @property
    def bars(self) -> int | None:
        """The full bars after the pickup, rounded up; None without a length."""
        return None if self.length is None else int(bars_left(self.pickup, self.length, self.bar_steps))

    def step_inputs(self, steps: np.ndarray) -> dict[str, np.ndarray]:
        """int `[...]` tune steps -> `step`'s conditioning inputs (``signatures.STEP_CONDITIONING``), int32 `[...]`."""
        steps = np.asarray(steps, np.int64)
        return {
            sig.BAR_POSITION: bar_positions(steps, self.bar_steps, self.pickup).astype(np.int32),
            sig.METER_INDEX: np.full(steps.shape, self.meter, np.int32),
            sig.MODE_INDEX: np.full(steps.shape, self.mode, np.int32),
            sig.BARS_LEFT: bars_left(steps, self.length, self.bar_steps).astype(np.int32),
        }

    def generate_inputs(self, rows: int) -> dict[str, np.ndarray]:
        """`generate`'s conditioning inputs (``signatures.GENERATE_CONDITIONING``) for ``rows`` rows of
        this tune; ValueError for a length that is no whole number of bars (`generate` takes bars)."""
        if self.length is not None and self.length % self.bar_steps:
            raise ValueError(f"a length of {self.length} steps is no whole number of {self.bar_steps}-step bars")
        values = {sig.BAR_STEPS: self.bar_steps, sig.PICKUP: self.pickup, sig.METER_INDEX: self.meter,
                  sig.MODE_INDEX: self.mode, sig.BARS: -1 if self.length is None else self.length // self.bar_steps}
        return {name: np.full(rows, value, np.int32) for name, value in values.items()}


def bar_repeats(steps: Sequence[object], pickup: int, bar_steps: int) -> tuple[int, ...]:
    """A tune's steps -> per bar after its ``pickup`` (as ``TuneFrame.bars`` counts them), the first
    earlier bar whose steps it repeats exactly, or -1 (always for a last, shorter bar): bars
    ``A B A B`` -> ``(-1, -1, 0, 1)``."""
    bars = [tuple(steps[start:start + bar_steps]) for start in range(pickup, len(steps), bar_steps)]
    first: dict[tuple, int] = {}
    for index, bar in enumerate(bars):
        if len(bar) == bar_steps:
            first.setdefault(bar, index)
    return tuple(first[bar] if len(bar) == bar_steps and first[bar] < index else -1 for index, bar in enumerate(bars))


@dataclass(frozen=True)
class FrameTable:
    """The training tunes' frames (a model's `tune_frames`), int `[N]` each: 16th steps per bar,
    pickup steps, meter index (``METERS``) and full bars after the pickup, rounded up; ``repeats``
    (None for an export that ships none): every tune's ``bar_repeats`` one after another, int
    `[sum of the tunes' full bars]`."""

    bar_steps: np.ndarray
    pickup: np.ndarray
    meter: np.ndarray
    bars: np.ndarray
    repeats: np.ndarray | None = None

    def __post_init__(self) -> None:
        sizes = {np.shape(value) for value in (self.bar_steps, self.pickup, self.meter, self.bars)}
        if len(sizes) != 1 or len(next(iter(sizes))) != 1:
            raise ValueError(f"a frame table needs four vectors of one length, got shapes {sorted(sizes)}")
        if self.repeats is not None and len(self.repeats) != self.bars.sum():
            raise ValueError(f"a frame table's repeats need one per bar ({self.bars.sum()}), got {len(self.repeats)}")

    @classmethod
    def of(cls, frames: list[TuneFrame]) -> FrameTable:
        """The table of tunes' frames, each with its ``length`` (and its ``repeats``, () for none)."""
        if any(frame.length is None for frame in frames):
            raise ValueError("every tune frame of a frame table needs its length")
        with_repeats = any(frame.repeats for frame in frames)
        unfit = [index for index, frame in enumerate(frames) if with_repeats and len(frame.repeats) != frame.bars]
        if unfit:
            raise ValueError(f"tune frames {unfit[:5]} need one bar repeat per bar, as the table's others have")
        rows = [(frame.bar_steps, frame.pickup, frame.meter, frame.bars) for frame in frames]
        repeats = np.array([bar for frame in frames for bar in frame.repeats], np.int32)
        return cls(*np.array(rows, np.int32).reshape(-1, 4).T, repeats=repeats if with_repeats else None)

    def tune_repeats(self, tune: int) -> tuple[int, ...]:
        """Tune ``tune``'s ``bar_repeats``; () when the table ships none."""
        if self.repeats is None:
            return ()
        start = int(self.bars[:tune].sum())
        return tuple(int(bar) for bar in self.repeats[start:start + int(self.bars[tune])])

    def outputs(self) -> dict[str, np.ndarray]:
        """The `tune_frames` signature's outputs (``signatures.TUNE_FRAME_OUTPUTS``, then ``BAR_REPEATS``)."""
        outputs = dict(zip(sig.TUNE_FRAME_OUTPUTS, (self.bar_steps, self.pickup, self.meter, self.bars)))
        return outputs if self.repeats is None else {**outputs, sig.BAR_REPEATS: self.repeats}

    @classmethod
    def from_outputs(cls, outputs: dict[str, np.ndarray]) -> FrameTable:
        """The table from a `tune_frames` response (``BAR_REPEATS`` optional: exports before it ship
        none); ValueError naming the outputs it lacks."""
        missing = [name for name in sig.TUNE_FRAME_OUTPUTS if name not in outputs]
        if missing:
            raise ValueError(f"a {sig.TUNE_FRAMES!r} response lacks the outputs {missing}")
        repeats = outputs.get(sig.BAR_REPEATS)
        return cls(*(np.asarray(outputs[name], np.int64).reshape(-1) for name in sig.TUNE_FRAME_OUTPUTS),
                   repeats=None if repeats is None else np.asarray(repeats, np.int64).reshape(-1))

"""What a user asks of a generated tune: its key, meter, length in bars, range, ending and form.

One request shape for every token model; each model kind takes what it can: timestep models
everything but the form (``timestep_constraints``), the ABC character model key, meter, bars,
ending and form (``constrained_rows.abc_rows``).
"""
from __future__ import annotations

import dataclasses

from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, Key, Meter


@dataclasses.dataclass(frozen=True)
class TuneRequest:
    """``low``/``high``: MIDI pitches of the written key (inclusive); ``form``: e.g. ``AABB``."""

    meter: Meter = COMMON_TIME
    key: Key = C_MAJOR
    bars: int | None = None
    low: int | None = None
    high: int | None = None
    end_on_tonic: bool = True
    chromatic: bool = False
    form: str | None = None

    def __post_init__(self) -> None:
        if self.bars is not None and self.bars < 1:
            raise ValueError(f"--bars must be >= 1, got {self.bars}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"--range is inverted: {self.low} > {self.high}")

"""What a user asks of a generated tune: its key, meter, length in bars, range, ending and form.

One request shape for every token model; each model kind takes what it can: timestep models
everything but the form (``timestep_constraints``), the ABC character model key, meter, bars,
ending and form (``constrained_rows.abc_rows``).
"""
from __future__ import annotations

import dataclasses

from preprocessing.melody.keys import Key, Meter


@dataclasses.dataclass(frozen=True)
class TuneRequest:
    """``meter``/``key``: None takes the primer's (else 4/4, C major: ``filled``); ``low``/``high``:
    MIDI pitches of the written key (inclusive); ``form``: e.g. ``AABB``."""

    meter: Meter | None = None
    key: Key | None = None
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

    def filled(self, key: Key | None, meter: Meter | None) -> TuneRequest:
        """The request with ``key`` / ``meter`` where it names none (a None argument fills nothing)."""
        return dataclasses.replace(self, key=self.key or key, meter=self.meter or meter)

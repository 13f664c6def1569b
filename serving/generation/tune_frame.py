"""A request's ``TuneFrame``: what a meter-aware timestep model is told about every step it samples.

From the request (or the primer's) meter (4/4 when none), the key's mode family, ``--bars`` and
the primer's pickup (the steps its tune sounds before the first downbeat; 0 for a primer that
starts on one, as the named primers do). The tune's steps count from the primer's last ``/``.
"""
from __future__ import annotations

from preprocessing.melody.keys import COMMON_TIME, Key, Meter, mode_family
from serving.contract.bar_position import TuneFrame, meter_index, mode_index  # noqa: F401 (TuneFrame: re-exported)
from serving.generation.timestep_constraints import steps_per_bar


def tune_frame(meter: Meter | None, key: Key | None, bars: int | None, pickup: int = 0) -> TuneFrame:
    """The frame of a tune in ``meter`` and ``key`` (None: 4/4, major), ``bars`` long (None: no length)."""
    meter = meter or COMMON_TIME
    mode = mode_index(mode_family(key.mode)) if key is not None else 0
    bar = steps_per_bar(meter)
    return TuneFrame(bar_steps=bar, pickup=pickup, meter=meter_index(str(meter)), mode=mode,
                     length=None if bars is None else bars * bar)


def fed_steps(previous: int, token: int, end: int) -> int:
    """Tune steps fed after ``token`` (an index), ``previous`` before it: the end symbol ``end`` restarts the count."""
    return 0 if token == end else previous + 1

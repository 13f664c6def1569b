"""bench/meter_tunes.py's bar reading: downbeat rests and notes held through the bar's middle."""
from __future__ import annotations

from bench.meter_tunes import bar_facts


def test_bars_are_cut_from_the_pickup_and_the_pickup_bar_is_not_counted() -> None:
    # 2/4 (8 steps) with a 2-step pickup: bar 1 starts with a rest, bar 2 holds a half note through its middle
    steps = ["60", "_"] + ["r", "_", "62", "_", "64", "_", "_", "_"] + ["65", "_", "_", "_", "_", "_", "_", "_"]
    assert bar_facts(steps, pickup=2, bar=8) == (2, 1, 1)


def test_a_note_struck_on_the_middle_step_is_no_tie_and_a_held_rest_is_a_downbeat_rest() -> None:
    steps = ["60", "_", "_", "_", "62", "_", "_", "_"] + ["_", "_", "_", "_", "r", "_", "_", "_"]
    assert bar_facts(steps, pickup=0, bar=8) == (2, 0, 0)  # struck on the middle step; a rest struck there
    assert bar_facts(["r", "_", "_", "_", "_", "_", "_", "_", "_", "60"], pickup=0, bar=8) == (2, 2, 0)

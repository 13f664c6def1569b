"""Where a tune stands in its form, and which bar lines may close the current bar.

``Bars`` counts the written bars of the current strain. A pickup (a first bar shorter than the
meter, at most two thirds of it) is allowed; then every strain's last bar is shorter by as much
(it completes the pickup), and every later strain opens with a pickup bar of the same length
(inside its repeat, as in O'Neill's: ``|:A|...|d3 d2:|:f|...``), so that each strain is a whole
number of bars as music21 and verovio read it. A pickup bar is not counted.
First and second endings are one bar each: the first ending's bar is not counted, the second
ending's is (so ``bars`` counts each pair once). In a form, repeated strains open with ``|:`` (or
the ``::`` / ``|:`` that closes the strain before) and close with ``:|`` / ``::``; without a form,
the tune is one strain and may open and close repeats of its own, kept balanced.
"""
from __future__ import annotations

from typing import NamedTuple

from preprocessing.melody.abc_grammar import FINAL_TICKS, Plan

# A bar line's resulting position in the form, and whether it ends a strain (the tonic rule).
Closings = dict[str, tuple["Bars", bool]]


class Bars(NamedTuple):
    """The position in the form; ``pickup`` is None while the first bar is still open. (A named
    tuple: the machine hashes one per state it caches.)"""

    strain: int = 0
    bar: int = 0
    pickup: int | None = None
    repeat_open: bool = False
    repeat_bars: bool = False  # the open repeat already holds a closed bar
    ending: int = 0
    need_second: bool = False  # ":|" closed a first ending: "[2" must open the next bar
    done: bool = False
    upbeat: bool = False  # a later strain's pickup bar (``pickup`` ticks) is still to be written


def strain_final(plan: Plan, bars: Bars) -> bool:
    """Whether the current bar must be the last bar of its strain (and so of the tune, without a form)."""
    count = plan.strains[bars.strain].bars
    return count is not None and bars.bar == count - 1


def target(plan: Plan, bars: Bars) -> tuple[int, bool]:
    """The latest tick at which the current bar may close, and whether it then ends a strain."""
    if bars.upbeat:
        return bars.pickup or 0, False
    if strain_final(plan, bars):
        return plan.bar_ticks - (bars.pickup or 0), True
    return plan.bar_ticks, False


def start_tokens(plan: Plan) -> dict[str, Bars]:
    """Bar lines the body may begin with: ``|:`` when a repeat may (or, in a form, must) open there."""
    return {"|:": Bars(repeat_open=True)} if plan.free or plan.strains[0].repeated else {}


def must_open(plan: Plan) -> bool:
    """Whether the body must begin with ``|:`` (a form whose first strain is repeated)."""
    return not plan.free and plan.strains[0].repeated


def markers(plan: Plan, bars: Bars) -> dict[str, Bars]:
    """Ending markers (``[1``, ``[2``) that may open the current bar."""
    if bars.need_second:
        return {"[2": bars._replace(need_second=False, ending=2)}
    if not (bars.repeat_open and bars.repeat_bars and bars.ending == 0):
        return {}
    if plan.free or strain_final(plan, bars):
        return {"[1": bars._replace(ending=1)}
    return {}


def closings(plan: Plan, bars: Bars, pos: int) -> Closings:
    """Bar lines that may close a bar written up to tick ``pos`` (before the tonic and tie rules)."""
    full = plan.bar_ticks
    if bars.upbeat:
        return {"|": (bars._replace(upbeat=False), False)} if pos == bars.pickup else {}
    found: Closings = {}
    # A pickup is at most two thirds of a bar (a reel's three-beat upbeat is a bar that starts late,
    # not a tune), and leaves the strain's last bar room for its final tonic.
    if bars.pickup is None and 0 < pos < full and 3 * pos <= 2 * full \
            and (not plan.end_on_tonic or full - pos >= FINAL_TICKS):
        opened = bars._replace(pickup=pos)
        found["|"] = (opened, False)
        if plan.free and not bars.repeat_open:
            found["|:"] = (opened._replace(repeat_open=True), False)
    short = full - (bars.pickup or 0)
    if strain_final(plan, bars):
        if pos == short:
            found.update(_strain_end(plan, bars))
        return found
    if pos == full:
        found.update(_inner(plan, bars))
    if plan.free and plan.strains[0].bars is None and pos == short and bars.ending != 1 \
            and not bars.repeat_open and bars.bar + 1 >= plan.min_bars:
        found["|]"] = (bars._replace(done=True), True)
    return found


def _first_ending_close(bars: Bars, ends_strain: bool) -> Closings:
    """``:|2`` (the second ending follows at once) or ``:|`` (then ``[2``); the bar is not counted."""
    closed = bars._replace(repeat_open=False, repeat_bars=False)
    return {":|2": (closed._replace(ending=2), ends_strain),
            ":|": (closed._replace(ending=0, need_second=True), ends_strain)}


def _inner(plan: Plan, bars: Bars) -> Closings:
    """Bar lines inside a strain, at a full bar."""
    if bars.ending == 1:
        return _first_ending_close(bars, False)
    counted = bars._replace(bar=bars.bar + 1, pickup=bars.pickup or 0, repeat_bars=bars.repeat_open, ending=0)
    if not plan.free:
        found: Closings = {"|": (counted, False)}
        if plan.strains[bars.strain].repeated and bars.bar + 2 == plan.strains[bars.strain].bars:
            found["|1"] = (counted._replace(ending=1), False)
        return found
    found = {"|": (counted, False), "||": (counted, False)}
    if not bars.repeat_open:
        found["|:"] = (counted._replace(repeat_open=True, repeat_bars=False), False)
    elif bars.ending == 0:
        found[":|"] = (counted._replace(repeat_open=False, repeat_bars=False), False)
        found["::"] = (counted._replace(repeat_bars=False), False)
        found["|1"] = (counted._replace(ending=1), False)
    return found


def _strain_end(plan: Plan, bars: Bars) -> Closings:
    """Bar lines that close a strain's last bar: the tune's end, or the way into the next strain."""
    if bars.ending == 1:
        return _first_ending_close(bars, True)
    done = bars._replace(done=True)
    closes_repeat = bars.repeat_open and bars.ending == 0
    if plan.free or bars.strain + 1 == len(plan.strains):
        return {(":|" if closes_repeat else "|]"): (done, True)}
    following = plan.strains[bars.strain + 1]
    moved = Bars(strain=bars.strain + 1, pickup=bars.pickup or 0, repeat_open=following.repeated,
                 upbeat=bool(bars.pickup))
    if closes_repeat:
        return {("::" if following.repeated else ":|"): (moved, True)}
    if following.repeated:
        return {"|:": (moved, True)}
    return {"|": (moved, True), "||": (moved, True)}

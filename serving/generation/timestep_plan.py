"""A constrained timestep request's rows: each seed's tune frame, its bar rules and the token budget.

Without ``--bars`` and ``--steps``, a meter-aware model's tune takes the length of one training
tune in its meter, drawn with its seed from the export's `tune_frames` (``tune_frame.drawn_frames``),
and, when the primer holds no notes, that tune's pickup too (on the client: the `generate`
signature counts bars from the tune's first step). Each row's constraints follow its frame
(``--bars`` counts the full bars after the pickup), and the budget is the longest row's.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from preprocessing.melody.keys import Key, Meter
from serving.contract import bar_rules
from serving.generation.timestep_constraints import TimestepConstraints
from serving.generation.token_model import TokenModel
from serving.generation.tune_frame import TuneFrame, drawn_frames, tune_frame
from serving.generation.tune_request import TuneRequest


@dataclasses.dataclass(frozen=True)
class TimestepPlan:
    """Per row: its tune frame (None for a model without conditioning) and its constraints (None
    without constraints); ``steps``: the tokens to sample after the primer."""

    frames: list[TuneFrame] | None
    constraints: list[TimestepConstraints] | None
    steps: int

    @property
    def has_forms(self) -> bool:
        """Some row's frame carries bar repeats (a drawn training tune's form)."""
        return bool(self.frames) and any(frame.repeats for frame in self.frames)


def plan_rows(model: TokenModel, request: TuneRequest | None, key: Key | None, meter: Meter | None,
              primer_ids: Sequence[int], pickup: int, seeds: Sequence[int], steps: int | None,
              default_steps: int, *, draw_pickup: bool) -> TimestepPlan:
    """The rows of a timestep request (None: no constraints) in ``key`` and ``meter`` for the primer
    ``primer_ids`` sounding ``pickup`` steps before its first downbeat; ``steps``: ``--steps`` or
    None. ``draw_pickup``: a primer without notes may take a drawn pickup."""
    bars = request.bars if request is not None else None
    frame = tune_frame(meter, key, bars, pickup) if model.conditioning else None
    frames = [frame] * len(seeds) if frame else None
    if request is None:
        return TimestepPlan(frames, None, steps or default_steps)
    stated = TimestepConstraints(request, model.symbols, pickup)
    rows: dict[tuple[int, int | None], TimestepConstraints] = {(pickup, bars): stated}  # by (pickup, bars)
    table = model.tune_frames if frame is not None else None
    if table is not None:
        position = stated.start(primer_ids).position  # -pickup: the primer holds no notes after its last "/"
        frames = drawn_frames(table, frame, seeds, pickup=draw_pickup and position == -pickup,
                              length=bars is None and steps is None,
                              min_bars=max(position, 0) // frame.bar_steps + 1)
    constraints = []
    for row in frames or [None] * len(seeds):
        start, row_bars = (row.pickup, row.bars) if row is not None else (pickup, bars)
        if (start, row_bars) not in rows:
            rows[start, row_bars] = TimestepConstraints(dataclasses.replace(request, bars=row_bars), model.symbols, start)
        constraints.append(rows[start, row_bars])
    budget = max(timestep_steps(row, primer_ids, steps, default_steps) for row in dict.fromkeys(constraints))
    return TimestepPlan(frames, constraints, budget)


def timestep_steps(constraints: TimestepConstraints, primer_ids: Sequence[int], steps: int | None,
                   default_steps: int) -> int:
    """A constrained timestep tune's token budget: ``steps`` when given, else what the request's bars
    need after the primer, else the codec's ``default_steps``."""
    if steps is not None:
        return steps
    bars = constraints.request.bars
    return constraints.tokens_needed(primer_ids, bars) if bars is not None else default_steps


def timestep_rules(constraints: TimestepConstraints, primer_ids: Sequence[int], steps: int) -> bar_rules.BarRules:
    """The bar rules of a tune sampled for ``steps`` tokens after ``primer_ids``: its bar limits
    counted from where the primer leaves the tune."""
    return constraints.rules(*constraints.bar_limits(constraints.start(primer_ids).position, steps))

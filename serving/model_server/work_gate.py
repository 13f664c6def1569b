"""A bound on the expensive signature runs in flight, so that cheap requests are not starved.

Every session of the process runs its ops on TensorFlow's one inter-op thread pool (a thread per
CPU). A `generate` of many rows over many steps is a long chain of ops that its pool thread keeps
scheduling on its own queue first; with as many such chains as pool threads, a small request's ops
wait until a chain ends: measured on lstm_erk with 2 CPUs, 4 runs of 256 rows x 512 steps made a
1-row, 16-step `generate` take 12 s instead of 20 ms (`bench/server_abuse.py`). So runs whose work
(rows x (primer length + steps)) reaches `EXPENSIVE_WORK` take one of `slots` places (default:
half the CPUs, at least one) and wait their turn; cheaper runs never wait.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator, Mapping

import numpy as np

from serving.contract.signatures import PRIMER, STEPS

LOGGER = logging.getLogger(__name__)
EXPENSIVE_WORK = 4096  # row-steps: 16 rows of 256 steps, or one row of 4096


def run_work(inputs: Mapping[str, np.ndarray]) -> int:
    """Row-steps of one run: rows x (primer length + most steps) with a primer and steps, else rows."""
    primer, steps = inputs.get(PRIMER), inputs.get(STEPS)
    if primer is not None and steps is not None and primer.ndim == 2 and steps.size:
        return primer.shape[0] * (primer.shape[1] + max(0, int(steps.max())))
    return max((array.shape[0] for array in inputs.values() if array.ndim), default=1)


def default_slots() -> int:
    return max(1, len(os.sched_getaffinity(0)) // 2)


class WorkGate:
    """At most `slots` runs of `EXPENSIVE_WORK` row-steps or more at once; the others pass freely."""

    def __init__(self, slots: int | None = None, expensive_work: int = EXPENSIVE_WORK) -> None:
        self.slots = default_slots() if slots is None else slots
        if self.slots < 1 or expensive_work < 1:
            raise ValueError(f"a work gate needs slots >= 1 and expensive_work >= 1, got {self.slots}, {expensive_work}")
        self.expensive_work = expensive_work
        self._places = threading.BoundedSemaphore(self.slots)

    @contextlib.contextmanager
    def admit(self, inputs: Mapping[str, np.ndarray]) -> Iterator[None]:
        """Hold a place for the block if the run is expensive (waiting for one first)."""
        work = run_work(inputs)
        if work < self.expensive_work:
            yield
            return
        if not self._places.acquire(blocking=False):
            LOGGER.debug("a run of %d row-steps waits for one of %d places", work, self.slots)
            self._places.acquire()
        try:
            yield
        finally:
            self._places.release()

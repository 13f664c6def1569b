"""The work gate: expensive runs wait for a place, cheap runs never do."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from serving.model_server.work_gate import EXPENSIVE_WORK, WorkGate, run_work


def generate(rows: int, primer: int, steps: int) -> dict[str, np.ndarray]:
    return {"primer": np.zeros((rows, primer), np.int32), "steps": np.full(rows, steps, np.int32),
            "seed": np.zeros(rows, np.int32)}


def test_work_is_rows_times_primer_plus_steps():
    assert run_work(generate(256, 512, 512)) == 256 * 1024
    assert run_work(generate(1, 4, 16)) == 20
    assert run_work({"token": np.zeros(8, np.int32), "state": np.zeros((8, 3), np.float32)}) == 8  # step: rows
    assert run_work({}) == 1  # vocabulary


def test_an_expensive_run_waits_while_a_cheap_one_passes():
    gate = WorkGate(slots=1)
    expensive, cheap = generate(EXPENSIVE_WORK, 1, 0), generate(1, 4, 16)
    second_in = threading.Event()

    def second() -> None:
        with gate.admit(expensive):
            second_in.set()

    with gate.admit(expensive):
        waiting = threading.Thread(target=second)
        waiting.start()
        assert not second_in.wait(0.3)  # the only place is taken
        with gate.admit(cheap):  # does not block
            pass
    assert second_in.wait(5)
    waiting.join()


def test_a_gate_needs_a_place():
    with pytest.raises(ValueError, match="slots >= 1"):
        WorkGate(slots=0)

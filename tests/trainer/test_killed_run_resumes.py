"""``python -m trainer.task`` rerun after a kill during a checkpoint write: it finishes, naming
and setting aside the checkpoint the kill left unreadable, and resumes from the one before.

The kill itself is not timed: its result is made deterministically, the newest resume state cut
to the 96 bytes a killed HDF5 write leaves, before the same command runs again in a fresh process.
(Starting afresh when no state is readable: ``test_checkpoints.py``.)
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from trainer import fitting, task

pytestmark = pytest.mark.train

SETTINGS = ["units=16", "window=16", "batch_size=4", "patience=5", "epochs=2"]


def _history_epochs(job_dir) -> list[int]:
    with open(job_dir / fitting.HISTORY_FILE) as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_the_same_command_finishes_after_a_kill_during_a_checkpoint_write(tiny_dataset, tmp_path):
    job_dir = tmp_path / "job"
    argv = ["--model", "lstm", "--data", str(tiny_dataset), "--job-dir", str(job_dir), "--verbose", "0",
            *[arg for item in SETTINGS for arg in ("--set", item)]]
    assert task.main(argv) == 0  # the first attempt, in process (the rerun is what matters)
    assert _history_epochs(job_dir) == [0, 1]
    killed = sorted((job_dir / "checkpoints" / "backup").glob("*.weights.h5"))[-1]
    with open(killed, "r+b") as handle:
        handle.truncate(96)

    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    again = subprocess.run([sys.executable, "-m", "trainer.task", *argv], cwd=REPO_ROOT, env=env,
                           capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert f"WARNING trainer.checkpoints: checkpoint {killed} cannot be used" in again.stderr
    [aside] = killed.parent.glob(f"{killed.name}.unreadable-*")
    assert aside.stat().st_size == 96  # set aside, not deleted
    assert "resuming after epoch 1" in again.stderr and _history_epochs(job_dir) == [0, 1, 1]
    assert (job_dir / fitting.METRICS_FILE).is_file()

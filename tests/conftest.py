"""Shared fixtures: a real preprocessing output of the tiny test corpus, made once per session (its
Beam job starts in the background as soon as the collected tests are known to need it)."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# `.venv/bin/pytest` (unlike `python -m pytest`) does not put the repository root on sys.path.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
from tests.helpers.early_start import EarlyStart  # noqa: E402 (needs the root on sys.path)

TINY_CORPUS = REPO_ROOT / "tests" / "testdata" / "tiny_corpus"
# Markers of slow tests (pytest.ini); a test with none of them is a unit test.
SLOW_MARKERS = ("beam", "train", "server", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks every test that is not beam/train/server/e2e as ``unit``, and every test that uses the
    tiny dataset (made by a real Beam run) as ``beam``."""
    for item in items:
        if "tiny_dataset" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.beam)
        if not any(item.get_closest_marker(name) for name in SLOW_MARKERS):
            item.add_marker(pytest.mark.unit)


def _preprocessing_command(*args: str) -> dict:
    """``python -m preprocessing.run ARGS`` from the repository root, as keyword arguments of subprocess."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    return {"args": [sys.executable, "-m", "preprocessing.run", *args], "cwd": REPO_ROOT, "env": env, "text": True}


def run_preprocessing_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs ``python -m preprocessing.run ARGS`` from the repository root; returns the finished process."""
    return subprocess.run(**_preprocessing_command(*args), capture_output=True, timeout=timeout)


class _TinyDatasetJob:
    """The tiny corpus's preprocessing command, started once in the background (2 worker processes),
    its output and log in a temporary folder removed at the end of the session."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tiny_dataset-"))
        self.output, self.log = self.root / "output", self.root / "job.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                **_preprocessing_command("--corpus", f"dir:{TINY_CORPUS}", "--output", str(self.output),
                                         "--direct_num_workers", "2"),
                stdout=log, stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 300) -> Path:
        """The finished output folder; RuntimeError with the job's log if it failed."""
        if self.process.wait(timeout=timeout) != 0:
            raise RuntimeError(f"preprocessing of the tiny corpus failed:\n{self.log.read_text(errors='replace')}")
        return self.output

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


_TINY_DATASET_JOB = EarlyStart("tiny_dataset", _TinyDatasetJob)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Starts the tiny dataset's Beam job now if a test to run needs it."""
    _TINY_DATASET_JOB.start_if_collected(session)


def pytest_sessionfinish() -> None:
    _TINY_DATASET_JOB.close()


def run_preprocessing_main(*args: str) -> int:
    """``preprocessing.run.main(ARGS)`` in this process (the job's flag and output checks without a
    process start; what it prints goes to this process's stderr); returns its exit status. The root
    logger's handlers and level, which main() replaces (``logging.basicConfig(force=True)``), are put back."""
    from preprocessing import run  # heavy: Beam and TensorFlow

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return run.main(list(args))
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


@pytest.fixture(scope="session")
def tiny_dataset() -> Path:
    """Folder written by the real Beam job (``python -m preprocessing.run``, 2 worker processes) for
    ``tests/testdata/tiny_corpus``, started when collection ended (``pytest_collection_finish``).

    Holds the TFDS dataset (``tfds.builder_from_directory``), vocabularies, stats and dead letters.
    Treat it as read-only: it is shared by every test of the session.
    """
    return _TINY_DATASET_JOB.get().wait()


@pytest.fixture
def ram_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh folder on TensorFlow's in-memory file system (``ram://``, the stand-in for ``gs://``),
    with TFDS taught to open it (``tests/helpers/ram_paths.py``); removed afterwards."""
    import tensorflow as tf  # heavy: only for the tests that use it

    from tests.helpers.ram_paths import install_epath_ram

    install_epath_ram(monkeypatch)
    root = f"ram://test-{uuid.uuid4().hex[:8]}"
    yield root
    try:
        tf.io.gfile.rmtree(root)
    except tf.errors.NotFoundError:
        pass  # nothing was written, or the RAM file system's listing named a file that is not there

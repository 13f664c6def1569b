"""Shared fixtures: a real preprocessing output of the tiny test corpus, made once per session."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# `.venv/bin/pytest` (unlike `python -m pytest`) does not put the repository root on sys.path.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
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


def run_preprocessing_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs ``python -m preprocessing.run ARGS`` from the repository root; returns the finished process."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, "-m", "preprocessing.run", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


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
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder written by the real Beam job (2 worker processes) for ``tests/testdata/tiny_corpus``.

    Holds the TFDS dataset (``tfds.builder_from_directory``), vocabularies, stats and dead letters.
    Treat it as read-only: it is shared by every test of the session.
    """
    output = tmp_path_factory.mktemp("tiny_dataset")
    process = run_preprocessing_cli(
        "--corpus", f"dir:{TINY_CORPUS}", "--output", str(output), "--direct_num_workers", "2"
    )
    if process.returncode != 0:
        raise RuntimeError(f"preprocessing of the tiny corpus failed:\n{process.stdout}\n{process.stderr}")
    return output


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

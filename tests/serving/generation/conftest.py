"""One model server over the committed ``lstm_erk`` and ``abc_irish`` for this folder's tests
(test_slot_sampling.py, test_vary.py), started once, in the background as soon as collection shows
that a test to run needs it: every test only reads what it serves."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from serving.model_server.launcher import RunningServer

SAVED_MODELS = Path(__file__).resolve().parents[3] / "saved_models"
COMMITTED = ("lstm_erk", "abc_irish")
_STARTED: list = []  # the BackgroundServer and its config folder, once started


def _start() -> None:
    from serving.demo import write_models_config
    from tests.helpers.background_server import BackgroundServer

    folder = Path(tempfile.mkdtemp(prefix="committed_models-"))
    write_models_config(SAVED_MODELS, list(COMMITTED), folder / "models.config")
    _STARTED.extend([BackgroundServer(list(COMMITTED), model_config_file=folder / "models.config"), folder])


def pytest_collection_finish(session: pytest.Session) -> None:
    if not session.config.option.collectonly and not _STARTED and any(
            "committed_server" in getattr(item, "fixturenames", ()) for item in session.items):
        _start()


def pytest_sessionfinish() -> None:
    if _STARTED:
        server, folder = _STARTED
        server.close()
        shutil.rmtree(folder, ignore_errors=True)
        _STARTED.clear()


@pytest.fixture(scope="session")
def committed_server() -> RunningServer:
    """A running `python -m serving.server` (``grpc_address``, ``rest_url``) over ``COMMITTED``.

    Session-scoped (a folder without ``__init__.py`` has no package scope): no test may change
    what it serves. Stopped when the session ends."""
    if not _STARTED:  # asked for by request.getfixturevalue
        _start()
    return _STARTED[0].running()

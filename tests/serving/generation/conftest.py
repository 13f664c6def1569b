"""One model server over the committed ``lstm_erk`` and ``abc_irish`` for this folder's tests
(test_slot_sampling.py, test_vary.py), started once, in the background as soon as collection shows
that a test to run needs it: every test only reads what it serves."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.helpers.background_server import BackgroundServer
from tests.helpers.early_start import EarlyStart

if TYPE_CHECKING:
    from serving.model_server.launcher import RunningServer

SAVED_MODELS = Path(__file__).resolve().parents[3] / "saved_models"
COMMITTED = ("lstm_erk", "abc_irish")


class _CommittedServer(BackgroundServer):
    """The server over ``COMMITTED``, its models.config in a temporary folder removed when it closes."""

    def __init__(self) -> None:
        from serving.demo import write_models_config

        self.folder = Path(tempfile.mkdtemp(prefix="committed_models-"))
        write_models_config(SAVED_MODELS, list(COMMITTED), self.folder / "models.config")
        super().__init__(list(COMMITTED), model_config_file=self.folder / "models.config")

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.folder, ignore_errors=True)


_COMMITTED_SERVER = EarlyStart("committed_server", _CommittedServer)


def pytest_collection_finish(session: pytest.Session) -> None:
    _COMMITTED_SERVER.start_if_collected(session)


def pytest_sessionfinish() -> None:
    _COMMITTED_SERVER.close()


@pytest.fixture(scope="session")
def committed_server() -> RunningServer:
    """A running `python -m serving.server` (``grpc_address``, ``rest_url``) over ``COMMITTED``.

    Session-scoped (a folder without ``__init__.py`` has no package scope): no test may change
    what it serves. Stopped when the session ends."""
    return _COMMITTED_SERVER.get().running()

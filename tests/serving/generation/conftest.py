"""One model server over the committed ``lstm_erk`` and ``abc_irish`` for this folder's tests
(test_slot_sampling.py, test_vary.py), started once: every test only reads what it serves."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

SAVED_MODELS = Path(__file__).resolve().parents[3] / "saved_models"
COMMITTED = ("lstm_erk", "abc_irish")


@pytest.fixture(scope="session")
def committed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A running `python -m serving.server` (``grpc_address``, ``rest_url``) over ``COMMITTED``.

    Session-scoped (a folder without ``__init__.py`` has no package scope): no test may change
    what it serves."""
    from serving.demo import write_models_config
    from serving.model_server.launcher import start_subprocess

    config = tmp_path_factory.mktemp("committed_models") / "models.config"
    write_models_config(SAVED_MODELS, list(COMMITTED), config)
    with start_subprocess(list(COMMITTED), model_config_file=config) as running:
        yield running

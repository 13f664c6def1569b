"""Fixtures shared by the serving tests, made once per session: the tiny VAE pair, the tiny token
models (tests/helpers/tiny_models.py) and a server over them and the tiny meter-aware LSTM
(test_client.py, test_meter_client.py, the page), a folder of
every kind and a server over it (test_cli_in_process.py loads it both ways; test_vae_cli.py). Every
test only reads them; one that changes models copies them first."""
from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

TINY_VAES = {"vae_notes_tiny": "vae_notes", "vae_rhythms_tiny": "vae_rhythms_cat"}  # name: preset
TINY_VAE_LENGTH = 24


@pytest.fixture(scope="session")
def tiny_vaes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding version 1 of each of ``TINY_VAES``: untrained (seed 3), ``TINY_VAE_LENGTH``
    events, hidden 16, latent 4; sigmoid notes, categorical rhythms. Read-only: tests copy it or
    serve it, none writes there."""
    from trainer.vae import export as vae_export
    from trainer.vae import model as vae
    from trainer.vae.config import VAE_PRESETS

    root = tmp_path_factory.mktemp("tiny_vaes")
    for name, preset in TINY_VAES.items():
        config = dataclasses.replace(VAE_PRESETS[preset], length=TINY_VAE_LENGTH, hidden_dim=16, latent_dim=4, seed=3)
        vae_export.export_vae(vae.build_vae(config), config, root / name)
    return root


@pytest.fixture(scope="session")
def tiny_token_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """(the folder ``tests.helpers.tiny_models.export_tiny_models`` wrote, the model names), exported
    once per session. Read-only: a test file copies it (``shutil.copytree``) to serve or change it."""
    from tests.helpers.tiny_models import export_tiny_models

    root = tmp_path_factory.mktemp("tiny_token_models")
    return root, export_tiny_models(root)


# The tiny meter-aware LSTM (tests/helpers/tiny_models.py) that ``tiny_token_server`` serves besides the
# token models: name -> whether its export ships TINY_TUNE_FRAMES (test_meter_client.py).
TINY_METER_MODELS = {"lstm_meter": True, "lstm_meter_unframed": False}


@pytest.fixture(scope="session")
def tiny_token_server(tiny_token_models, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A `python -m serving.server` (``grpc_address``, ``rest_url``) serving a copy of every tiny
    token model and ``TINY_METER_MODELS``, started once per session (test_client.py,
    test_meter_client.py, the page): tests that use it only read what it serves."""
    from serving.demo import write_models_config
    from serving.model_server.launcher import start_subprocess
    from tests.helpers.tiny_models import export_tiny_meter_lstm

    source, names = tiny_token_models
    saved_models = tmp_path_factory.mktemp("served_tiny_token_models")
    shutil.copytree(source, saved_models, dirs_exist_ok=True)
    for name, tune_frames in TINY_METER_MODELS.items():
        export_tiny_meter_lstm(saved_models / name, tune_frames=tune_frames)
    served = [*names, *TINY_METER_MODELS]
    config = saved_models / "models.config"
    write_models_config(saved_models, served, config)
    with start_subprocess(served, model_config_file=config) as running:
        yield running


ABC_VOCABULARY = sorted(set("ABCDEFGabcdefgz,'^_=|:[]()<>/-123456789 \nXLMK"))  # every character a tune needs
MIXED_SERVED = ("lstm_erk", "no_kind", "abc_wide", *TINY_VAES)  # lstm_han and no_step are only in the folder


@pytest.fixture(scope="session")
def mixed_models(tmp_path_factory: pytest.TempPathFactory, tiny_vaes, tiny_token_models) -> Path:
    """A folder of every kind: the tiny token models (lstm_erk, lstm_han, no_step, no_kind), an
    untrained ABC model ``abc_wide`` (seed 5) and the tiny VAE pair. Read-only."""
    import keras
    import numpy as np

    from serving.contract.signatures import TOKEN_CHARACTERS
    from trainer.token_models.builders import build_model
    from trainer.token_models.config import resolve_config
    from trainer.token_models.export import export_token_model

    root = tmp_path_factory.mktemp("mixed_models")
    shutil.copytree(tiny_token_models[0], root, dirs_exist_ok=True)
    keras.utils.set_random_seed(5)
    export_token_model(build_model(resolve_config("abc_lstm_seed"), np.ones(len(ABC_VOCABULARY))), ABC_VOCABULARY,
                       root / "abc_wide", warmup=False, model_kind=TOKEN_CHARACTERS)
    for name in TINY_VAES:
        shutil.copytree(tiny_vaes / name, root / name)
    return root


@pytest.fixture(scope="session")
def mixed_server(mixed_models, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A `python -m serving.server` serving ``MIXED_SERVED`` of ``mixed_models``, once per session
    (test_cli_in_process.py, test_vae_cli.py): tests only read what it serves."""
    from serving.demo import write_models_config
    from serving.model_server.launcher import start_subprocess

    config = tmp_path_factory.mktemp("mixed_config") / "models.config"
    write_models_config(mixed_models, MIXED_SERVED, config)
    with start_subprocess(list(MIXED_SERVED), model_config_file=config) as running:
        yield running

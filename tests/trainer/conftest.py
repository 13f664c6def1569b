"""Fixtures shared by the trainer tests, made once per session: tiny untrained VAE exports, a tiny
export of every model kind, and one `saved_model_cli run` process over all of the latter."""
from __future__ import annotations

import pathlib

import pytest

TINY_VAE_PRESETS = ("vae_notes", "vae_notes_cat", "vae_rhythms_cat")


@pytest.fixture(scope="session")
def tiny_vae_exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    """Per preset of ``TINY_VAE_PRESETS`` (sigmoid notes, categorical notes and rhythms): the base
    folder holding version 1 of an untrained VAE of ``tests.helpers.vae_tiny.tiny_config``. Read-only:
    tests share it (a test that writes a version exports its own)."""
    from tests.helpers.vae_tiny import tiny_config
    from trainer.vae import export as vae_export
    from trainer.vae import model as vae

    root = tmp_path_factory.mktemp("tiny_vaes")
    for preset in TINY_VAE_PRESETS:
        config = tiny_config(preset)
        vae_export.export_vae(vae.build_vae(config), config, root / preset)
    return {preset: root / preset for preset in TINY_VAE_PRESETS}


@pytest.fixture(scope="session")
def tiny_exports(tmp_path_factory, tiny_vae_exports) -> dict[str, tuple[pathlib.Path, list[str]]]:
    """Version folder and signatures to check of a tiny export of every kind: both token
    architectures, the characters model, the meter-aware LSTM with and without attention, the VAEs
    (``tests.helpers.cli_exports``). Read-only."""
    from tests.helpers.cli_exports import export_every_kind

    return export_every_kind(tmp_path_factory.mktemp("saved_models"), tiny_vae_exports)


@pytest.fixture(scope="session")
def tiny_cli_problems(tiny_exports, tmp_path_factory) -> dict[str, str]:
    """Per export of ``tiny_exports``, what `saved_model_cli run`'s steps got wrong ("" for nothing):
    one process runs them all (test_exports_under_saved_model_cli.py, test_meter_model.py,
    test_meter_attention.py)."""
    from tests.helpers.saved_model_cli import check_exports

    return check_exports(tiny_exports, tmp_path_factory.mktemp("cli"))

"""Fixtures shared by the trainer tests: tiny untrained VAE exports, written once per session."""
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

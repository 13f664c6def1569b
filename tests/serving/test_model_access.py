"""Where models are looked for when no folder is named, and the names in a models.config."""
from __future__ import annotations

from pathlib import Path

import pytest

from serving import model_access

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    """A current folder without saved_models, and no $FOLKGEN_MODELS_DIR."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(model_access.MODELS_DIR_VARIABLE, raising=False)
    return tmp_path


def test_the_flag_wins_then_the_variable_then_the_current_folder_then_the_repository(elsewhere, monkeypatch):
    assert model_access.models_dir_path() == str(REPO_ROOT / "saved_models")
    (elsewhere / "saved_models").mkdir()
    assert model_access.models_dir_path() == str(elsewhere / "saved_models")
    monkeypatch.setenv(model_access.MODELS_DIR_VARIABLE, "/from/the/variable")
    assert model_access.models_dir_path() == "/from/the/variable"
    assert model_access.models_dir_path("/from/the/flag") == "/from/the/flag"


def test_the_repository_config_names_the_committed_models():
    names = model_access.configured_model_names()
    assert {"lstm_erk", "abc_irish", "vae_notes_erk"} <= set(names)


@pytest.mark.parametrize("text, fragment", [(None, "does not exist"), ("model_config_list { nonsense", "cannot parse")])
def test_a_bad_models_config_is_named(tmp_path, text, fragment):
    path = tmp_path / "models.config"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ValueError, match=fragment) as raised:
        model_access.configured_model_names(str(path))
    assert str(path) in str(raised.value)

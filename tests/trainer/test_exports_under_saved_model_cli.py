"""Exports of every model kind run under the session-based loader of tensorflow_model_server.

Each tiny export is run signature by signature with TensorFlow's own `saved_model_cli run` steps in
a fresh process (one for all exports) and compared with the object-graph load here; the token
exports' warm-up requests replay through the local server's loader (the same session steps).
"""
from __future__ import annotations

import pathlib

import keras
import numpy as np
import pytest

from preprocessing.melody.novelty import TrainingIndex
from serving.contract import signatures as sig
from serving.contract.bar_rules import rule_inputs
from serving.model_server.servable import load_servable, run_warmup_requests
from tests.helpers.saved_model_cli import check_exports
from tests.helpers.tiny_models import VOCABULARY
from trainer.token_models.config import TrainConfig
from trainer.token_models.export import export_token_model
from trainer.token_models.lstm import build_lstm_model
from trainer.token_models.random_baseline import build_random_model

pytestmark = pytest.mark.server

TOKEN_SIGNATURES = [sig.GENERATE, sig.STEP, sig.VOCABULARY]
VAE_SIGNATURES = [sig.INFO, sig.ENCODE, sig.DECODE, sig.RECONSTRUCT, sig.SAMPLE]
CHARACTERS = list("XMLK:|abcdefg ABCDEFG2/\n")


def _lstm(vocabulary_size: int, **fields) -> keras.Model:
    keras.utils.set_random_seed(4)
    return build_lstm_model(TrainConfig(architecture="lstm", **fields), vocabulary_size)


@pytest.fixture(scope="module")
def exports(tmp_path_factory, tiny_vae_exports) -> dict[str, tuple[pathlib.Path, list[str]]]:
    """Export folder and signatures of a tiny model of every kind (and both token architectures)."""
    root = tmp_path_factory.mktemp("saved_models")
    timestep = _lstm(len(VOCABULARY), units=8)
    characters = _lstm(len(CHARACTERS), units=6, layers=2, input_encoding="embedding", embedding_dim=4)
    random = build_random_model(np.arange(1, len(VOCABULARY) + 1, dtype=np.float64))
    folders = {
        "lstm_timestep": export_token_model(timestep, VOCABULARY, root / "lstm", model_kind=sig.TOKEN_TIMESTEP,
                                            training_index=TrainingIndex(["Tune"], [["60:1"] * 8]).to_bytes()),
        "random_timestep": export_token_model(random, VOCABULARY, root / "random", model_kind=sig.TOKEN_TIMESTEP),
        "lstm_characters": export_token_model(characters, CHARACTERS, root / "abc", model_kind=sig.TOKEN_CHARACTERS),
    }
    exported = {name: (pathlib.Path(folder), TOKEN_SIGNATURES) for name, folder in folders.items()}
    exported["lstm_timestep"] = (exported["lstm_timestep"][0], [*TOKEN_SIGNATURES, sig.TRAINING_INDEX])
    for name, preset in (("vae_notes_sigmoid", "vae_notes"), ("vae_rhythms_categorical", "vae_rhythms_cat")):
        exported[name] = (tiny_vae_exports[preset] / "1", VAE_SIGNATURES)
    return exported


@pytest.fixture(scope="module")
def cli_problems(exports, tmp_path_factory) -> dict[str, str]:
    """Per export, what `saved_model_cli run`'s steps got wrong ("" for nothing): one process runs them all."""
    return check_exports(exports, tmp_path_factory.mktemp("cli"))


@pytest.mark.parametrize(
    "name", ["lstm_timestep", "random_timestep", "lstm_characters", "vae_notes_sigmoid", "vae_rhythms_categorical"]
)
def test_saved_model_cli_runs_every_signature_with_the_in_process_outputs(name, cli_problems) -> None:
    assert not cli_problems[name], cli_problems[name]


@pytest.mark.parametrize("name", ["lstm_timestep", "random_timestep", "lstm_characters"])
def test_warmup_requests_replay_under_the_session_loader(name, exports) -> None:
    folder, _ = exports[name]
    servable = load_servable(name, int(folder.name), str(folder))
    assert run_warmup_requests(servable) == 2  # one generate, one step
    tokens = servable.run(sig.GENERATE, {
        sig.PRIMER: np.zeros([1, 1], np.int32), sig.PRIMER_LENGTH: np.ones([1], np.int32),
        sig.STEPS: np.full([1], 5, np.int32), sig.TEMPERATURE: np.ones([1], np.float32),
        sig.TOP_K: np.zeros([1], np.int32), sig.TOP_P: np.ones([1], np.float32), sig.SEED: np.zeros([1], np.int32),
        **rule_inputs([None], servable.signature_defs[sig.GENERATE].inputs[sig.ALLOWED].tensor_shape.dim[1].size),
    })[sig.TOKENS]
    assert tokens.shape == (1, 5) and ((tokens >= 0) & (tokens < 64)).all()

"""Exports of every model kind run under the session-based loader of tensorflow_model_server.

Each tiny export (tests/helpers/cli_exports.py, made once per session by conftest.py) is run signature
by signature with TensorFlow's own `saved_model_cli run` steps in a fresh process (one for all exports,
the meter-aware ones of test_meter_model.py and test_meter_attention.py included) and compared with the
object-graph load here; the token exports' warm-up requests replay through the local server's loader
(the same session steps).
"""
from __future__ import annotations

import numpy as np
import pytest

from serving.contract import signatures as sig
from serving.contract.bar_rules import rule_inputs
from serving.model_server.servable import load_servable, run_warmup_requests

pytestmark = pytest.mark.server


@pytest.mark.parametrize(
    "name", ["lstm_timestep", "random_timestep", "lstm_characters", "vae_notes_sigmoid", "vae_rhythms_categorical"]
)
def test_saved_model_cli_runs_every_signature_with_the_in_process_outputs(name, tiny_cli_problems) -> None:
    assert not tiny_cli_problems[name], tiny_cli_problems[name]


@pytest.mark.parametrize("name", ["lstm_timestep", "random_timestep", "lstm_characters"])
def test_warmup_requests_replay_under_the_session_loader(name, tiny_exports) -> None:
    folder, _ = tiny_exports[name]
    servable = load_servable(name, int(folder.name), str(folder))
    assert run_warmup_requests(servable) == 2  # one generate, one step
    tokens = servable.run(sig.GENERATE, {
        sig.PRIMER: np.zeros([1, 1], np.int32), sig.PRIMER_LENGTH: np.ones([1], np.int32),
        sig.STEPS: np.full([1], 5, np.int32), sig.TEMPERATURE: np.ones([1], np.float32),
        sig.TOP_K: np.zeros([1], np.int32), sig.TOP_P: np.ones([1], np.float32), sig.SEED: np.zeros([1], np.int32),
        **rule_inputs([None], servable.signature_defs[sig.GENERATE].inputs[sig.ALLOWED].tensor_shape.dim[1].size),
    })[sig.TOKENS]
    assert tokens.shape == (1, 5) and ((tokens >= 0) & (tokens < 64)).all()

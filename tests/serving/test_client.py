"""The model client against a real `python -m serving.server` serving a tiny exported LSTM."""
from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from preprocessing.melody.keys import parse_key, parse_meter
from serving import client as model_client
from serving.contract import bar_rules
from serving.contract import signatures as sig
from serving.contract.sampling import SamplingSettings
from serving.generation.constrained_rows import TimestepRows
from serving.generation.timestep_constraints import TimestepConstraints
from serving.generation.token_model import TokenModel
from serving.generation.tokens import sample_melodies
from serving.generation.tune_request import TuneRequest
from serving.model_server.launcher import free_port
from serving.tensors import TensorInfo
from tests.helpers.tiny_models import UNITS, VOCABULARY

pytestmark = pytest.mark.server

FAST_FAILURE = model_client.RetryPolicy(timeout_s=5, window_s=0.05, first_backoff_s=0.05)


@pytest.fixture(scope="module")
def server(tiny_token_server):
    return tiny_token_server  # conftest.py's: the tiny token models, read-only


@pytest.fixture(scope="module", params=["grpc", "rest"])
def client(server, request):
    address = server.grpc_address if request.param == "grpc" else server.rest_url
    connected = model_client.connect(address, "lstm_erk", rest=request.param == "rest")
    yield connected
    connected.close()


@pytest.fixture()
def model(client):
    return TokenModel(client)


def test_vocabulary_comes_from_the_vocabulary_signature(model):
    assert model.symbols == VOCABULARY


def test_metadata_lists_the_token_signatures(client, model):
    assert set(sig.TOKEN_SIGNATURES) <= set(client.metadata())
    assert model.state_size == 2 * UNITS
    assert client.metadata()["step"].inputs["token"].dtype == "DT_INT32"


def test_metadata_shows_the_model_kind_the_export_states(client, model):
    outputs = client.metadata()[sig.VOCABULARY].outputs
    assert outputs[sig.MODEL_KIND] == TensorInfo("DT_STRING", ())
    assert model.model_kind == sig.TOKEN_TIMESTEP


def test_status_reports_the_available_version(client):
    assert [(status.version, status.state) for status in client.status()] == [(1, "AVAILABLE")]


def test_step_returns_log_probabilities_and_a_new_state(model):
    logits, state = model.step(np.array([3, 10], np.int32), np.zeros((2, 2 * UNITS), np.float32))
    assert logits.shape == (2, len(VOCABULARY)) and state.shape == (2, 2 * UNITS)
    np.testing.assert_allclose(np.exp(logits).sum(axis=1), 1.0, rtol=1e-4)
    assert np.abs(state).sum() > 0


def test_grpc_and_rest_steps_agree(server):
    grpc_client = model_client.connect(server.grpc_address, "lstm_erk")
    rest_client = model_client.connect(server.rest_url, "lstm_erk", rest=True)
    tokens, state = np.array([5, 6, 7], np.int32), np.full((3, 2 * UNITS), 0.1, np.float32)
    for got, want in zip(TokenModel(rest_client).step(tokens, state), TokenModel(grpc_client).step(tokens, state)):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    grpc_client.close()


@pytest.mark.parametrize("settings", [SamplingSettings(0.8, 0, 0.95), SamplingSettings(1.5, 5, 1.0),
                                      SamplingSettings(1.0, 1, 1.0)])
def test_client_side_sampling_matches_server_side_generate(model, settings):
    primers = [[0, 8, 1, 1, 1], [0, 12, 1], [0, 3, 1, 1, 1, 1, 1, 9]]
    seeds = [7, 8, 123456]
    steps = 40
    progress = []
    sampled = sample_melodies(model, primers, steps, settings, seeds,
                              on_step=lambda done, total: progress.append((done, total)))
    width = max(map(len, primers))
    generated = model.generate(
        primer=np.array([p + [0] * (width - len(p)) for p in primers]), primer_length=np.array([len(p) for p in primers]),
        steps=np.full(3, steps), temperature=np.full(3, settings.temperature), top_k=np.full(3, settings.top_k),
        top_p=np.full(3, settings.top_p), seed=np.array(seeds))
    assert sampled == generated.tolist()
    assert all(len(row) == steps for row in sampled)
    assert progress[-1] == (width + steps, width + steps)
    if settings.top_k == 1:  # greedy: the seed does not matter
        assert sample_melodies(model, primers[:1], steps, settings, [99]) == sampled[:1]


@pytest.mark.parametrize("request_fields", [
    {"bars": 3, "key": parse_key("G"), "meter": parse_meter("3/4"), "low": 57, "high": 72},
    {"key": parse_key("Ddor"), "end_on_tonic": False},
    {"bars": 2, "meter": parse_meter("6/8"), "chromatic": True},
])
def test_constrained_client_side_sampling_matches_server_side_generate(model, request_fields):
    """The bar rules in NumPy (client, over step) and in the graph (generate) give the same tokens."""
    constraints = TimestepConstraints(TuneRequest(**request_fields), VOCABULARY)
    primers = [[0, 8, 1, 1, 1], [0, 12, 1], [0, 3, 1, 1, 1, 1, 1, 9]]
    seeds, steps = [7, 8, 123456], 140
    settings = SamplingSettings(1.2, 0, 0.95)
    sampled = sample_melodies(model, primers, steps, settings, seeds, rules=TimestepRows(constraints, primers, steps))
    rules = [constraints.rules(*constraints.bar_limits(constraints.start(p).position, steps)) for p in primers]
    width = max(map(len, primers))
    generated = model.generate(
        primer=np.array([p + [0] * (width - len(p)) for p in primers]), primer_length=np.array([len(p) for p in primers]),
        steps=np.full(3, steps), temperature=np.full(3, settings.temperature), top_k=np.full(3, settings.top_k),
        top_p=np.full(3, settings.top_p), seed=np.array(seeds), rules=bar_rules.rule_inputs(rules, len(VOCABULARY)))
    assert sampled == [[int(t) for t in row if t >= 0] for row in generated]
    assert all(row[-1] == VOCABULARY.index("/") for row in sampled)  # every row ended at its end symbol
    if "bars" in request_fields:
        bar = constraints.bar
        assert all(constraints.start(p + row[:-1]).position == request_fields["bars"] * bar
                   for p, row in zip(primers, sampled))


def test_batched_sampling_equals_one_melody_at_a_time(model):
    settings = SamplingSettings(1.0, 0, 1.0)
    batched = sample_melodies(model, [[0, 8], [0, 20, 1]], 24, settings, [1, 2])
    alone = [sample_melodies(model, [primer], 24, settings, [seed])[0]
             for primer, seed in [([0, 8], 1), ([0, 20, 1], 2)]]
    assert batched == alone and batched[0] != batched[1]


def test_model_without_the_signature_is_named(server):
    no_step = model_client.connect(server.grpc_address, "no_step")
    assert TokenModel(no_step).symbols == VOCABULARY
    with pytest.raises(model_client.MissingSignatureError, match=r"model 'no_step' has no 'step' signature"):
        TokenModel(no_step).step(np.array([1], np.int32), np.zeros((1, 1), np.float32))
    no_step.close()


@pytest.mark.parametrize("rest", [False, True])
def test_unknown_model_is_named(server, rest):
    unknown = model_client.connect(server.rest_url if rest else server.grpc_address, "lstm_nope", rest=rest)
    with pytest.raises(model_client.ModelNotFoundError, match="'lstm_nope'"):
        TokenModel(unknown).symbols


@pytest.mark.parametrize("rest", [False, True])
def test_no_server_is_a_clear_error_after_retries(rest):
    address = f"127.0.0.1:{free_port()}"
    down = model_client.connect(address, "lstm_erk", rest=rest, retry=FAST_FAILURE)
    with pytest.raises(model_client.ServerUnavailableError,
                       match=r"no model server answers at .*127\.0\.0\.1:\d+: start one with `make serve`"):
        down.status()


@pytest.mark.parametrize("rest", [False, True])
def test_a_server_that_accepts_but_never_answers_fails_after_one_timeout(rest):
    with socket.socket() as listener:  # accepts connections (the kernel's backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        silent = model_client.connect(address, "lstm_erk", rest=rest,
                                      retry=model_client.RetryPolicy(timeout_s=1.0, window_s=10.0))
        began = time.monotonic()
        with pytest.raises(model_client.ServerUnavailableError, match="did not answer"):
            silent.status()
        assert time.monotonic() - began < 5  # one timeout, not retried for the window


def test_list_models_gives_versions_and_signatures(server):
    listed = model_client.list_models(server.grpc_address, ["lstm_erk", "no_step"])
    (erk, erk_versions, erk_signatures), (no_step, _, no_step_signatures) = listed
    assert erk == "lstm_erk" and erk_versions[0].state == "AVAILABLE"
    assert {"vocabulary", "step", "generate"} <= set(erk_signatures)
    assert no_step == "no_step" and set(no_step_signatures) == {"vocabulary"}

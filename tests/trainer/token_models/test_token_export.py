"""trainer/token_models/export.py: real SavedModels of tiny token models, loaded back in a fresh process."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from dataclasses import dataclass

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from serving.contract.signatures import TOKEN_TIMESTEP
from serving.contract.versions import WARMUP_REQUESTS
from trainer.token_models.config import TrainConfig
from trainer.token_models.export import export_token_model
from trainer.token_models.lstm import build_lstm_model
from trainer.token_models.random_baseline import build_random_model

pytestmark = pytest.mark.server

REPO = pathlib.Path(__file__).resolve().parents[3]
VOCAB_SIZE = 9
VOCABULARY = [f"sym{index}" for index in range(VOCAB_SIZE)]
SEQUENCE = [3, 1, 4, 1, 5, 0, 2, 6, 5, 3, 8, 7]
# (primer, steps, temperature, top_k, top_p, seed): greedy, temperature, top-k, top-p, mixed, empty.
ROWS = [
    ([2, 7, 1], 17, 1.0, 1, 1.0, 11),
    ([4], 23, 0.7, 0, 1.0, -5),
    ([1, 1], 9, 1.0, 3, 1.0, 2**31 - 1),
    ([8, 0, 3, 3], 30, 1.3, 0, 0.8, 4242),
    ([5], 12, 1.5, 5, 0.9, 0),
    ([6, 2], 0, 1.0, 0, 1.0, 99),
]



@dataclass(frozen=True)
class Exported:
    """One exported model, the Keras model it came from and its LSTM state size."""

    model: keras.Model
    directory: pathlib.Path
    state_size: int


def _lstm(encoding: str, units: int, layers: int) -> keras.Model:
    keras.utils.set_random_seed(7)
    config = TrainConfig(architecture="lstm", units=units, layers=layers, input_encoding=encoding, embedding_dim=5)
    return build_lstm_model(config, VOCAB_SIZE)


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Exported]:
    root = tmp_path_factory.mktemp("saved_models")
    one_hot = _lstm("one_hot", 16, 2)
    embedding = _lstm("embedding", 8, 1)
    frequencies = np.arange(1, VOCAB_SIZE + 1, dtype=np.float64)
    baseline = build_random_model(frequencies)
    (root / "random").mkdir()
    (root / "random" / "3").mkdir()  # an older version
    (root / "random" / "notes").mkdir()  # not a version
    def export(model: keras.Model, base: pathlib.Path, **options) -> pathlib.Path:
        return pathlib.Path(export_token_model(model, VOCABULARY, base, model_kind=TOKEN_TIMESTEP, **options))

    first_random = export(baseline, root / "random")
    return {
        "one_hot": Exported(one_hot, export(one_hot, root / "lstm"), 2 * 2 * 16),
        "embedding": Exported(embedding, export(embedding, root / "emb", warmup=True), 2 * 8),
        "random_first": Exported(baseline, first_random, 1),
        "random": Exported(baseline, export(baseline, root / "random"), 1),
    }


@pytest.fixture(scope="module")
def probe(exports: dict[str, Exported]) -> dict[str, dict]:
    """Every export loaded in one fresh Python process; its answers by export name."""
    names = ["one_hot", "embedding", "random"]
    request = {"exports": [str(exports[name].directory) for name in names], "rows": ROWS, "sequence": SEQUENCE}
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.helpers.export_probe", json.dumps(request)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.split("REPORT ", 1)[1])
    return {name: report[str(exports[name].directory)] for name in names}


def test_versions_increment_past_existing_integers_and_leave_no_staging(exports: dict[str, Exported]) -> None:
    assert exports["random_first"].directory.name == "4"
    assert exports["random"].directory.name == "5"
    assert exports["one_hot"].directory.name == "1"
    base = exports["random"].directory.parent
    assert sorted(path.name for path in base.iterdir()) == ["3", "4", "5", "notes"]


def test_a_file_as_base_path_is_rejected(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "occupied"
    target.write_text("not a folder")
    with pytest.raises(ValueError, match="occupied"):
        export_token_model(build_random_model(np.ones(3)), ["a", "b", "c"], target, model_kind=TOKEN_TIMESTEP)


def test_vocabulary_must_match_the_model_output() -> None:
    with pytest.raises(ValueError, match="2 symbols"):
        export_token_model(build_random_model(np.ones(3)), ["a", "b"], "/nonexistent/never-written", model_kind=TOKEN_TIMESTEP)


def test_unsupported_recurrent_layers_are_rejected(tmp_path: pathlib.Path) -> None:
    tokens = keras.Input((None,), dtype="int32")
    hidden = keras.layers.GRU(4, return_sequences=True, name="gru_layer")(keras.layers.Embedding(3, 2)(tokens))
    model = keras.Model(tokens, keras.layers.Dense(3, activation="softmax")(hidden))
    with pytest.raises(ValueError, match="gru_layer"):
        export_token_model(model, ["a", "b", "c"], tmp_path / "gru", model_kind=TOKEN_TIMESTEP)
    assert not (tmp_path / "gru").exists() or not any((tmp_path / "gru").iterdir())


@pytest.mark.parametrize("name", ["one_hot", "embedding", "random"])
def test_every_signature_answers_with_the_contract_shapes(
    name: str, exports: dict[str, Exported], probe: dict[str, dict]
) -> None:
    answer = probe[name]
    assert answer["signatures"] == ["generate", "serving_default", "step", "vocabulary"]
    assert answer["serving_default_inputs"] == sorted(
        ["primer", "primer_length", "steps", "temperature", "top_k", "top_p", "seed", "steps_per_bar", "beat_steps",
         "min_bars", "max_bars", "allowed", "tonic", "end_on_tonic"]
    )
    assert answer["symbols"] == VOCABULARY
    assert answer["state_size"] == exports[name].state_size
    assert answer["batch_step"] == {
        "logits": ["float32", [3, VOCAB_SIZE]],
        "state": ["float32", [3, exports[name].state_size]],
    }
    tokens = np.array(answer["generate"]["tokens"])
    assert answer["generate"]["dtype"] == "int32"
    assert tokens.shape == (len(ROWS), max(row[1] for row in ROWS))
    for row, sampled in zip(ROWS, tokens):
        assert ((sampled[: row[1]] >= 0) & (sampled[: row[1]] < VOCAB_SIZE)).all()
        assert (sampled[row[1] :] == -1).all()


@pytest.mark.parametrize("name", ["one_hot", "embedding", "random"])
def test_step_logits_are_the_keras_models_log_probabilities(
    name: str, exports: dict[str, Exported], probe: dict[str, dict]
) -> None:
    probabilities = exports[name].model(np.array([SEQUENCE], np.int32), training=False).numpy()[0]
    np.testing.assert_allclose(np.exp(probe[name]["sequence_logits"]), probabilities, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["one_hot", "embedding", "random"])
def test_generate_equals_client_sampling_over_step_and_rows_are_independent(
    name: str, probe: dict[str, dict]
) -> None:
    answer = probe[name]
    for row, batched, alone, client in zip(ROWS, answer["generate"]["tokens"], answer["alone"], answer["client"]):
        steps = row[1]
        assert batched[:steps] == client, row
        assert alone[:steps] == client, row
    different_seeds = {tuple(client) for client in answer["client"] if client}
    assert len(different_seeds) == len([row for row in ROWS if row[1]])


def test_greedy_rows_follow_the_argmax_of_the_step_logits(probe: dict[str, dict]) -> None:
    answer = probe["random"]
    most_likely = VOCAB_SIZE - 1  # the baseline's frequencies grow with the index
    greedy = [client for row, client in zip(ROWS, answer["client"]) if row[3] == 1]
    assert greedy and all(token == most_likely for client in greedy for token in client)


@pytest.mark.parametrize("name", ["one_hot", "random"])
def test_bad_requests_fail_with_invalid_argument(name: str, probe: dict[str, dict]) -> None:
    errors = probe[name]["errors"]
    assert "[temperature must be > 0:] [0]" in errors["temperature"]
    assert "[top_p must be in (0, 1]:] [1.5]" in errors["top_p"]
    assert "[primer_length must be >= 1:] [0]" in errors["primer_length"]
    assert "[token out of vocabulary range:] [1000]" in errors["token"]


def test_warmup_requests_parse_and_run(exports: dict[str, Exported], probe: dict[str, dict]) -> None:
    records = list(tf.data.TFRecordDataset(str(exports["one_hot"].directory / WARMUP_REQUESTS)))
    requests = [prediction_log_pb2.PredictionLog.FromString(r.numpy()).predict_log.request for r in records]
    assert [request.model_spec.signature_name for request in requests] == ["generate", "step"]
    assert sorted(requests[1].inputs) == ["state", "token"]
    assert probe["one_hot"]["warmup"] == [["generate", ["tokens"]], ["step", ["logits", "state"]]]


def test_saved_model_cli_lists_the_signatures(exports: dict[str, Exported]) -> None:
    cli = pathlib.Path(sys.executable).parent / "saved_model_cli"
    shown = subprocess.run(
        [str(cli), "show", "--all", "--dir", str(exports["one_hot"].directory)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    for signature in ("vocabulary", "step", "generate", "serving_default"):
        assert f"signature_def['{signature}']" in shown.stdout
    assert "outputs['tokens'] tensor_info" in shown.stdout

"""The local TF-Serving-compatible server, run as `python -m serving.server` on free ports.

The served model is a tiny real SavedModel keeping the token contract of serving/README.md, with
simple deterministic math: `generate` emits `(last primer token + i + seed + offset) % V`, `step`
gathers a row of a fixed log-probability table (so an out-of-range token fails inside the model).
"""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_log_pb2,
    prediction_service_pb2_grpc,
)

from serving.model_server.host import ServerOptions
from serving.model_server.launcher import free_port, start_in_process, start_subprocess

pytestmark = pytest.mark.server

SYMBOLS = ["/", "r", "_", "60", "62", "64", "65"]
VOCAB_SIZE = len(SYMBOLS)
MAX_BATCH_ROWS = 4
MAX_STEPS = 16
MAX_REQUEST_BYTES = 64 * 1024


class TinyTokenModel(tf.Module):
    """The token-model signatures over deterministic math; `offset` tells versions apart."""

    def __init__(self, offset: int) -> None:
        super().__init__()
        self.offset = tf.Variable(offset, dtype=tf.int32)
        scores = np.arange(VOCAB_SIZE * VOCAB_SIZE, dtype=np.float32).reshape(VOCAB_SIZE, VOCAB_SIZE) % 5
        self.log_probs = tf.Variable(tf.nn.log_softmax(scores), dtype=tf.float32)

    @tf.function(input_signature=[])
    def vocabulary(self) -> dict[str, tf.Tensor]:
        return {"symbols": tf.constant(SYMBOLS)}

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.int32, "token"), tf.TensorSpec([None, 1], tf.float32, "state")]
    )
    def step(self, token: tf.Tensor, state: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"logits": tf.gather(self.log_probs, token), "state": state + 1.0}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int32, "primer"),
            tf.TensorSpec([None], tf.int32, "primer_length"),
            tf.TensorSpec([None], tf.int32, "steps"),
            tf.TensorSpec([None], tf.float32, "temperature"),
            tf.TensorSpec([None], tf.int32, "top_k"),
            tf.TensorSpec([None], tf.float32, "top_p"),
            tf.TensorSpec([None], tf.int32, "seed"),
        ]
    )
    def generate(self, primer, primer_length, steps, temperature, top_k, top_p, seed) -> dict[str, tf.Tensor]:
        last = tf.gather(primer, primer_length - 1, batch_dims=1)
        positions = tf.range(tf.reduce_max(steps))
        tokens = (last[:, None] + positions[None, :] + seed[:, None] + self.offset) % VOCAB_SIZE
        return {"tokens": tf.where(positions[None, :] < steps[:, None], tokens, -1)}


def export_tiny_token_model(base_path: Path, version: int, offset: int) -> Path:
    """Write version `version` atomically (temp dir, then rename), as trainer exports do."""
    model = TinyTokenModel(offset)
    temp_dir = base_path / f"tmp-export-{version}"
    tf.saved_model.save(
        model,
        str(temp_dir),
        signatures={
            "serving_default": model.generate.get_concrete_function(),
            "generate": model.generate.get_concrete_function(),
            "step": model.step.get_concrete_function(),
            "vocabulary": model.vocabulary.get_concrete_function(),
        },
    )
    write_warmup_requests(temp_dir / "assets.extra" / "tf_serving_warmup_requests")
    return temp_dir.rename(base_path / str(version))


def write_warmup_requests(path: Path) -> None:
    """TF Serving's warmup file: PredictionLogs the server replays before a version is AVAILABLE."""
    path.parent.mkdir(parents=True)
    requests = [
        predict_request(generate_inputs(), signature="generate"),
        predict_request({"token": np.array([1], np.int32), "state": np.zeros((1, 1), np.float32)}, signature="step"),
    ]
    with tf.io.TFRecordWriter(str(path)) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


def expected_tokens(primer: list[list[int]], lengths: list[int], steps: list[int], seeds: list[int], offset: int) -> list[list[int]]:
    """What the fixture's `generate` computes, written out in plain Python."""
    width = max(steps)
    rows = []
    for row, length, count, seed in zip(primer, lengths, steps, seeds):
        last = row[length - 1]
        rows.append([(last + i + seed + offset) % VOCAB_SIZE if i < count else -1 for i in range(width)])
    return rows


@pytest.fixture(scope="module")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repo-like root: saved_models/tiny/1 (good), /3 (broken), a non-integer temp dir, and a config."""
    root = tmp_path_factory.mktemp("served")
    base = root / "saved_models" / "tiny"
    base.mkdir(parents=True)
    export_tiny_token_model(base, 1, offset=0)
    (base / "3").mkdir()
    (base / "3" / "saved_model.pb").write_bytes(b"not a SavedModel")
    (base / "tmp-export-9").mkdir()
    (root / "models.config").write_text(
        "model_config_list {\n"
        "  config { name: 'tiny' base_path: 'saved_models/tiny' model_platform: 'tensorflow'\n"
        "           version_labels { key: 'stable' value: 1 } }\n"
        "  config { name: 'later' base_path: 'saved_models/later' model_platform: 'tensorflow' }\n"
        "}\n"
    )
    return root


@pytest.fixture(scope="module")
def server(model_root: Path):
    flags = [
        "--file_system_poll_wait_seconds", "1",
        "--max_batch_rows", str(MAX_BATCH_ROWS),
        "--max_steps", str(MAX_STEPS),
        "--max_request_bytes", str(MAX_REQUEST_BYTES),
    ]
    # A relative config path and relative base paths: resolved against the server's cwd.
    with start_subprocess(["tiny"], model_config_file=Path("models.config"), extra_flags=flags, cwd=model_root) as running:
        yield running


@pytest.fixture(scope="module")
def prediction_stub(server):
    with grpc.insecure_channel(server.grpc_address) as channel:
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


@pytest.fixture(scope="module")
def model_stub(server):
    with grpc.insecure_channel(server.grpc_address) as channel:
        yield model_service_pb2_grpc.ModelServiceStub(channel)


def generate_inputs(primer=((3, 4, 0), (5, 0, 0)), lengths=(2, 1), steps=(4, 2), seeds=(7, 11)) -> dict[str, np.ndarray]:
    rows = len(lengths)
    return {
        "primer": np.array(primer, dtype=np.int32),
        "primer_length": np.array(lengths, dtype=np.int32),
        "steps": np.array(steps, dtype=np.int32),
        "temperature": np.ones(rows, dtype=np.float32),
        "top_k": np.zeros(rows, dtype=np.int32),
        "top_p": np.ones(rows, dtype=np.float32),
        "seed": np.array(seeds, dtype=np.int32),
    }


def predict_request(inputs: dict[str, np.ndarray], model: str = "tiny", signature: str = "", version: int | None = None, label: str = "") -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    if label:
        request.model_spec.version_label = label
    for name, array in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array))
    return request


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def post_json(url: str, body: object) -> tuple[int, dict]:
    return http("POST", url, json.dumps(body).encode())


def assert_still_serving(prediction_stub) -> None:
    response = prediction_stub.Predict(predict_request(generate_inputs()), timeout=30)
    assert tf.make_ndarray(response.outputs["tokens"]).shape == (2, 4)


# ---- gRPC ----


def test_grpc_generate_runs_the_model(prediction_stub):
    inputs = generate_inputs()
    response = prediction_stub.Predict(predict_request(inputs), timeout=30)
    assert response.model_spec.name == "tiny"
    assert response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"
    tokens = tf.make_ndarray(response.outputs["tokens"])
    assert tokens.dtype == np.int32
    assert tokens.tolist() == expected_tokens([[3, 4, 0], [5, 0, 0]], [2, 1], [4, 2], [7, 11], offset=0)


def test_grpc_step_vocabulary_output_filter_and_label(prediction_stub):
    token = np.array([0, 6], dtype=np.int32)
    state = np.zeros((2, 1), dtype=np.float32)
    request = predict_request({"token": token, "state": state}, signature="step", label="stable")
    request.output_filter.append("logits")
    response = prediction_stub.Predict(request, timeout=30)
    assert list(response.outputs) == ["logits"]
    logits = tf.make_ndarray(response.outputs["logits"])
    assert logits.shape == (2, VOCAB_SIZE)
    np.testing.assert_allclose(np.exp(logits).sum(axis=1), 1.0, rtol=1e-5)

    vocabulary = prediction_stub.Predict(predict_request({}, signature="vocabulary", version=1), timeout=30)
    assert [s.decode() for s in tf.make_ndarray(vocabulary.outputs["symbols"])] == SYMBOLS


def test_grpc_metadata_lists_every_signature(prediction_stub):
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "tiny"
    response = prediction_stub.GetModelMetadata(request, timeout=30)
    assert response.model_spec.version.value == 1
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signature_map)
    signatures = signature_map.signature_def
    assert {"serving_default", "generate", "step", "vocabulary"} <= set(signatures)
    assert set(signatures["generate"].inputs) == {"primer", "primer_length", "steps", "temperature", "top_k", "top_p", "seed"}
    assert signatures["step"].inputs["token"].dtype == tf.int32.as_datatype_enum
    assert signatures["vocabulary"].outputs["symbols"].dtype == tf.string.as_datatype_enum


def test_grpc_status_reports_available_and_failed_versions(model_stub):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "tiny"
    statuses = {s.version: s for s in model_stub.GetModelStatus(request, timeout=30).model_version_status}
    assert statuses[1].state == get_model_status_pb2.ModelVersionStatus.AVAILABLE
    assert statuses[3].state == get_model_status_pb2.ModelVersionStatus.END
    assert statuses[3].status.error_message  # the broken export says why
    assert 9 not in statuses  # the non-integer temp dir is ignored


def test_warmup_requests_ran_before_the_version_was_available(server):
    log = server.log()
    assert "Ran 2 warmup requests for tiny version 1" in log
    assert log.index("Ran 2 warmup requests for tiny version 1") < log.index("Serving gRPC on")


# ---- REST, as TF Serving's docs show it ----


def test_rest_row_and_columnar_predict(server):
    inputs = {name: array.tolist() for name, array in generate_inputs().items()}
    expected = expected_tokens(inputs["primer"], inputs["primer_length"], inputs["steps"], inputs["seed"], offset=0)
    instances = [{name: values[row] for name, values in inputs.items()} for row in range(2)]
    status, body = post_json(f"{server.rest_url}/v1/models/tiny:predict", {"instances": instances})
    assert status == 200, body
    assert body == {"predictions": expected}

    status, body = post_json(f"{server.rest_url}/v1/models/tiny/versions/1:predict", {"signature_name": "generate", "inputs": inputs})
    assert status == 200, body
    assert body == {"outputs": expected}

    status, body = post_json(f"{server.rest_url}/v1/models/tiny:predict", {"signature_name": "step", "instances": [{"token": 2, "state": [0.5]}]})
    assert status == 200, body
    assert body["predictions"][0]["state"] == [1.5]
    assert len(body["predictions"][0]["logits"]) == VOCAB_SIZE

    status, body = post_json(f"{server.rest_url}/v1/models/tiny:predict", {"signature_name": "vocabulary", "inputs": {}})
    assert (status, body) == (200, {"outputs": SYMBOLS})


def test_rest_status_and_metadata(server):
    status, body = http("GET", f"{server.rest_url}/v1/models/tiny/versions/1")
    assert status == 200
    assert body == {"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}

    status, body = http("GET", f"{server.rest_url}/v1/models/tiny/metadata")
    assert status == 200
    assert body["model_spec"] == {"name": "tiny", "signature_name": "", "version": "1"}
    generate = body["metadata"]["signature_def"]["signature_def"]["generate"]
    assert generate["inputs"]["steps"]["dtype"] == "DT_INT32"
    assert generate["outputs"]["tokens"]["tensor_shape"]["dim"] == [{"size": "-1", "name": ""}, {"size": "-1", "name": ""}]


def test_model_whose_base_path_does_not_exist_yet_is_not_found(server, model_stub):
    status, body = http("GET", f"{server.rest_url}/v1/models/later")
    assert status == 404 and "later" in body["error"]
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "later"
    with pytest.raises(grpc.RpcError) as raised:
        model_stub.GetModelStatus(request, timeout=30)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


# ---- bad requests: a clear error, and the server goes on ----

BAD_GRPC_REQUESTS = {
    "unknown model": (dict(model="nope"), generate_inputs(), grpc.StatusCode.NOT_FOUND, "nope"),
    "unknown version": (dict(version=42), generate_inputs(), grpc.StatusCode.NOT_FOUND, "42"),
    "unknown label": (dict(label="canary"), generate_inputs(), grpc.StatusCode.INVALID_ARGUMENT, "canary"),
    # TF Serving answers an unknown signature with FAILED_PRECONDITION.
    "unknown signature": (dict(signature="sing"), generate_inputs(), grpc.StatusCode.FAILED_PRECONDITION, "sing"),
    "wrong dtype": (
        dict(),
        {**generate_inputs(), "steps": np.array([4.0, 2.0], dtype=np.float32)},
        grpc.StatusCode.INVALID_ARGUMENT,
        "steps",
    ),
    "wrong shape": (
        dict(),
        {**generate_inputs(), "seed": np.array([[7], [11]], dtype=np.int32)},
        grpc.StatusCode.INVALID_ARGUMENT,
        "seed",
    ),
    "missing input": (
        dict(),
        {k: v for k, v in generate_inputs().items() if k != "top_p"},
        grpc.StatusCode.INVALID_ARGUMENT,
        "top_p",
    ),
    "extra input": (
        dict(),
        {**generate_inputs(), "mood": np.array([1, 2], dtype=np.int32)},
        grpc.StatusCode.INVALID_ARGUMENT,
        "mood",
    ),
    "steps over the limit": (
        dict(),
        generate_inputs(steps=(MAX_STEPS + 1, 2)),
        grpc.StatusCode.INVALID_ARGUMENT,
        str(MAX_STEPS + 1),
    ),
    "primer and steps over the work bound": (
        dict(),
        generate_inputs(primer=[[3] * (MAX_STEPS - 2)] * 2, lengths=(3, 1), steps=(4, 2)),
        grpc.StatusCode.INVALID_ARGUMENT,
        f"a primer of {MAX_STEPS - 2} tokens and 4 steps make {MAX_STEPS + 2} steps",
    ),
    "primer longer than the steps bound": (
        dict(),
        generate_inputs(primer=[[3] * (MAX_STEPS + 1)] * 2, lengths=(3, 1), steps=(1, 1)),
        grpc.StatusCode.INVALID_ARGUMENT,
        f"input 'primer' has {MAX_STEPS + 1} in dimension 1",
    ),
    "batch over the limit": (
        dict(),
        generate_inputs(primer=[(1,)] * (MAX_BATCH_ROWS + 1), lengths=[1] * (MAX_BATCH_ROWS + 1), steps=[2] * (MAX_BATCH_ROWS + 1), seeds=[0] * (MAX_BATCH_ROWS + 1)),
        grpc.StatusCode.INVALID_ARGUMENT,
        str(MAX_BATCH_ROWS + 1),
    ),
    "primer length out of range": (
        dict(),
        generate_inputs(lengths=(9, 1)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "is not in [0, 3)",
    ),
    "token id out of range": (
        dict(signature="step"),
        {"token": np.array([VOCAB_SIZE + 5], dtype=np.int32), "state": np.zeros((1, 1), dtype=np.float32)},
        grpc.StatusCode.INVALID_ARGUMENT,
        str(VOCAB_SIZE + 5),
    ),
}


def test_a_huge_declared_shape_is_refused_before_it_is_allocated(prediction_stub):
    request = predict_request(generate_inputs())
    primer = request.inputs["primer"]
    primer.Clear()
    primer.dtype = types_pb2.DT_INT32
    for size in (2, 100_000_000):  # 800 MB declared in a request of a few hundred bytes, no content
        primer.tensor_shape.dim.add(size=size)
    assert request.ByteSize() < 1000
    with pytest.raises(grpc.RpcError) as raised:
        prediction_stub.Predict(request, timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "declares shape [2, 100000000]: 800000000 bytes" in raised.value.details()
    assert_still_serving(prediction_stub)


@pytest.mark.parametrize("case", list(BAD_GRPC_REQUESTS))
def test_bad_grpc_request_is_refused_and_serving_goes_on(prediction_stub, case):
    spec, inputs, code, named = BAD_GRPC_REQUESTS[case]
    with pytest.raises(grpc.RpcError) as raised:
        prediction_stub.Predict(predict_request(inputs, **spec), timeout=30)
    assert raised.value.code() == code
    assert named in raised.value.details()
    assert_still_serving(prediction_stub)


def test_unknown_output_filter_and_metadata_field_are_invalid(prediction_stub):
    request = predict_request(generate_inputs())
    request.output_filter.append("melody")
    with pytest.raises(grpc.RpcError) as raised:
        prediction_stub.Predict(request, timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "melody" in raised.value.details()
    metadata = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["graph"])
    metadata.model_spec.name = "tiny"
    with pytest.raises(grpc.RpcError) as raised:
        prediction_stub.GetModelMetadata(metadata, timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "graph" in raised.value.details()


def rows(**overrides) -> list[dict]:
    inputs = {name: array.tolist() for name, array in generate_inputs().items()}
    instances = [{name: values[row] for name, values in inputs.items()} for row in range(2)]
    for instance in instances:
        instance.update(overrides)
    return instances


BAD_REST_REQUESTS = {
    "not JSON": ("tiny:predict", b"{instances: [", 400, "JSON"),
    "not an object": ("tiny:predict", b"[1, 2]", 400, "object"),
    "unknown model": ("nope:predict", json.dumps({"instances": rows()}).encode(), 404, "nope"),
    "unknown version": ("tiny/versions/42:predict", json.dumps({"instances": rows()}).encode(), 404, "42"),
    "unknown signature": ("tiny:predict", json.dumps({"signature_name": "sing", "instances": rows()}).encode(), 400, "sing"),
    "float for int": ("tiny:predict", json.dumps({"instances": rows(steps=2.5)}).encode(), 400, "steps"),
    "string for float": ("tiny:predict", json.dumps({"instances": rows(temperature="hot")}).encode(), 400, "temperature"),
    "ragged primer": ("tiny:predict", json.dumps({"inputs": {**{k: v.tolist() for k, v in generate_inputs().items()}, "primer": [[1, 2], [3]]}}).encode(), 400, "primer"),
    "missing input": ("tiny:predict", json.dumps({"instances": [{k: v for k, v in row.items() if k != "seed"} for row in rows()]}).encode(), 400, "seed"),
    "both forms": ("tiny:predict", json.dumps({"instances": rows(), "inputs": {}}).encode(), 400, "instances"),
    "steps over the limit": ("tiny:predict", json.dumps({"instances": rows(steps=MAX_STEPS + 1)}).encode(), 400, str(MAX_STEPS + 1)),
    "body over the limit": ("tiny:predict", b" " * (MAX_REQUEST_BYTES + 1), 429, str(MAX_REQUEST_BYTES)),
}


@pytest.mark.parametrize("case", list(BAD_REST_REQUESTS))
def test_bad_rest_request_is_refused_and_serving_goes_on(server, prediction_stub, case):
    path, body, http_status, named = BAD_REST_REQUESTS[case]
    status, answer = http("POST", f"{server.rest_url}/v1/models/{path}", body)
    assert status == http_status
    assert named in answer["error"]
    status, _ = post_json(f"{server.rest_url}/v1/models/tiny:predict", {"instances": rows()})
    assert status == 200
    assert_still_serving(prediction_stub)


def test_in_process_server_for_benchmarks_and_demos(model_root):
    options = ServerOptions(
        model_name="solo", model_base_path=model_root / "saved_models" / "tiny", port=0, rest_api_port=free_port()
    )
    with start_in_process(options, ["solo"]) as running:
        status, body = post_json(f"{running.rest_url}/v1/models/solo:predict", {"signature_name": "vocabulary", "inputs": {}})
        assert (status, body) == (200, {"outputs": SYMBOLS})
        with grpc.insecure_channel(running.grpc_address) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            response = stub.Predict(predict_request(generate_inputs(), model="solo"), timeout=30)
        assert response.model_spec.version.value == 1


# ---- version management (last: it changes the served version) ----


def test_new_version_is_switched_to_without_failing_a_request(server, model_root, prediction_stub, model_stub):
    served_versions: list[int] = []
    failures: list[str] = []
    stop = threading.Event()

    def client_loop() -> None:
        inputs = generate_inputs()
        while not stop.is_set():
            try:
                response = prediction_stub.Predict(predict_request(inputs), timeout=30)
            except grpc.RpcError as error:
                failures.append(f"{error.code()}: {error.details()}")
                continue
            version = response.model_spec.version.value
            offset = {1: 0, 4: 3}.get(version)
            if offset is None:
                failures.append(f"unexpected version {version}")
            elif tf.make_ndarray(response.outputs["tokens"]).tolist() != expected_tokens([[3, 4, 0], [5, 0, 0]], [2, 1], [4, 2], [7, 11], offset):
                failures.append(f"wrong tokens from version {version}")
            served_versions.append(version)

    thread = threading.Thread(target=client_loop)
    thread.start()
    try:
        export_tiny_token_model(model_root / "saved_models" / "tiny", 4, offset=3)
        deadline = time.monotonic() + 60
        while 4 not in served_versions[-3:] and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not failures, failures[:5]
    assert served_versions[0] == 1 and served_versions[-1] == 4
    switch = served_versions.index(4)
    assert set(served_versions[switch:]) == {4}, "once version 4 answers, version 1 never does again"

    deadline = time.monotonic() + 10
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "tiny"
    while time.monotonic() < deadline:
        states = {s.version: s.state for s in model_stub.GetModelStatus(request, timeout=30).model_version_status}
        if states.get(1) == get_model_status_pb2.ModelVersionStatus.END:
            break
        time.sleep(0.2)
    assert states[4] == get_model_status_pb2.ModelVersionStatus.AVAILABLE
    assert states[1] == get_model_status_pb2.ModelVersionStatus.END
    with pytest.raises(grpc.RpcError) as raised:
        prediction_stub.Predict(predict_request(generate_inputs(), version=1), timeout=30)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    status, body = http("GET", f"{server.rest_url}/v1/models/tiny/metadata")
    assert body["model_spec"]["version"] == "4"

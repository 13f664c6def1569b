"""The local server answers as TensorFlow Serving does (issue 10), over a real `python -m serving.server`.

Each expected text and code comes from tensorflow/serving's sources (serving/README.md names them):
unknown labels, malformed and case-varied REST paths, other HTTP methods, :classify / :regress and
gRPC Classify / Regress, metadata printed with default values, the HTTP code of each gRPC code, the
code of a failed load, and UNIMPLEMENTED calls that leave no traceback in the server log.
"""
from __future__ import annotations

import json
import urllib.parse
from http.client import HTTPConnection

import grpc
import pytest
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from serving.model_server.launcher import start_subprocess
from serving.model_server.status_codes import HTTP_STATUS
from tests.serving.model_server.test_server import (
    export_tiny_token_model,
    generate_inputs,
    http,
    post_json,
    predict_request,
)

pytestmark = pytest.mark.server

EXAMPLES = {"examples": [{"x": 1.0}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """`tiny`: version 1 good, 2 an unparsable saved_model.pb, 3 a directory without one; label stable -> 1."""
    root = tmp_path_factory.mktemp("fidelity")
    base = root / "tiny"
    base.mkdir()
    export_tiny_token_model(base, 1, offset=0)
    (base / "2").mkdir()
    (base / "2" / "saved_model.pb").write_bytes(b"not a SavedModel")
    (base / "3").mkdir()
    config = root / "models.config"
    config.write_text(
        "model_config_list { config { name: 'tiny' base_path: '%s' model_platform: 'tensorflow'\n"
        "  model_version_policy { all {} } version_labels { key: 'stable' value: 1 } } }\n" % base
    )
    with start_subprocess(["tiny"], model_config_file=config, extra_flags=["--max_request_bytes", "4096"]) as running:
        yield running


@pytest.fixture(scope="module")
def channel(server):
    with grpc.insecure_channel(server.grpc_address) as opened:
        yield opened


def rpc_error(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=30)
    return raised.value


def raw_request(server, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """Any method, any path (urllib would normalise them)."""
    url = urllib.parse.urlsplit(server.rest_url)
    connection = HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.request(method, path, body=body or None)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# ---- 1. an unknown version label is INVALID_ARGUMENT (server_core.cc) ----


def test_unknown_label_is_invalid_argument(server, channel):
    prediction = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    error = rpc_error(prediction.Predict, predict_request(generate_inputs(), label="canary"))
    assert (error.code(), error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "Unrecognized servable version label: canary")
    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = "tiny"
    status_request.model_spec.version_label = "canary"
    error = rpc_error(model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus, status_request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    for method, path in [("POST", "tiny/labels/canary:predict"), ("GET", "tiny/labels/canary"), ("GET", "tiny/labels/canary/metadata")]:
        status, body = http(method, f"{server.rest_url}/v1/models/{path}", b"{}" if method == "POST" else None)
        assert (status, body) == (400, {"error": "Unrecognized servable version label: canary"})


# ---- 2. malformed paths: 400 "Malformed request: METHOD PATH" (http_rest_api_handler.cc) ----


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/v1/models/tiny"),
        ("POST", "/v1/models/tiny/metadata"),
        ("GET", "/v1/models/tiny:predict"),
        ("GET", "/v1/models/tiny/versions/1/"),
        ("GET", "/v1/models/tiny/versions/x"),
        ("GET", "/v1/nothing"),
        ("POST", "/v1/models/tiny:explain"),
    ],
)
def test_malformed_rest_path_is_400(server, method, path):
    status, body = raw_request(server, method, path, b"{}" if method == "POST" else b"")
    assert (status, json.loads(body)) == (400, {"error": f"Malformed request: {method} {path}"})


def test_models_without_a_name_and_paths_outside_v1(server):
    status, body = raw_request(server, "GET", "/v1/models")
    assert (status, json.loads(body)) == (400, {"error": "Missing model name in request."})
    status, body = raw_request(server, "GET", "/healthz")
    assert status == 404 and "/healthz" in json.loads(body)["error"]


# ---- 3. :classify / :regress and gRPC Classify / Regress (classifier.cc, regressor.cc) ----

CLASSIFY_CASES = {
    "default signature has 7 inputs": ({}, 400, grpc.StatusCode.INVALID_ARGUMENT, "Expected one input Tensor."),
    "vocabulary has none": ({"signature_name": "vocabulary"}, 400, grpc.StatusCode.INVALID_ARGUMENT, "Expected one input Tensor."),
    "unknown signature": ({"signature_name": "sing"}, 400, grpc.StatusCode.INVALID_ARGUMENT, "No signature was found with the name: sing"),
}


@pytest.mark.parametrize("method", ["classify", "regress"])
@pytest.mark.parametrize("case", list(CLASSIFY_CASES))
def test_classify_and_regress_answer_as_tf_serving(server, channel, method, case):
    extra, http_code, grpc_code, message = CLASSIFY_CASES[case]
    status, body = post_json(f"{server.rest_url}/v1/models/tiny:{method}", {**EXAMPLES, **extra})
    assert (status, body) == (http_code, {"error": message})

    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    pb2, call = (classification_pb2.ClassificationRequest, stub.Classify) if method == "classify" else (regression_pb2.RegressionRequest, stub.Regress)
    request = pb2()
    request.model_spec.name = "tiny"
    request.model_spec.signature_name = extra.get("signature_name", "")
    error = rpc_error(call, request)
    assert (error.code(), error.details()) == (grpc_code, message)


def test_classify_resolves_the_model_and_checks_the_body_first(server, channel):
    status, body = post_json(f"{server.rest_url}/v1/models/nope:classify", EXAMPLES)
    assert (status, body) == (404, {"error": "Servable not found for request: Latest(nope)"})
    status, body = post_json(f"{server.rest_url}/v1/models/tiny/labels/canary:regress", EXAMPLES)
    assert (status, body) == (400, {"error": "Unrecognized servable version label: canary"})
    status, body = post_json(f"{server.rest_url}/v1/models/tiny/versions/1:classify", {"instances": []})
    assert (status, body) == (400, {"error": "When method is classify, key 'examples' is expected and was not found"})
    status, body = post_json(f"{server.rest_url}/v1/models/tiny:regress", {"examples": []})
    assert (status, body) == (400, {"error": "'examples' value is an empty array"})
    error = rpc_error(prediction_service_pb2_grpc.PredictionServiceStub(channel).Classify, classification_pb2.ClassificationRequest())
    assert (error.code(), error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")


# ---- 4. other HTTP methods: JSON errors, never Python's HTML page ----


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_malformed_requests(server, method):
    status, body = raw_request(server, method, "/v1/models/tiny")
    assert (status, json.loads(body)) == (400, {"error": f"Malformed request: {method} /v1/models/tiny"})


def test_head_and_methods_the_http_server_refuses(server):
    status, body = raw_request(server, "HEAD", "/v1/models/tiny")
    assert (status, body) == (400, b"")
    status, body = raw_request(server, "TRACE", "/v1/models/tiny")
    assert status == 501 and "TRACE" in json.loads(body)["error"]


# ---- 5. metadata prints default values (protobuf JSON with always_print_primitive_fields) ----


def test_metadata_prints_default_values(server):
    status, body = http("GET", f"{server.rest_url}/v1/models/tiny/metadata")
    assert status == 200
    assert body["model_spec"] == {"name": "tiny", "signature_name": "", "version": "1"}
    signatures = body["metadata"]["signature_def"]["signature_def"]
    tokens = signatures["generate"]["outputs"]["tokens"]
    assert tokens["dtype"] == "DT_INT32"
    assert tokens["tensor_shape"] == {"dim": [{"size": "-1", "name": ""}, {"size": "-1", "name": ""}], "unknown_rank": False}
    assert signatures["vocabulary"]["inputs"] == {}
    assert signatures["generate"]["method_name"] == "tensorflow/serving/predict"


# ---- 6. REST paths are case-insensitive; model names are not ----


def test_paths_are_case_insensitive(server):
    status, body = http("GET", f"{server.rest_url}/V1/MODELS/tiny/VERSIONS/1")
    assert status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"
    status, body = http("GET", f"{server.rest_url}/V1/Models/tiny/LABELS/stable/metadata")
    assert status == 200 and body["model_spec"]["version"] == "1"
    status, body = post_json(f"{server.rest_url}/V1/MODELS/tiny:predict", {"signature_name": "vocabulary", "inputs": {}})
    assert status == 200 and len(body["outputs"]) == 7
    # TF Serving compares the sub-resource and the verb exactly: METADATA answers the status, PREDICT is malformed.
    status, body = http("GET", f"{server.rest_url}/V1/MODELS/tiny/METADATA")
    assert status == 200 and "model_version_status" in body
    status, body = post_json(f"{server.rest_url}/v1/models/tiny:PREDICT", {"inputs": {}})
    assert (status, body) == (400, {"error": "Malformed request: POST /v1/models/tiny:PREDICT"})
    status, body = http("GET", f"{server.rest_url}/v1/models/TINY")
    assert (status, body) == (404, {"error": "Could not find any versions of model TINY"})


# ---- 7. the HTTP code of every gRPC code (http_server.cc ToHTTPStatusCode) ----


def test_http_status_map_is_tf_servings():
    expected = {
        "OK": 200, "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400, "DEADLINE_EXCEEDED": 504,
        "NOT_FOUND": 404, "ALREADY_EXISTS": 409, "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429,
        "FAILED_PRECONDITION": 400, "ABORTED": 409, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501,
        "INTERNAL": 500, "UNAVAILABLE": 503, "DATA_LOSS": 500, "UNAUTHENTICATED": 401,
    }
    assert {code.name: status for code, status in HTTP_STATUS.items()} == expected


def test_body_over_the_limit_is_resource_exhausted_429(server):
    status, body = http("POST", f"{server.rest_url}/v1/models/tiny:predict", b" " * 5000)
    assert (status, body) == (429, {"error": "request body of 5000 bytes exceeds --max_request_bytes=4096"})


# ---- 8. a failed version reports the code of the error that failed its load ----


def test_failed_versions_report_their_error_code(server, channel):
    status, body = http("GET", f"{server.rest_url}/v1/models/tiny")
    assert status == 200
    versions = {entry["version"]: entry for entry in body["model_version_status"]}
    assert versions["1"]["status"] == {"error_code": "OK", "error_message": ""}
    assert versions["2"]["state"] == "END" and versions["2"]["status"]["error_code"] == "DATA_LOSS"
    assert versions["3"]["state"] == "END" and versions["3"]["status"]["error_code"] == "NOT_FOUND"
    assert "Could not find SavedModel .pb or .pbtxt" in versions["3"]["status"]["error_message"]

    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "tiny"
    response = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(request, timeout=30)
    codes = {entry.version: entry.status.error_code for entry in response.model_version_status}
    assert codes == {1: 0, 2: grpc.StatusCode.DATA_LOSS.value[0], 3: grpc.StatusCode.NOT_FOUND.value[0]}


# ---- 9. UNIMPLEMENTED calls abort cleanly: no traceback in the log ----


def test_unimplemented_calls_abort_cleanly(server, channel):
    prediction = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    error = rpc_error(prediction.MultiInference, inference_pb2.MultiInferenceRequest())
    assert (error.code(), error.details()) == (grpc.StatusCode.UNIMPLEMENTED, "MultiInference is not implemented by the local server")
    models = model_service_pb2_grpc.ModelServiceStub(channel)
    error = rpc_error(models.HandleReloadConfigRequest, model_management_pb2.ReloadConfigRequest())
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "tiny"
    rpc_error(prediction.Classify, request)
    rpc_error(prediction.Regress, regression_pb2.RegressionRequest(model_spec=request.model_spec))

    log = server.log()
    assert "INFO serving.model_server.grpc_api: MultiInference refused: UNIMPLEMENTED" in log
    assert "INFO serving.model_server.grpc_api: Classify refused: INVALID_ARGUMENT Expected one input Tensor." in log
    assert "Traceback" not in log
    assert "Exception calling application" not in log

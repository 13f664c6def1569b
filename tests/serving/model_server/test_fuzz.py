"""A bounded, seeded fuzz of the local server (issue 15): bad requests over gRPC and REST.

Every bad request must get a TF Serving answer: over gRPC a status other than UNKNOWN / INTERNAL
(bytes that are no request message at all excepted: gRPC itself answers those INTERNAL, in C++ as
in Python), over REST an HTTP 4xx (501 for a method TF Serving's HTTP server does not know). After
each batch of 25 the server must still answer a good request correctly, and its RSS must stay
bounded. The counts of answers are in `SUMMARY`, shown in every assertion message.
"""
from __future__ import annotations

import collections
import json
import random
import time
import urllib.parse
from pathlib import Path

import grpc
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import predict_pb2

from serving.model_server.launcher import start_subprocess
from tests.helpers.fuzz_http import RestCase, good_rows, http_request, rest_cases, send_raw
from tests.helpers.fuzz_requests import PREDICT, GrpcCase, good_inputs, grpc_cases, predict_proto
from tests.serving.model_server.test_server import expected_tokens, export_tiny_token_model

pytestmark = pytest.mark.server

SEED = 15
GRPC_COUNT = REST_COUNT = 400
BATCH = 25
MAX_RSS_GROWTH_KB = 300 * 1024
GRPC_DECODE_FAILURE = "Exception deserializing request!"  # gRPC's own answer to bytes that do not parse
KNOWN_METHODS = (b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH")  # others: libevent's 501
SUMMARY: collections.Counter[str] = collections.Counter()
RSS_KB: dict[str, int] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("fuzz")
    base = root / "saved_models" / "tiny"
    base.mkdir(parents=True)
    export_tiny_token_model(base, 1, offset=0)
    (root / "models.config").write_text(
        "model_config_list { config { name: 'tiny' base_path: 'saved_models/tiny' model_platform: 'tensorflow'\n"
        "  version_labels { key: 'stable' value: 1 } } }\n"
    )
    flags = ["--max_batch_rows", "4", "--max_steps", "16", "--max_request_bytes", str(64 * 1024)]
    with start_subprocess(["tiny"], model_config_file=Path("models.config"), extra_flags=flags, cwd=root) as running:
        yield running


@pytest.fixture(scope="module")
def channel(server):
    with grpc.insecure_channel(server.grpc_address) as opened:
        yield opened


def rss_kb(server) -> int:
    """VmRSS of the server subprocess, in kB."""
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS line")


def summary() -> str:
    """The answers so far by code, and the server's RSS."""
    counts = ", ".join(f"{key}={count}" for key, count in sorted(SUMMARY.items()))
    return f"answers by code: {counts}; RSS kB: {RSS_KB}"


def call_raw(channel: grpc.Channel, method: str, payload: bytes) -> tuple[grpc.StatusCode, str]:
    """One unary call with identity serializers: the status code and details."""
    call = channel.unary_unary(method, request_serializer=lambda raw: raw, response_deserializer=lambda raw: raw)
    try:
        call(payload, timeout=30)
    except grpc.RpcError as error:
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


def check_grpc(channel: grpc.Channel, case: GrpcCase) -> None:
    code, details = call_raw(channel, case.method, case.payload)
    SUMMARY[f"grpc {code.name}"] += 1
    where = f"{case.kind} {case.method} {case.payload[:120]!r}: {code.name} {details!r}\n{summary()}"
    if code == grpc.StatusCode.INTERNAL and details == GRPC_DECODE_FAILURE:
        assert not case.parses(), f"a request that parses answered as undecodable: {where}"
        return
    assert code not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), where
    assert code != grpc.StatusCode.OK or case.value_level, f"a bad request was answered OK: {where}"


def check_rest(server, case: RestCase) -> None:
    url = urllib.parse.urlsplit(server.rest_url)
    status, body = send_raw(url.hostname, url.port, case.payload)
    SUMMARY[f"rest {status}"] += 1
    where = f"{case.kind} {case.payload[:160]!r}: {status} {body[:200]!r}\n{summary()}"
    assert status is not None, f"no answer (dropped connection): {where}"
    if status == 501:
        assert case.payload.split(b" ")[0] not in KNOWN_METHODS, f"501 for a method libevent knows: {where}"
        return
    assert 400 <= status < 500 or (status == 200 and case.value_level), where


def assert_good_answers(server, channel: grpc.Channel) -> None:
    """A good gRPC and a good REST request, answered with the right tokens."""
    code = grpc.StatusCode.OK
    stub = channel.unary_unary(PREDICT, request_serializer=predict_pb2.PredictRequest.SerializeToString,
                               response_deserializer=predict_pb2.PredictResponse.FromString)
    try:
        response = stub(predict_proto(good_inputs()), timeout=30)
    except grpc.RpcError as error:
        code = error.code()
    assert code == grpc.StatusCode.OK, f"a good gRPC request failed: {code}\n{summary()}"
    expected = expected_tokens([[3, 3, 3]] * 2, [2, 2], [4, 4], [0, 1], offset=0)
    assert tf.make_ndarray(response.outputs["tokens"]).tolist() == expected, summary()
    url = urllib.parse.urlsplit(server.rest_url)
    status, body = send_raw(url.hostname, url.port, http_request(
        "POST", "/v1/models/tiny:predict", json.dumps({"instances": good_rows()}).encode()))
    assert status == 200 and json.loads(body) == {"predictions": expected}, f"{status} {body[:200]!r}\n{summary()}"


def test_seeded_bad_requests_get_tf_serving_answers_and_serving_goes_on(server, channel):
    rng = random.Random(SEED)
    started = time.monotonic()
    assert_good_answers(server, channel)
    RSS_KB["start"] = rss_kb(server)
    cases: list[GrpcCase | RestCase] = [*grpc_cases(rng, GRPC_COUNT), *rest_cases(rng, REST_COUNT)]
    rng.shuffle(cases)
    for index, case in enumerate(cases, 1):
        if isinstance(case, GrpcCase):
            check_grpc(channel, case)
        else:
            check_rest(server, case)
        if index % BATCH == 0:
            assert_good_answers(server, channel)
    RSS_KB["end"] = rss_kb(server)
    elapsed = time.monotonic() - started
    SUMMARY["seconds"] = round(elapsed)
    assert RSS_KB["end"] - RSS_KB["start"] < MAX_RSS_GROWTH_KB, summary()
    assert elapsed < 40, summary()


# ---- what the fuzzer found (issue 15): each a named, deterministic case ----

def _rest(method: str, body: bytes, length: int | str | None = None) -> bytes:
    return http_request(method, "/v1/models/tiny:predict", body, length)


GOOD_BODY = json.dumps({"instances": good_rows()}).encode()
FOUND_REST = {
    # Python's json takes NaN / Infinity; TF Serving's rapidjson (default flags) does not: 400, not a run.
    "NaN temperature literal": (_rest("POST", GOOD_BODY.replace(b'"temperature": 1.0', b'"temperature": NaN')), "NaN"),
    "Infinity top_p literal": (_rest("POST", GOOD_BODY.replace(b'"top_p": 1.0', b'"top_p": -Infinity')), "Infinity"),
    # Content-Length not 1*DIGIT: was 500 (int() failed) or, negative, a read to EOF that then ran the model;
    # past the body: the body up to the client's EOF was run.
    "Content-Length 1e3": (_rest("POST", GOOD_BODY, "1e3"), "Content-Length: '1e3'"),
    "Content-Length -1": (_rest("POST", GOOD_BODY, -1), "Content-Length: '-1'"),
    "Content-Length past the body": (_rest("POST", GOOD_BODY, len(GOOD_BODY) + 50), "ended after"),
    "Content-Length 0x10": (_rest("POST", GOOD_BODY, "0x10"), "Content-Length: '0x10'"),
    # A request line that does not parse: was a bare JSON body with no status line (Python's HTTP/0.9 default).
    "request line HTTP/2.0": (b"GET /v1/models/tiny HTTP/2.0\r\n\r\n", "Invalid HTTP version (2.0)"),
    "request line of one word": (b"GARBAGE\r\n\r\n", "GARBAGE"),
    "request line of two words (HTTP/0.9)": (b"GET /v1/models/tiny\r\n\r\n", "Bad request syntax"),
    "request line with two spaces": (b"GET  HTTP/1.1\r\n\r\n", "Bad request syntax"),
    "request line of four words": (b"GET /v1/models/tiny HTTP/1.1 x\r\n\r\n", "'x'"),
    # Nesting deeper than Python's recursion limit: was 500 (RecursionError).
    "JSON nested 20000 deep": (_rest("POST", b"[" * 20000 + b"]" * 20000), "nested too deeply"),
}


@pytest.mark.parametrize("case", list(FOUND_REST))
def test_found_rest_request_is_400(server, channel, case):
    payload, named = FOUND_REST[case]
    url = urllib.parse.urlsplit(server.rest_url)
    status, body = send_raw(url.hostname, url.port, payload)
    assert status == 400, body
    assert named in json.loads(body)["error"]
    assert_good_answers(server, channel)


@pytest.mark.parametrize("dtype", [types_pb2.DT_VARIANT, types_pb2.DT_RESOURCE, 999])
def test_found_grpc_tensor_of_a_dtype_without_numpy_type_is_invalid(server, channel, dtype):
    request = predict_proto(good_inputs())
    request.inputs["steps"].dtype = dtype  # DT_VARIANT was UNKNOWN: `KeyError: 21` in tf.make_ndarray
    code, details = call_raw(channel, PREDICT, request.SerializeToString())
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert "steps" in details
    assert_good_answers(server, channel)

"""Strict HTTP framing of the REST server (issue 15): what http.server let through is refused with 400.

Each request is raw bytes on a socket to a real `RestHttpServer` (waitress) on loopback, over an empty
model registry: a request that gets past the framing is answered 404 by the API, one that does not is
400 from the framing, always TF Serving's JSON `{"error": ...}`.
"""
from __future__ import annotations

import json
import socket

import pytest

from serving.model_server import inference
from serving.model_server.registry import ModelRegistry
from serving.model_server.rest import RestApi
from serving.model_server.rest_http import RestHttpServer

MAX_REQUEST_BYTES = 4096
NOT_FOUND = (404, {"error": "Servable not found for request: Latest(tiny)"})  # past the framing: the API's answer


@pytest.fixture(scope="module")
def address():
    limits = inference.Limits(max_request_bytes=MAX_REQUEST_BYTES)
    server = RestHttpServer(RestApi(ModelRegistry([]), limits), "127.0.0.1", 0, threads=2, request_timeout=30.0,
                            max_request_bytes=MAX_REQUEST_BYTES)
    server.start()
    yield server.server_address
    server.stop()


def exchange(address: tuple[str, int], payload: bytes, half_close: bool = True) -> bytes:
    """Write `payload`, half-close (unless told not to), read until the server closes: every byte it sent."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(payload)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def answers(raw: bytes) -> list[tuple[int, dict]]:
    """Every response in `raw` (Content-Length framed): (status, JSON body)."""
    found = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:"))
        found.append((int(lines[0].split()[1]), json.loads(rest[:length])))
        raw = rest[length:]
    return found


def post(headers: list[str], body: bytes) -> bytes:
    head = ["POST /v1/models/tiny:predict HTTP/1.1", "Host: test", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def test_a_good_request_passes_the_framing(address):
    assert answers(exchange(address, post(["Content-Length: 2"], b"{}"))) == [NOT_FOUND]


def test_pipelined_requests_on_one_connection_are_answered_in_order(address):
    first = b"GET /v1/models/first HTTP/1.1\r\nHost: test\r\n\r\n"
    second = b"GET /v1/models/second HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    assert [body["error"] for _, body in answers(exchange(address, first + second))] == [
        "Could not find any versions of model first", "Could not find any versions of model second"
    ]


@pytest.mark.parametrize("declared", ["-1", "-0", "+2", "2e0", "0x2", "", "2 2"])
def test_a_content_length_that_is_not_digits_is_400(address, declared):
    (status, body), = answers(exchange(address, post([f"Content-Length: {declared}"], b"{}")))
    assert (status, body) == (400, {"error": f"Invalid Content-Length: {declared!r}"})


@pytest.mark.parametrize("lengths", [("2", "2"), ("2", "60"), ("60", "2")])
def test_duplicate_content_length_is_400(address, lengths):
    headers = [f"Content-Length: {length}" for length in lengths]
    (status, body), = answers(exchange(address, post(headers, b"{}" + b" " * 58)))
    assert status == 400 and body["error"].startswith("More than one Content-Length header")


SMUGGLED = b"GET /v1/models/smuggled HTTP/1.1\r\nHost: test\r\n\r\n"


@pytest.mark.parametrize("framing", [
    ["Content-Length: 2", f"Content-Length: {2 + len(SMUGGLED)}"],
    ["Content-Length: 2", "Transfer-Encoding: chunked"],
    ["Transfer-Encoding: chunked", "Content-Length: 2"],
])
def test_a_request_smuggled_in_leftover_body_bytes_is_not_answered(address, framing):
    raw = exchange(address, post(framing, b"{}" + SMUGGLED), half_close=False)  # the server closes
    assert raw.count(b"HTTP/1.1 ") == 1 and b"smuggled" not in raw
    (status, _), = answers(raw)
    assert status == 400


@pytest.mark.parametrize("line", ["BadLine", "X-Folded: a\r\n continued", "Content-Length 2"])
def test_a_header_line_without_a_colon_or_folded_is_400(address, line):
    (status, body), = answers(exchange(address, post(["Content-Length: 2", line], b"{}")))
    assert status == 400
    assert body["error"].startswith(("Header line without a colon", "Folded header line"))


@pytest.mark.parametrize("line, named", [
    (b"GET /v1/models/tiny", "Bad request syntax ('GET /v1/models/tiny')"),  # HTTP/0.9
    (b"GET /v1/models/tiny HTTP/2.0", "Invalid HTTP version (2.0)"),
    (b"GET /v1/models/tiny HTTP/1.x", "Bad request version ('HTTP/1.x')"),
    (b"GET  /v1/models/tiny HTTP/1.1", "Bad request syntax"),
])
def test_a_request_line_that_is_not_method_target_version_is_400(address, line, named):
    (status, body), = answers(exchange(address, line + b"\r\nHost: test\r\n\r\n"))
    assert status == 400 and named in body["error"]


def test_a_body_over_the_limit_is_429_unread(address):
    declared = post([f"Content-Length: {MAX_REQUEST_BYTES + 1}"], b"")  # no body sent: refused on the headers
    assert answers(exchange(address, declared)) == [
        (429, {"error": f"request body of {MAX_REQUEST_BYTES + 1} bytes exceeds --max_request_bytes={MAX_REQUEST_BYTES}"})
    ]
    chunk = b"%x\r\n%s\r\n" % (MAX_REQUEST_BYTES + 1, b" " * (MAX_REQUEST_BYTES + 1))
    (status, body), = answers(exchange(address, post(["Transfer-Encoding: chunked"], chunk + b"0\r\n\r\n")))
    assert status == 429 and f"--max_request_bytes={MAX_REQUEST_BYTES}" in body["error"]


def test_a_client_still_sending_a_refused_body_reads_the_answer(address):
    """The server lingers after a refusal: a 1 MiB body it will not read ends in its 429, not a reset."""
    body = b" " * (1 << 20)
    (status, answer), = answers(exchange(address, post([f"Content-Length: {len(body)}"], body)))
    assert status == 429 and f"{len(body)} bytes" in answer["error"]


def test_a_chunked_body_within_the_limit_reaches_the_api(address):
    (status, body), = answers(exchange(address, post(["Transfer-Encoding: chunked"], b"2\r\n{}\r\n0\r\n\r\n")))
    assert (status, body) == NOT_FOUND


def test_a_body_cut_short_by_the_client_is_400_not_run(address):
    (status, body), = answers(exchange(address, post(["Content-Length: 50"], b"{}")))
    assert (status, body) == (400, {"error": "request body ended after 2 of its Content-Length 50 bytes"})

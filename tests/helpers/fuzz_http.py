"""Seeded bad REST requests for the model server's fuzz test, written whole to a raw socket.

Raw bytes, so that a request may carry what `http.client` would not send: a Content-Length that
lies, a bad method or path, a body that is not UTF-8. The client half-closes after each request,
so a body shorter than its Content-Length ends at EOF as it would when a client gives up.
"""
from __future__ import annotations

import dataclasses
import json
import random
import socket

from tests.helpers.fuzz_requests import good_inputs


@dataclasses.dataclass(frozen=True)
class RestCase:
    """One raw HTTP request; `value_level`: odd values a model may run (200 is fine)."""

    kind: str
    payload: bytes
    value_level: bool = False


def http_request(method: str, path: str, body: bytes = b"", length: int | str | None = None,
                 headers: tuple[str, ...] = ()) -> bytes:
    """The bytes of an HTTP/1.1 request (`length`: the Content-Length to declare, default the true one)."""
    declared = len(body) if length is None else length
    head = [f"{method} {path} HTTP/1.1", "Host: fuzz", "Content-Type: application/json", "Connection: close",
            f"Content-Length: {declared}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def send_raw(host: str, port: int, payload: bytes, timeout: float = 20.0) -> tuple[int | None, bytes]:
    """Write the request, half-close, read to EOF: the status code (None if no answer) and the body."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    if not answer.startswith(b"HTTP/1."):
        return None, answer
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def good_rows() -> list[dict]:
    """The row form of a good `generate` request."""
    columns = {name: array.tolist() for name, array in good_inputs().items()}
    return [{name: values[row] for name, values in columns.items()} for row in range(2)]


def _post(body: object, path: str = "/v1/models/tiny:predict") -> bytes:
    return http_request("POST", path, json.dumps(body).encode())


def rest_cases(rng: random.Random, count: int) -> list[RestCase]:
    """`count` seeded bad REST requests."""
    names = list(good_inputs())

    def row_values() -> RestCase:
        rows = good_rows()
        name = rng.choice(["steps", "temperature", "top_p", "primer_length", "seed", "top_k"])
        value = rng.choice([-1, 0, 2**31, 2**63, -(2**70), 1e308, 0.5, True, None, "7", [], {}, {"b64": "AA=="}])
        rows[rng.randrange(2)][name] = value
        return RestCase("odd input values", _post({"instances": rows}), value_level=True)

    def non_finite() -> RestCase:
        rows = good_rows()
        rows[0][rng.choice(["temperature", "top_p"])] = rng.choice(["NaN", "Infinity", "-Infinity"])
        body = json.dumps({"instances": rows})
        for literal in ("NaN", "-Infinity", "Infinity"):
            body = body.replace(f'"{literal}"', literal)
        payload = http_request("POST", "/v1/models/tiny:predict", body.encode())
        return RestCase("NaN/Infinity literals (not JSON)", payload)

    def wrong_shape() -> RestCase:
        choice = rng.randrange(6)
        bodies = [{"instances": {"primer": [1]}}, {"instances": [1, 2, 3]}, {"inputs": [1, 2]},
                  {"inputs": {"primer": [[1, 2], [3]]}}, {"instances": good_rows(), "signature_name": 7},
                  {"instances": [{**good_rows()[0], "mood": 1}, good_rows()[1]]}]
        return RestCase("wrong JSON shapes", _post(bodies[choice]))

    def missing_names() -> RestCase:
        columns = {name: array.tolist() for name, array in good_inputs().items()}
        columns.pop(rng.choice(names))
        return RestCase("missing input (columnar)", _post({"inputs": columns}))

    def malformed_json() -> RestCase:
        text = json.dumps({"instances": good_rows()}).encode()
        body = rng.choice([text[: rng.randrange(1, len(text))], b"{instances: [1]}", b"", b"null", b"\"x\"",
                           b"{\"instances\": [1,]}", b"\xef\xbb\xbf{}", rng.randbytes(40)])
        return RestCase("malformed JSON", http_request("POST", "/v1/models/tiny:predict", body))

    def non_utf8() -> RestCase:
        body = rng.choice([b'{"instances": ["\xff\xfe"]}', b'{"sig\xc3nature_name": 1}', b"\xff" * 10,
                           b'{"instances": [{"primer": "\xed\xa0\x80"}]}'])
        return RestCase("non-UTF-8 body", http_request("POST", "/v1/models/tiny:predict", body))

    def deep_nesting() -> RestCase:
        depth = rng.choice([100, 3000, 20000])
        inner = "[" * depth + "1" + "]" * depth
        body = rng.choice([inner, '{"instances": ' + inner + "}", '{"inputs": {"primer": ' + inner + "}}"])
        return RestCase("huge nesting", http_request("POST", "/v1/models/tiny:predict", body.encode()))

    def unknown_spec() -> RestCase:
        path = rng.choice(["/v1/models/nope:predict", "/v1/models/tiny/versions/42:predict",
                           "/v1/models/tiny/versions/99999999999999999999:predict",
                           "/v1/models/tiny/labels/canary:predict",
                           "/v1/models/%FF%FE:predict", "/v1/models/tiny/labels/%00:predict"])
        body = {"instances": good_rows()}
        if rng.random() < 0.3:
            path, body = "/v1/models/tiny:predict", {"instances": good_rows(), "signature_name": "sing"}
        return RestCase("unknown model/version/label/signature", _post(body, path))

    def bad_method_or_path() -> RestCase:
        method = rng.choice(["PUT", "DELETE", "PATCH", "OPTIONS", "GET", "POST", "FROB", "get"])
        path = rng.choice(["/v1/models/tiny:predict", "/v1/models/tiny:explode", "/v1/", "/v2/models/tiny",
                           "/v1/models/tiny/versions/x", "//", "/v1/models/tiny/metadata/extra", "*", "/\xff"])
        return RestCase("bad methods and paths", http_request(method, path, b"{}"))

    def lying_length() -> RestCase:
        body = json.dumps({"instances": good_rows()}).encode()
        length = rng.choice([len(body) + 50, len(body) // 2, 0, -1, -(2**40), "abc", "1e3", " 12", "0x10", 2**70])
        return RestCase("Content-Length that lies", http_request("POST", "/v1/models/tiny:predict", body, length))

    def bad_request_line() -> RestCase:
        line = rng.choice([b"GET /v1/models/tiny HTTP/2.0", b"GARBAGE", b"GET /v1/models/tiny HTTP/1.1 x",
                           b"POST /v1/models/tiny:predict HTTP/1.x", b"FROB /v1/models/tiny", b"GET  HTTP/1.1",
                           b"\xff\xfe /v1/models/tiny HTTP/1.1", b"GET /v1/models/tiny HTTP/1.1\x00"])
        return RestCase("request lines that do not parse", line + b"\r\nHost: fuzz\r\n\r\n")

    makers = [bad_request_line, row_values, non_finite, wrong_shape, missing_names, malformed_json, non_utf8,
              deep_nesting, unknown_spec, bad_method_or_path, lying_length]
    return [rng.choice(makers)() for _ in range(count)]

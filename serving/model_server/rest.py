"""TF Serving's REST API on the standard library's ThreadingHTTPServer.

- `GET  /v1/models/NAME[/versions/N | /labels/L]`            -> `{"model_version_status": [...]}`
- `GET  /v1/models/NAME[/versions/N | /labels/L]/metadata`   -> `{"model_spec": ..., "metadata": {"signature_def": ...}}`
- `POST /v1/models/NAME[/versions/N | /labels/L]:predict`    -> row form `{"instances": [...]}` gives
  `{"predictions": ...}`; columnar form `{"inputs": ...}` gives `{"outputs": ...}`.
- `POST /v1/models/NAME[/versions/N | /labels/L]:classify` / `:regress` -> what TF Serving answers for
  a model without classification / regression signatures (see `example_signatures`).

As in TF Serving (`model_servers/http_rest_api_util.cc`), the paths are matched case-insensitively
(`/V1/MODELS/NAME`), NAME and L are percent-decoded and kept as given, and the sub-resource and verb
are then compared exactly: `/metadata` in another case answers the status, `:PREDICT` is malformed.
Status and metadata print every field, defaults included (protobuf JSON, as TF Serving prints them).

Any other request under `/v1/` (another path, or a method other than GET and POST) is 400
`Malformed request: METHOD PATH`; a path outside `/v1/` is 404. Errors are `{"error": "..."}` with the
HTTP code TF Serving gives the gRPC code (`status_codes.HTTP_STATUS`): 400, 404, 429 (a body over
`--max_request_bytes`), 500, 501.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import re
import sys
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn

import grpc
from google.protobuf import json_format

from serving.model_server import inference
from serving.model_server.example_signatures import CLASSIFY, REGRESS, classify_or_regress
from serving.model_server.grpc_api import answer_spec, signature_def_map, status_response
from serving.model_server.inference import ModelSpec, ServingError
from serving.model_server.registry import ModelRegistry
from serving.model_server.rest_json import (
    inputs_from_columns,
    inputs_from_rows,
    outputs_as_columns,
    predictions_as_rows,
)
from serving.model_server.status_codes import http_status
from serving.tensors import TensorConversionError

LOGGER = logging.getLogger(__name__)
API_PATH = re.compile(r"/v1/.*", re.IGNORECASE | re.DOTALL)
PREDICTION_PATH = re.compile(
    r"/v1/models/([^/:]+)(?:/versions/([0-9]+)|/labels/([^/:]+))?:(classify|regress|predict)", re.IGNORECASE
)
STATUS_PATH = re.compile(r"/v1/models(?:/([^/:]+))?(?:/versions/([0-9]+)|/labels/([^/:]+))?(?:/(metadata))?", re.IGNORECASE)
MAX_VERSION = 2**63 - 1  # TF Serving parses the version as an int64


def _invalid(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _no_constant(literal: str) -> float:
    """TF Serving's JSON parser (rapidjson, default flags) knows no NaN / Infinity literals; Python's does."""
    raise ValueError(f"Invalid value {literal}")


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as error:  # json.JSONDecodeError is a ValueError
        raise _invalid(f"JSON Parse error: {error} in body {raw[:80]!r}") from error
    except RecursionError as error:
        raise _invalid(f"JSON Parse error: nested too deeply in body {raw[:80]!r}") from error
    if not isinstance(body, dict):
        raise _invalid(f"JSON body must be an object, got {type(body).__name__}")
    return body


def _signature_name(body: dict[str, Any]) -> str:
    name = body.get("signature_name", "")
    if not isinstance(name, str):
        raise _invalid("'signature_name' key must be a string value.")
    return name


def _spec(name: str, version: str | None, label: str | None) -> ModelSpec:
    """The model spec of a matched path (TF Serving's ParseModelInfo)."""
    if version is not None and int(version) > MAX_VERSION:
        raise _invalid(f"Failed to convert version: {version} to numeric.")
    return ModelSpec(
        name=urllib.parse.unquote(name or ""),
        version=int(version) if version is not None else None,
        label=urllib.parse.unquote(label) if label else "",
    )


class RestServer(ThreadingHTTPServer):
    """The HTTP server; handlers reach the registry and limits through it."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], registry: ModelRegistry, limits: inference.Limits) -> None:
        self.registry = registry
        self.limits = limits
        super().__init__(address, RestHandler)

    def handle_error(self, request: Any, client_address: tuple[str, int]) -> None:
        """A client that went away mid-answer is one debug line, not a traceback on stderr."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            LOGGER.debug("%s went away: %s", client_address[0], error)
            return
        super().handle_error(request, client_address)


class RestHandler(BaseHTTPRequestHandler):
    """Routes TF Serving's REST paths to the shared request handling."""

    server: RestServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        LOGGER.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _send_error(self, error: ServingError) -> None:
        LOGGER.info("%s %s refused: %s %s", self.command, self.path, error.code.name, error.message)
        self._send(http_status(error.code), {"error": error.message})

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Python's own refusals (a bad request line, a method TF Serving's HTTP server refuses) as JSON too.

        A request line that does not parse leaves Python's default version, HTTP/0.9, which writes no
        status line; libevent answers such a line (HTTP/2.0 included: Python's 505) with a plain 400.
        """
        LOGGER.info("%s refused: %d %s", self.requestline, code, message)
        self.close_connection = True
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
            code = HTTPStatus.BAD_REQUEST if code == HTTPStatus.HTTP_VERSION_NOT_SUPPORTED else code
        self._send(code, {"error": message or HTTPStatus(code).phrase})

    def parse_request(self) -> bool:
        """Python's parse, less its HTTP/0.9 (`GET PATH`, no version): libevent takes no such line (400)."""
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":
            self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request syntax ({self.requestline!r})")
            return False
        return True

    def _handle(self) -> None:
        try:
            self._send(HTTPStatus.OK, self._answer())
        except ServingError as error:
            self._send_error(error)
        except ConnectionError:  # the client went away: nothing to answer (RestServer.handle_error logs it)
            raise
        except Exception as error:  # a bug must cost one request, not the connection's answer
            LOGGER.exception("%s %s failed", self.command, self.path)
            self._send_error(ServingError(grpc.StatusCode.INTERNAL, f"{type(error).__name__}: {error}"))

    # The methods TF Serving's HTTP server (libevent) lets through to its REST handler.
    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _handle

    def _answer(self) -> Any:
        path = self.path.split("?", 1)[0]
        raw = self._read_body()
        if not API_PATH.fullmatch(path):
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Not found: {path} (TF Serving's REST API is under /v1/)")
        if self.command == "POST" and (match := PREDICTION_PATH.fullmatch(path)):
            name, version, label, verb = match.groups()
            spec = _spec(name, version, label)
            if verb == "predict":
                return self._predict(spec, _json_object(raw))
            if verb in (CLASSIFY, REGRESS):
                self._classify_or_regress(spec, verb, _json_object(raw))
        elif self.command == "GET" and (match := STATUS_PATH.fullmatch(path)):
            name, version, label, subresource = match.groups()
            spec = _spec(name, version, label)
            if not spec.name:
                raise _invalid("Missing model name in request.")
            return self._metadata(spec) if subresource == "metadata" else self._status(spec)
        raise _invalid(f"Malformed request: {self.command} {path}")

    def _read_body(self) -> bytes:
        declared = (self.headers.get("Content-Length") or "0").strip()
        if not (declared.isascii() and declared.isdigit()):  # no sign, no exponent: as HTTP's 1*DIGIT
            self.close_connection = True  # where its body ends is unknown
            raise _invalid(f"Invalid Content-Length: {declared[:40]!r}")
        length = int(declared)
        limit = self.server.limits.max_request_bytes
        if length > limit:
            self.close_connection = True
            raise ServingError(
                grpc.StatusCode.RESOURCE_EXHAUSTED, f"request body of {length} bytes exceeds --max_request_bytes={limit}"
            )
        raw = self.rfile.read(length)
        if len(raw) < length:  # the client closed early: a truncated body is not run (libevent drops it)
            self.close_connection = True
            raise _invalid(f"request body ended after {len(raw)} of its Content-Length {length} bytes")
        return raw

    def _status(self, spec: ModelSpec) -> dict[str, Any]:
        version = inference.resolve(self.server.registry, spec).version if spec.label else spec.version
        statuses = inference.model_status(self.server.registry, spec.name, version)
        return json_format.MessageToDict(status_response(statuses), always_print_fields_with_no_presence=True)

    def _metadata(self, spec: ModelSpec) -> dict[str, Any]:
        servable = inference.resolve(self.server.registry, spec)

        def as_json(message: Any) -> dict[str, Any]:
            return json_format.MessageToDict(
                message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
            )

        return {
            "model_spec": as_json(answer_spec(servable, "")),
            "metadata": {"signature_def": as_json(signature_def_map(servable))},
        }

    def _classify_or_regress(self, spec: ModelSpec, method: str, body: dict[str, Any]) -> NoReturn:
        """TF Serving's JSON checks of a classify / regress body (util/json_tensor.cc), then its signature checks."""
        signature_name = _signature_name(body)
        if "examples" not in body:
            raise _invalid("When method is classify, key 'examples' is expected and was not found")
        if not isinstance(body["examples"], list):
            raise _invalid("Expecting 'examples' value to be an list/array")
        if not body["examples"]:
            raise _invalid("'examples' value is an empty array")
        classify_or_regress(self.server.registry, dataclasses.replace(spec, signature_name=signature_name), method)

    def _predict(self, spec: ModelSpec, body: dict[str, Any]) -> dict[str, Any]:
        servable = inference.resolve(self.server.registry, spec)
        signature_name, definition = inference.signature_def(servable, _signature_name(body))
        row_form = "instances" in body
        if row_form == ("inputs" in body):
            raise _invalid('the body must have exactly one of "instances" (row form) or "inputs" (columnar form)')
        try:
            if row_form:
                inputs = inputs_from_rows(body["instances"], definition)
            else:
                inputs = inputs_from_columns(body["inputs"], definition)
        except TensorConversionError as error:
            raise _invalid(str(error)) from error
        outputs = inference.run_signature(servable, signature_name, inputs, [], self.server.limits)
        if row_form:
            return {"predictions": predictions_as_rows(outputs)}
        return {"outputs": outputs_as_columns(outputs)}

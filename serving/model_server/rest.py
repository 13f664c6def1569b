"""TF Serving's REST API as a WSGI app (`RestApi`), served by waitress (`rest_http.RestHttpServer`).

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
`--max_request_bytes`), 500, 501 (a method libevent does not know, such as TRACE). HEAD gets the
headers of the answer without its body. Framing (Content-Length, request lines, timeouts) is
`rest_http`'s: a request this app sees has arrived whole.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import re
import urllib.parse
from http import HTTPStatus
from typing import Any, Callable, NoReturn

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
KNOWN_METHODS = ("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH")  # what libevent passes on


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


class RestApi:
    """TF Serving's REST API as a WSGI app over one registry; `rest_http.RestHttpServer` serves it."""

    def __init__(self, registry: ModelRegistry, limits: inference.Limits) -> None:
        self.registry = registry
        self.limits = limits

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("REQUEST_URI", environ.get("PATH_INFO", "")).split("?", 1)[0]  # as sent, not decoded
        status, body = self._respond(method, path, environ["wsgi.input"])
        payload = json.dumps(body).encode("utf-8")
        start_response(f"{status} {HTTPStatus(status).phrase}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [] if method == "HEAD" else [payload]

    def _respond(self, method: str, path: str, stream: Any) -> tuple[int, Any]:
        if method not in KNOWN_METHODS:  # libevent's own refusal; it never reaches TF Serving's handler
            LOGGER.info("%s %s refused: unsupported method", method, path)
            return HTTPStatus.NOT_IMPLEMENTED, {"error": f"Unsupported method ({method!r})"}
        try:
            return HTTPStatus.OK, self._answer(method, path, stream.read())
        except ServingError as error:
            LOGGER.info("%s %s refused: %s %s", method, path, error.code.name, error.message)
            return http_status(error.code), {"error": error.message}
        except Exception as error:  # a bug must cost one request, not the connection's answer
            LOGGER.exception("%s %s failed", method, path)
            return http_status(grpc.StatusCode.INTERNAL), {"error": f"{type(error).__name__}: {error}"}

    def _answer(self, method: str, path: str, raw: bytes) -> Any:
        if not API_PATH.fullmatch(path):
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Not found: {path} (TF Serving's REST API is under /v1/)")
        if method == "POST" and (match := PREDICTION_PATH.fullmatch(path)):
            name, version, label, verb = match.groups()
            spec = _spec(name, version, label)
            if verb == "predict":
                return self._predict(spec, _json_object(raw))
            if verb in (CLASSIFY, REGRESS):
                self._classify_or_regress(spec, verb, _json_object(raw))
        elif method == "GET" and (match := STATUS_PATH.fullmatch(path)):
            name, version, label, subresource = match.groups()
            spec = _spec(name, version, label)
            if not spec.name:
                raise _invalid("Missing model name in request.")
            return self._metadata(spec) if subresource == "metadata" else self._status(spec)
        raise _invalid(f"Malformed request: {method} {path}")

    def _status(self, spec: ModelSpec) -> dict[str, Any]:
        version = inference.resolve(self.registry, spec).version if spec.label else spec.version
        statuses = inference.model_status(self.registry, spec.name, version)
        return json_format.MessageToDict(status_response(statuses), always_print_fields_with_no_presence=True)

    def _metadata(self, spec: ModelSpec) -> dict[str, Any]:
        servable = inference.resolve(self.registry, spec)

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
        classify_or_regress(self.registry, dataclasses.replace(spec, signature_name=signature_name), method)

    def _predict(self, spec: ModelSpec, body: dict[str, Any]) -> dict[str, Any]:
        servable = inference.resolve(self.registry, spec)
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
        outputs = inference.run_signature(servable, signature_name, inputs, [], self.limits)
        if row_form:
            return {"predictions": predictions_as_rows(outputs)}
        return {"outputs": outputs_as_columns(outputs)}

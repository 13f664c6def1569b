"""TF Serving's REST API on the standard library's ThreadingHTTPServer.

- `GET  /v1/models/NAME[/versions/N | /labels/L]`            -> `{"model_version_status": [...]}`
- `GET  /v1/models/NAME[/versions/N | /labels/L]/metadata`   -> `{"model_spec": ..., "metadata": {"signature_def": ...}}`
- `POST /v1/models/NAME[/versions/N | /labels/L]:predict`    -> row form `{"instances": [...]}` gives
  `{"predictions": ...}`; columnar form `{"inputs": ...}` gives `{"outputs": ...}`.

Errors are `{"error": "..."}` with 404 (NOT_FOUND), 400 (bad request), 413 (body over the limit) or 500.
"""
from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping

import grpc
import numpy as np
from google.protobuf import json_format
from tensorflow.core.protobuf import meta_graph_pb2

from serving.model_server import inference
from serving.model_server.grpc_api import signature_def_map
from serving.model_server.inference import ModelSpec, ServingError
from serving.model_server.registry import ModelRegistry
from serving.tensors import TensorConversionError, array_from_json, array_to_json

LOGGER = logging.getLogger(__name__)
PATH_PATTERN = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<suffix>/metadata|:predict)?/?$"
)
HTTP_STATUS = {
    grpc.StatusCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    grpc.StatusCode.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.FAILED_PRECONDITION: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.OUT_OF_RANGE: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.RESOURCE_EXHAUSTED: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
}


def _invalid(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"}


def inputs_from_rows(instances: Any, signature: meta_graph_pb2.SignatureDef) -> dict[str, np.ndarray]:
    """Row form: a list of instances, each a value (one-input signature) or an object of named inputs."""
    if not isinstance(instances, list):
        raise _invalid(f'"instances" must be a list, got {type(instances).__name__}')
    names = list(signature.inputs)
    if not names:
        if instances:
            raise _invalid(f"the signature takes no inputs, got {len(instances)} instances")
        return {}
    named = bool(instances) and all(isinstance(row, dict) and not _is_b64(row) for row in instances)
    if not named:
        if len(names) != 1:
            raise _invalid(f"instances must be objects naming the inputs {sorted(names)}")
        return {names[0]: array_from_json(instances, signature.inputs[names[0]].dtype, names[0])}
    for index, row in enumerate(instances):
        if set(row) != set(names):
            raise _invalid(
                f"instance {index} has inputs {sorted(row)}, the signature expects {sorted(names)}"
            )
    return {
        name: array_from_json([row[name] for row in instances], signature.inputs[name].dtype, name)
        for name in names
    }


def inputs_from_columns(inputs: Any, signature: meta_graph_pb2.SignatureDef) -> dict[str, np.ndarray]:
    """Columnar form: an object of named inputs, or a bare value for a one-input signature."""
    names = list(signature.inputs)
    if isinstance(inputs, dict) and not _is_b64(inputs):
        unknown = sorted(set(inputs) - set(names))
        if unknown and len(names) != 1:
            raise _invalid(f"unknown inputs {unknown}, the signature expects {sorted(names)}")
        if not unknown:
            return {
                name: array_from_json(value, signature.inputs[name].dtype, name) for name, value in inputs.items()
            }
    if len(names) != 1:
        raise _invalid(f'"inputs" must be an object naming the inputs {sorted(names)}')
    return {names[0]: array_from_json(inputs, signature.inputs[names[0]].dtype, names[0])}


def predictions_as_rows(outputs: Mapping[str, np.ndarray]) -> Any:
    """Row form of the outputs: one entry per batch row (a value, or an object if several outputs)."""
    rows = {array.shape[0] if array.ndim else None for array in outputs.values()}
    if len(rows) != 1 or None in rows:
        shapes = {name: list(array.shape) for name, array in outputs.items()}
        raise _invalid(f"outputs {shapes} do not share a batch size; use the columnar \"inputs\" form")
    if len(outputs) == 1:
        return array_to_json(next(iter(outputs.values())))
    columns = {name: array_to_json(array) for name, array in outputs.items()}
    (count,) = rows
    return [{name: column[index] for name, column in columns.items()} for index in range(count)]


def outputs_as_columns(outputs: Mapping[str, np.ndarray]) -> Any:
    """Columnar form of the outputs: a value if there is one output, else an object of them."""
    if len(outputs) == 1:
        return array_to_json(next(iter(outputs.values())))
    return {name: array_to_json(array) for name, array in outputs.items()}


class RestServer(ThreadingHTTPServer):
    """The HTTP server; handlers reach the registry and limits through it."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], registry: ModelRegistry, limits: inference.Limits) -> None:
        self.registry = registry
        self.limits = limits
        super().__init__(address, RestHandler)


class RestHandler(BaseHTTPRequestHandler):
    """Routes TF Serving's REST paths to the shared request handling."""

    server: RestServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        LOGGER.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: HTTPStatus, body: Any) -> None:
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_error(self, error: ServingError) -> None:
        LOGGER.info("%s %s refused: %s %s", self.command, self.path, error.code.name, error.message)
        self._send(HTTP_STATUS.get(error.code, HTTPStatus.INTERNAL_SERVER_ERROR), {"error": error.message})

    def _route(self) -> tuple[ModelSpec, str]:
        match = PATH_PATTERN.match(self.path.split("?", 1)[0])
        if match is None:
            raise ServingError(grpc.StatusCode.NOT_FOUND, f"Malformed request: {self.command} {self.path}")
        version = match.group("version")
        spec = ModelSpec(name=match.group("name"), version=int(version) if version else None, label=match.group("label") or "")
        return spec, match.group("suffix") or ""

    def do_GET(self) -> None:
        try:
            spec, suffix = self._route()
            if suffix == ":predict":
                raise _invalid(f"{self.path} needs POST")
            self._send(HTTPStatus.OK, self._metadata(spec) if suffix == "/metadata" else self._status(spec))
        except ServingError as error:
            self._send_error(error)
        except Exception as error:  # a bug must cost one request, not the connection's answer
            LOGGER.exception("%s %s failed", self.command, self.path)
            self._send_error(ServingError(grpc.StatusCode.INTERNAL, f"{type(error).__name__}: {error}"))

    def do_POST(self) -> None:
        try:
            spec, suffix = self._route()
            if suffix != ":predict":
                raise ServingError(grpc.StatusCode.NOT_FOUND, f"Malformed request: POST {self.path}")
            body = self._read_json()
            self._send(HTTPStatus.OK, self._predict(spec, body))
        except ServingError as error:
            self._send_error(error)
        except Exception as error:  # a bug must cost one request, not the connection's answer
            LOGGER.exception("%s %s failed", self.command, self.path)
            self._send_error(ServingError(grpc.StatusCode.INTERNAL, f"{type(error).__name__}: {error}"))

    def _read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        limit = self.server.limits.max_request_bytes
        if length > limit:
            self.close_connection = True
            raise ServingError(
                grpc.StatusCode.RESOURCE_EXHAUSTED, f"request body of {length} bytes exceeds --max_request_bytes={limit}"
            )
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise _invalid(f"JSON Parse error: {error} in body {raw[:80]!r}") from error
        if not isinstance(body, dict):
            raise _invalid(f"JSON body must be an object, got {type(body).__name__}")
        return body

    def _status(self, spec: ModelSpec) -> dict[str, Any]:
        version = inference.resolve(self.server.registry, spec).version if spec.label else spec.version
        statuses = inference.model_status(self.server.registry, spec.name, version)
        return {
            "model_version_status": [
                {
                    "version": str(status.version),
                    "state": status.state,
                    "status": {"error_code": "UNKNOWN" if status.error else "OK", "error_message": status.error},
                }
                for status in statuses
            ]
        }

    def _metadata(self, spec: ModelSpec) -> dict[str, Any]:
        servable = inference.resolve(self.server.registry, spec)
        return {
            "model_spec": {"name": servable.name, "signature_name": "", "version": str(servable.version)},
            "metadata": {
                "signature_def": json_format.MessageToDict(
                    signature_def_map(servable), preserving_proto_field_name=True
                )
            },
        }

    def _predict(self, spec: ModelSpec, body: dict[str, Any]) -> dict[str, Any]:
        servable = inference.resolve(self.server.registry, spec)
        signature_name = body.get("signature_name", "")
        if not isinstance(signature_name, str):
            raise _invalid(f'"signature_name" must be a string, got {signature_name!r}')
        signature_name, definition = inference.signature_def(servable, signature_name)
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

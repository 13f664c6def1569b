"""Clients of a TF-Serving-compatible model server (the official one or `serving.server`).

`GrpcModelClient` speaks PredictionService / ModelService through the official
tensorflow-serving-api stubs; `RestModelClient` speaks TF Serving's REST API with urllib. Both
retry UNAVAILABLE with exponential backoff, give every call a deadline, and read a model's
signatures from its metadata. They know nothing of model kinds: the token-model and VAE calls
built on `predict` live in `serving.generation` (`token_model.TokenModel`, `vae.VaeModel`).
"""
from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import grpc
import numpy as np
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving.retry_policy import RetryPolicy
from serving.tensors import Signature, array_from_proto, fill_proto, infos_from_json, infos_from_proto

logger = logging.getLogger(__name__)

_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class ClientError(Exception):
    """A request the server could not answer; the message is one line for the user."""


class ServerUnavailableError(ClientError):
    """No server answers at the address."""


class ModelNotFoundError(ClientError):
    """The server does not serve the model (or version)."""


class MissingSignatureError(ClientError):
    """The model has no signature of that name."""


class RequestRejectedError(ClientError):
    """The server refused the request (INVALID_ARGUMENT and the like)."""


@dataclass(frozen=True)
class VersionStatus:
    """One version of a served model and its state."""

    version: int
    state: str  # "AVAILABLE", "LOADING", ...
    error: str = ""


class ModelClient:
    """What both transports share: `predict`, `metadata` and `status` of one model, with retries."""

    address: str
    model: str

    def __init__(self, address: str, model: str, version: int | None = None,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        self.address = address
        self.model = model
        self.version = version
        self.retry = retry

    # Transport-specific -------------------------------------------------------------------
    def predict(self, signature: str, inputs: dict[str, np.ndarray], timeout_s: float | None = None) -> dict[str, np.ndarray]:
        """Runs ``signature`` on ``inputs``; the outputs by name."""
        raise NotImplementedError

    def metadata(self) -> dict[str, Signature]:
        """The model's signatures by name (internal ones such as ``__saved_model_init_op`` left out)."""
        raise NotImplementedError

    def status(self) -> list[VersionStatus]:
        """The model's versions and their states."""
        raise NotImplementedError

    def close(self) -> None:
        """Releases the connection."""

    # Shared -------------------------------------------------------------------------------
    def unavailable_message(self) -> str:
        return f"no model server answers at {self.address}: start one with `make serve`"

    @cached_property
    def signatures(self) -> dict[str, Signature]:
        """The model's signatures by name (cached)."""
        return self.metadata()

    def require_signature(self, name: str) -> Signature:
        """The signature, or MissingSignatureError naming the model and the signature."""
        if name not in self.signatures:
            raise MissingSignatureError(
                f"model {self.model!r} has no {name!r} signature "
                f"(it has {', '.join(sorted(self.signatures)) or 'none'})")
        return self.signatures[name]

    def _with_retries(self, call: Callable[[], object], is_unavailable: Callable[[Exception], bool]):
        waited = 0.0
        for backoff in self.retry.backoffs() + [None]:
            try:
                return call()
            except Exception as error:  # classified below; anything else propagates
                if not is_unavailable(error):
                    raise
                if backoff is None:
                    raise ServerUnavailableError(self.unavailable_message()) from None
                logger.info("%s unavailable, retrying for up to %.1f s", self.address, self.retry.window_s - waited)
                waited += backoff
                time.sleep(backoff)
        raise AssertionError("unreachable")


class GrpcModelClient(ModelClient):
    """gRPC client over the official PredictionService and ModelService stubs."""

    def __init__(self, address: str, model: str, version: int | None = None,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        super().__init__(address, model, version, retry)
        self._channel = grpc.insecure_channel(address, options=[
            ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES)])
        self._predictions = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def _spec(self, spec, signature: str = "") -> None:
        spec.name = self.model
        if signature:
            spec.signature_name = signature
        if self.version is not None:
            spec.version.value = self.version

    def _call(self, method, request, timeout_s: float):
        def attempt():
            try:
                return method(request, timeout=timeout_s)
            except grpc.RpcError as error:
                self._raise_for(error)
        return self._with_retries(attempt, lambda e: isinstance(e, grpc.RpcError)
                                  and e.code() == grpc.StatusCode.UNAVAILABLE)

    def _raise_for(self, error: grpc.RpcError) -> None:
        code = error.code()
        details = next(iter((error.details() or "").splitlines()), "")
        if code == grpc.StatusCode.UNAVAILABLE:
            raise error
        if code == grpc.StatusCode.NOT_FOUND:
            raise ModelNotFoundError(f"model {self.model!r} is not served at {self.address}: {details}") from None
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            raise ServerUnavailableError(f"the model server at {self.address} did not answer in time (--timeout)") from None
        raise RequestRejectedError(f"model {self.model!r} refused the request ({code.name}): {details}") from None

    def predict(self, signature: str, inputs: dict[str, np.ndarray], timeout_s: float | None = None) -> dict[str, np.ndarray]:
        request = predict_pb2.PredictRequest()
        self._spec(request.model_spec, signature)
        for name, array in inputs.items():
            fill_proto(request.inputs[name], array)
        response = self._call(self._predictions.Predict, request, timeout_s or self.retry.timeout_s)
        return {name: array_from_proto(proto) for name, proto in response.outputs.items()}

    def metadata(self) -> dict[str, Signature]:
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._spec(request.model_spec)
        response = self._call(self._predictions.GetModelMetadata, request, self.retry.timeout_s)
        definitions = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(definitions)
        return {name: Signature(infos_from_proto(d.inputs), infos_from_proto(d.outputs))
                for name, d in definitions.signature_def.items() if not name.startswith("__")}

    def status(self) -> list[VersionStatus]:
        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request.model_spec)
        response = self._call(self._models.GetModelStatus, request, self.retry.timeout_s)
        state_names = get_model_status_pb2.ModelVersionStatus.State.Name
        return [VersionStatus(s.version, state_names(s.state), s.status.error_message)
                for s in response.model_version_status]


class RestModelClient(ModelClient):
    """Client of TF Serving's REST API (``/v1/models/NAME[/versions/N][:predict|/metadata]``)."""

    def __init__(self, address: str, model: str, version: int | None = None,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        base = address if address.startswith(("http://", "https://")) else f"http://{address}"
        super().__init__(base.rstrip("/"), model, version, retry)

    def _url(self, suffix: str = "") -> str:
        version = f"/versions/{self.version}" if self.version is not None else ""
        return f"{self.address}/v1/models/{self.model}{version}{suffix}"

    def _request(self, url: str, body: dict | None, timeout_s: float) -> dict:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})

        def attempt():
            try:
                with urllib.request.urlopen(request, timeout=timeout_s) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as error:
                message = _rest_error_message(error)
                if error.code == 404:
                    raise ModelNotFoundError(f"model {self.model!r} is not served at {self.address}: {message}") from None
                if error.code == 503:
                    raise ConnectionError(message) from None
                raise RequestRejectedError(f"model {self.model!r} refused the request (HTTP {error.code}): {message}") from None
            except (TimeoutError, urllib.error.URLError) as error:
                # A server that accepts but does not answer in time is not retried (gRPC: DEADLINE_EXCEEDED).
                if isinstance(error, TimeoutError) or isinstance(getattr(error, "reason", None), TimeoutError):
                    raise ServerUnavailableError(
                        f"the model server at {self.address} did not answer within {timeout_s:g} s (--timeout)") from None
                raise

        # HTTP errors and timeouts leave attempt() as ClientErrors: what remains is a refused connection
        return self._with_retries(attempt, lambda e: isinstance(e, (urllib.error.URLError, ConnectionError)))

    def predict(self, signature: str, inputs: dict[str, np.ndarray], timeout_s: float | None = None) -> dict[str, np.ndarray]:
        body = {"signature_name": signature, "inputs": {name: array.tolist() for name, array in inputs.items()}}
        outputs = self._request(self._url(":predict"), body, timeout_s or self.retry.timeout_s)["outputs"]
        if not isinstance(outputs, dict):  # TF Serving returns a lone output unnamed
            (name,) = self.require_signature(signature).outputs
            outputs = {name: outputs}
        return {name: np.asarray(value) for name, value in outputs.items()}

    def metadata(self) -> dict[str, Signature]:
        answer = self._request(self._url("/metadata"), None, self.retry.timeout_s)
        definitions = answer["metadata"]["signature_def"]["signature_def"]
        return {name: Signature(infos_from_json(d.get("inputs", {})), infos_from_json(d.get("outputs", {})))
                for name, d in definitions.items() if not name.startswith("__")}

    def status(self) -> list[VersionStatus]:
        answer = self._request(self._url(), None, self.retry.timeout_s)
        return [VersionStatus(int(s["version"]), s["state"], s.get("status", {}).get("error_message", ""))
                for s in answer["model_version_status"]]


class ServedModel:
    """A model behind a ``ModelClient``; subclasses add the calls of its model kind."""

    def __init__(self, client: ModelClient) -> None:
        self.client = client

    @property
    def name(self) -> str:
        return self.client.model


def connect(address: str, model: str, rest: bool = False, version: int | None = None,
            retry: RetryPolicy = RetryPolicy()) -> ModelClient:
    """A gRPC client (default) or a REST one."""
    return (RestModelClient if rest else GrpcModelClient)(address, model, version, retry)


def list_models(address: str, names: Sequence[str], rest: bool = False) -> list[tuple[str, list[VersionStatus], dict[str, Signature]]]:
    """``(name, versions, signatures)`` per named model (signatures empty when none is available)."""
    listed = []
    for name in names:
        client = connect(address, name, rest)
        try:
            statuses = client.status()
            available = any(status.state == "AVAILABLE" for status in statuses)
            listed.append((name, statuses, client.metadata() if available else {}))
        finally:
            client.close()
    return listed


def _rest_error_message(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read()).get("error", error.reason)).splitlines()[0]
    except (ValueError, AttributeError):
        return str(error.reason)

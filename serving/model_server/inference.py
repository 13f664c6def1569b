"""Transport-neutral request handling: resolve a model spec, validate inputs, run a signature.

Shared by the gRPC services and the REST handler, so both answer the same request the same way.
Errors are `ServingError`s carrying the gRPC status code TF Serving would answer with.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Mapping

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2

from serving.contract.signatures import DEFAULT_SIGNATURE, PRIMER, STEPS
from serving.model_server.registry import ModelRegistry, VersionStatus
from serving.model_server.servable import Servable
from serving.model_server.status_codes import grpc_code
from serving.model_server.work_gate import WorkGate


class ServingError(Exception):
    """A request the server refuses, with the gRPC status code to answer."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclasses.dataclass(frozen=True)
class Limits:
    """Per-request limits: rows in a batch, the value of any int input named `steps`, body size; and
    the gate that bounds the expensive runs in flight (`work_gate`)."""

    max_batch_rows: int = 256
    max_steps: int = 4096
    max_request_bytes: int = 16 * 1024 * 1024
    gate: WorkGate = dataclasses.field(default_factory=WorkGate, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("max_batch_rows", "max_steps", "max_request_bytes"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Which servable a request asks for: a name, and a version or a label (or neither: latest)."""

    name: str
    version: int | None = None
    label: str = ""
    signature_name: str = ""

    def describe(self) -> str:
        if self.version is not None:
            return f"Specific({self.name}, {self.version})"
        if self.label:
            return f"Label({self.name}, {self.label})"
        return f"Latest({self.name})"


def resolve(registry: ModelRegistry, spec: ModelSpec) -> Servable:
    """The loaded servable the spec names: NOT_FOUND if none, INVALID_ARGUMENT for an unknown label.

    TF Serving's ServerCore answers a label it has no version for (or a model without labels) with
    INVALID_ARGUMENT "Unrecognized servable version label: LABEL" (model_servers/server_core.cc).
    """
    model = registry.models.get(spec.name)
    servables = model.servables() if model is not None else {}
    version = spec.version
    if spec.label:
        if model is None or spec.label not in model.config.version_labels:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"Unrecognized servable version label: {spec.label}")
        version = model.config.version_labels[spec.label]
    if version is None:
        if servables:
            return servables[max(servables)]
    elif version in servables:
        return servables[version]
    raise ServingError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {spec.describe()}")


def signature_def(servable: Servable, signature_name: str) -> tuple[str, meta_graph_pb2.SignatureDef]:
    """The signature's resolved name and its SignatureDef (FAILED_PRECONDITION if absent, as TF Serving)."""
    name = signature_name or DEFAULT_SIGNATURE
    if name not in servable.signature_defs:
        raise ServingError(grpc.StatusCode.FAILED_PRECONDITION, f'Serving signature key "{name}" not found.')
    return name, servable.signature_defs[name]


def _check_shape(name: str, array: np.ndarray, info: meta_graph_pb2.TensorInfo) -> None:
    if info.tensor_shape.unknown_rank:
        return
    expected = [dim.size for dim in info.tensor_shape.dim]
    shown = "[" + ", ".join("?" if size < 0 else str(size) for size in expected) + "]"
    fits = len(expected) == array.ndim and all(e < 0 or e == a for e, a in zip(expected, array.shape))
    if not fits:
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"input {name!r} has shape {list(array.shape)}, the signature expects {shown}",
        )


def validate_inputs(
    signature: meta_graph_pb2.SignatureDef, inputs: Mapping[str, np.ndarray], limits: Limits
) -> None:
    """Check names, dtypes, shapes and limits of the inputs against the signature."""
    expected, given = set(signature.inputs), set(inputs)
    if expected != given:
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"input size does not match signature: {len(given)}!={len(expected)} len({sorted(given)}) != "
            f"len({sorted(expected)}). Sent extra: {sorted(given - expected)}. "
            f"Missing but required: {sorted(expected - given)}.",
        )
    for name, info in signature.inputs.items():
        array = inputs[name]
        wanted = tf.dtypes.as_dtype(info.dtype)
        got = tf.string if array.dtype == object else tf.dtypes.as_dtype(array.dtype)
        if got != wanted:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input {name!r} expects {wanted.name} but {got.name} is provided",
            )
        _check_shape(name, array, info)
        if array.ndim >= 1 and array.shape[0] > limits.max_batch_rows:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input {name!r} has {array.shape[0]} rows, more than --max_batch_rows={limits.max_batch_rows}",
            )
        if name == STEPS and wanted.is_integer and array.size and int(array.max()) > limits.max_steps:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input 'steps' asks for {int(array.max())} steps, more than --max_steps={limits.max_steps}",
            )
        _check_open_dimensions(name, array, info, limits)
    _check_work(inputs, limits)


def _check_open_dimensions(name: str, array: np.ndarray, info: meta_graph_pb2.TensorInfo, limits: Limits) -> None:
    """A dimension past the batch that the signature leaves open (a primer's length) is at most --max_steps."""
    if info.tensor_shape.unknown_rank:
        return
    for axis, (size, dim) in enumerate(zip(array.shape[1:], info.tensor_shape.dim[1:]), 1):
        if dim.size < 0 and size > limits.max_steps:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input {name!r} has {size} in dimension {axis}, more than --max_steps={limits.max_steps}",
            )


def _check_work(inputs: Mapping[str, np.ndarray], limits: Limits) -> None:
    """The primer is fed token by token before sampling: its length and the steps together are the work."""
    primer, steps = inputs.get(PRIMER), inputs.get(STEPS)
    if primer is None or steps is None or primer.ndim != 2 or not steps.size:
        return
    work = primer.shape[1] + int(steps.max())
    if work > limits.max_steps:
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"a primer of {primer.shape[1]} tokens and {int(steps.max())} steps make {work} steps, "
            f"more than --max_steps={limits.max_steps}",
        )


def check_declared_size(name: str, dims: list[int], itemsize: int, limits: Limits) -> None:
    """A tensor's declared shape, checked before anything is allocated: no negative size, and at most
    --max_request_bytes in all (a few bytes of proto may declare a shape whose fill is gigabytes)."""
    if any(size < 0 for size in dims):
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"input {name!r} declares a negative size in {dims}")
    count = math.prod(dims)
    if count * itemsize > limits.max_request_bytes:
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"input {name!r} declares shape {dims}: {count * itemsize} bytes, "
            f"more than --max_request_bytes={limits.max_request_bytes}",
        )


def run_signature(
    servable: Servable,
    signature_name: str,
    inputs: Mapping[str, np.ndarray],
    output_filter: list[str],
    limits: Limits,
) -> dict[str, np.ndarray]:
    """Validate `inputs`, run the signature, return the (filtered) outputs as arrays."""
    _, definition = signature_def(servable, signature_name)
    validate_inputs(definition, inputs, limits)
    unknown = [name for name in output_filter if name not in definition.outputs]
    if unknown:
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"output tensor alias not found in signature: {unknown[0]} Outputs expected to be in the set "
            f"{sorted(definition.outputs)}.",
        )
    try:
        with limits.gate.admit(inputs):
            return servable.run(signature_name or DEFAULT_SIGNATURE, inputs, output_filter)
    except tf.errors.OpError as error:
        raise ServingError(grpc_code(error.error_code), error.message) from error
    except (TypeError, ValueError) as error:  # a feed the session refuses before running
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from error


def model_status(registry: ModelRegistry, name: str, version: int | None) -> list[VersionStatus]:
    """The status of every version of `name` seen so far, or of one version (NOT_FOUND if none)."""
    model = registry.models.get(name)
    statuses = model.statuses() if model is not None else {}
    if version is not None:
        statuses = {v: s for v, s in statuses.items() if v == version}
    if not statuses:
        wanted = f"version {version} of model {name}" if version is not None else f"any versions of model {name}"
        raise ServingError(grpc.StatusCode.NOT_FOUND, f"Could not find {wanted}")
    return [statuses[v] for v in sorted(statuses, reverse=True)]

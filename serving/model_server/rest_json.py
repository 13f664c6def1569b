"""REST JSON <-> arrays for TF Serving's predict API: the row ("instances") and columnar ("inputs") forms."""
from __future__ import annotations

from typing import Any, Mapping

import grpc
import numpy as np
from tensorflow.core.protobuf import meta_graph_pb2

from serving.model_server.inference import ServingError
from serving.tensors import array_from_json, array_to_json


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

"""Tensor conversions for the model server: TensorProto <-> NumPy and TF Serving's REST JSON <-> NumPy.

REST follows TF Serving's JSON API: numbers as JSON numbers, strings as UTF-8 JSON strings, or
`{"b64": "..."}` objects for arbitrary bytes (on input, and on output for bytes that are not UTF-8).
"""
from __future__ import annotations

import base64
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2


class TensorConversionError(ValueError):
    """A request value cannot become a tensor of the expected type; the message names the value."""


def array_from_proto(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Decode a TensorProto (any of its encodings) into a NumPy array of its own dtype."""
    try:
        return tf.make_ndarray(proto)
    except (TypeError, ValueError) as error:
        raise TensorConversionError(f"cannot decode tensor of dtype {proto.dtype}: {error}") from error


def array_to_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    """Encode a NumPy array (strings as bytes objects) into a TensorProto."""
    return tf.make_tensor_proto(array)


def _decode_b64(value: Any, where: str) -> Any:
    """Replace every `{"b64": text}` inside a nested JSON value by its bytes."""
    if isinstance(value, dict):
        if set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise TensorConversionError(f"{where}: object {value!r} is not a {{\"b64\": ...}} string")
        try:
            return base64.b64decode(value["b64"], validate=True)
        except ValueError as error:
            raise TensorConversionError(f"{where}: invalid base64 {value['b64']!r}") from error
    if isinstance(value, list):
        return [_decode_b64(item, where) for item in value]
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


def array_from_json(value: Any, dtype_enum: int, where: str) -> np.ndarray:
    """Convert a JSON value (scalar or nested lists) into an array of the signature's dtype.

    `where` names the input in error messages. Integers must be JSON integers within the dtype's
    range; floats accept JSON integers too; strings accept text or `{"b64": ...}`.
    """
    dtype = tf.dtypes.as_dtype(dtype_enum)
    if dtype == tf.string:
        decoded = _decode_b64(value, where)
        array = np.array(decoded, dtype=object)
        flat = array.reshape(-1)
        bad = [item for item in flat if not isinstance(item, bytes)]
        if bad:
            raise TensorConversionError(f"{where}: expected strings, got {bad[0]!r}")
        return array
    try:
        array = np.array(value)
    except ValueError as error:
        raise TensorConversionError(f"{where}: value is not a rectangular array: {error}") from error
    kind = array.dtype.kind
    if dtype.is_bool:
        if kind != "b":
            raise TensorConversionError(f"{where}: expected booleans for bool, got {value!r:.80}")
        return array.astype(np.bool_)
    if dtype.is_integer:
        if kind not in "iu":
            raise TensorConversionError(f"{where}: expected integers for {dtype.name}, got {value!r:.80}")
        info = np.iinfo(dtype.as_numpy_dtype)
        if array.size and (array.min() < info.min or array.max() > info.max):
            raise TensorConversionError(f"{where}: value out of range for {dtype.name}: {value!r:.80}")
        return array.astype(dtype.as_numpy_dtype)
    if dtype.is_floating:
        if kind not in "iuf":
            raise TensorConversionError(f"{where}: expected numbers for {dtype.name}, got {value!r:.80}")
        return array.astype(dtype.as_numpy_dtype)
    raise TensorConversionError(f"{where}: dtype {dtype.name} is not supported over REST")


def _json_scalar(item: Any) -> Any:
    if isinstance(item, bytes):
        try:
            return item.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(item).decode("ascii")}
    return item


def array_to_json(array: np.ndarray | bytes) -> Any:
    """Convert an array to nested JSON lists (bytes as text, or `{"b64": ...}` when not UTF-8).

    A scalar string output arrives from TensorFlow as plain `bytes`, so it is wrapped first.
    """
    array = np.asarray(array, dtype=object if isinstance(array, bytes) else None)
    if array.dtype == object:
        return _nested_map(array.tolist())
    return array.tolist()


def _nested_map(value: Any) -> Any:
    if isinstance(value, list):
        return [_nested_map(item) for item in value]
    return _json_scalar(value)


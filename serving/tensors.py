"""Tensor conversions for the model server: TensorProto <-> NumPy and TF Serving's REST JSON <-> NumPy.

REST follows TF Serving's JSON API: numbers as JSON numbers, strings as UTF-8 JSON strings, or
`{"b64": "..."}` objects for arbitrary bytes (on input, and on output for bytes that are not UTF-8).
The metadata of a signature (`Signature`, `TensorInfo`) is read from either form too.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2


class TensorConversionError(ValueError):
    """A request value cannot become a tensor of the expected type; the message names the value."""


# Numeric dtypes sent as raw little-endian bytes in `tensor_content`, as tf.make_tensor_proto does
# for arrays of more than one element (TensorFlow and TF Serving accept it for any size).
_CONTENT_DTYPES: dict[int, np.dtype] = {
    types_pb2.DT_FLOAT: np.dtype("<f4"),
    types_pb2.DT_DOUBLE: np.dtype("<f8"),
    types_pb2.DT_HALF: np.dtype("<f2"),
    types_pb2.DT_INT8: np.dtype("<i1"),
    types_pb2.DT_INT16: np.dtype("<i2"),
    types_pb2.DT_INT32: np.dtype("<i4"),
    types_pb2.DT_INT64: np.dtype("<i8"),
    types_pb2.DT_UINT8: np.dtype("<u1"),
    types_pb2.DT_UINT16: np.dtype("<u2"),
    types_pb2.DT_UINT32: np.dtype("<u4"),
    types_pb2.DT_UINT64: np.dtype("<u8"),
}
_CONTENT_ENUMS: dict[np.dtype, int] = {dtype: enum for enum, dtype in _CONTENT_DTYPES.items()}


def array_from_proto(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Decode a TensorProto (any of its encodings) into a NumPy array of its own dtype.

    Numeric `tensor_content` is read directly with NumPy (tf.make_ndarray costs ~20 us per tiny
    tensor); the typed value fields and strings go through tf.make_ndarray.
    """
    dtype = _CONTENT_DTYPES.get(proto.dtype)
    if dtype is None or not proto.tensor_content:
        return _array_from_proto_tf(proto)
    shape = [dim.size for dim in proto.tensor_shape.dim]
    if any(size < 0 for size in shape):
        raise TensorConversionError(f"cannot decode tensor with unknown dimension in shape {shape}")
    content = proto.tensor_content
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(content) != expected:
        raise TensorConversionError(
            f"tensor_content of {len(content)} bytes does not fit shape {shape} of {dtype.name} ({expected} bytes)"
        )
    return np.frombuffer(content, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _array_from_proto_tf(proto: tensor_pb2.TensorProto) -> np.ndarray:
    try:
        return tf.make_ndarray(proto)
    except (TypeError, ValueError, KeyError) as error:  # KeyError: a dtype with no NumPy type (DT_VARIANT)
        name = types_pb2.DataType.Name(proto.dtype) if proto.dtype in types_pb2.DataType.values() else proto.dtype
        raise TensorConversionError(f"cannot decode tensor of dtype {name}: {error!r}") from error


def fill_proto(proto: tensor_pb2.TensorProto, array: np.ndarray | bytes) -> None:
    """Encode a NumPy array (strings as bytes objects) into the empty TensorProto `proto`.

    Numeric arrays become `tensor_content` bytes directly (tf.make_tensor_proto costs ~25 us per
    tiny array); strings, bools and anything else go through tf.make_tensor_proto.
    """
    enum = _CONTENT_ENUMS.get(array.dtype) if isinstance(array, np.ndarray) else None
    if enum is None:
        proto.CopyFrom(tf.make_tensor_proto(array))
        return
    proto.dtype = enum
    for size in array.shape:
        proto.tensor_shape.dim.add(size=size)
    proto.tensor_content = array.tobytes()


def text_of(value: Any) -> str:
    """One string tensor element as str: bytes over gRPC, str over REST, or a 0-d array of either."""
    item = np.asarray(value).item() if isinstance(value, np.ndarray) else value
    return item.decode("utf-8") if isinstance(item, bytes) else str(item)


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


@dataclass(frozen=True)
class TensorInfo:
    """The dtype and shape of one signature input or output."""

    dtype: str  # "DT_INT32"
    shape: tuple[int, ...]  # -1 for an unknown dimension


@dataclass(frozen=True)
class Signature:
    """A signature's inputs and outputs by name."""

    inputs: dict[str, TensorInfo]
    outputs: dict[str, TensorInfo]


def infos_from_proto(tensors) -> dict[str, TensorInfo]:
    """A SignatureDef's inputs or outputs (proto map) -> TensorInfo by name."""
    return {name: TensorInfo(types_pb2.DataType.Name(info.dtype), tuple(dim.size for dim in info.tensor_shape.dim))
            for name, info in tensors.items()}


def infos_from_json(tensors: dict) -> dict[str, TensorInfo]:
    """A REST metadata answer's inputs or outputs -> TensorInfo by name."""
    return {name: TensorInfo(info.get("dtype", ""),
                             tuple(int(dim.get("size", -1)) for dim in info.get("tensor_shape", {}).get("dim", [])))
            for name, info in tensors.items()}

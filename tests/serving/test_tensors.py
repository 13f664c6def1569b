"""The fast TensorProto encoder/decoder agree with tf.make_tensor_proto / tf.make_ndarray."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2

from serving.tensors import TensorConversionError, array_from_proto, fill_proto


def array_to_proto(array: np.ndarray | bytes) -> tensor_pb2.TensorProto:
    """A new TensorProto holding ``array``, written by the product's ``fill_proto``."""
    proto = tensor_pb2.TensorProto()
    fill_proto(proto, array)
    return proto

ARRAYS = {
    "int32 [B]": np.array([3, -7, 2**31 - 1], np.int32),
    "int32 [B, P]": np.arange(12, dtype=np.int32).reshape(3, 4),
    "int32 scalar": np.array(5, np.int32),
    "int32 one element": np.array([9], np.int32),
    "int32 empty": np.zeros((0, 4), np.int32),
    "float32 [B, S]": np.random.default_rng(0).standard_normal((2, 512)).astype(np.float32),
    "float32 scalar": np.array(0.95, np.float32),
    "float32 special": np.array([np.inf, -np.inf, -0.0, np.finfo(np.float32).tiny], np.float32),
    "float32 empty": np.zeros((0,), np.float32),
    "float32 transposed": np.arange(6, dtype=np.float32).reshape(2, 3).T,
    "int64": np.array([[1, -(2**40)]], np.int64),
    "float64": np.array([1.5, -2.25]),
    "string [V]": np.array([b"/", b"_", b"r", "é".encode()], dtype=object),
    "string empty": np.zeros((0,), dtype=object),
}


def _same(left: np.ndarray, right: np.ndarray) -> bool:
    if left.dtype != right.dtype or left.shape != right.shape:
        return False
    if left.dtype == object:
        return left.tolist() == right.tolist()
    return left.tobytes() == right.tobytes()


@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_round_trip_matches_tensorflow(name: str) -> None:
    array = ARRAYS[name]
    ours = array_to_proto(array)
    theirs = tf.make_tensor_proto(array)
    assert ours.dtype == theirs.dtype
    assert ours.tensor_shape == theirs.tensor_shape
    assert _same(tf.make_ndarray(ours), array)  # TensorFlow reads what we write
    assert _same(array_from_proto(theirs), tf.make_ndarray(theirs))  # we read what TensorFlow writes
    assert _same(array_from_proto(ours), array)


def test_scalar_string_bytes_round_trip() -> None:
    decoded = array_from_proto(array_to_proto(b"abc"))
    assert decoded.shape == () and decoded.item() == b"abc"


def test_typed_value_fields_decode() -> None:
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1.5, 2.5])
    proto.tensor_shape.dim.add(size=2)
    assert array_from_proto(proto).tolist() == [1.5, 2.5]


def test_decoded_array_is_writable_copy() -> None:
    proto = array_to_proto(np.zeros(4, np.float32))
    decoded = array_from_proto(proto)
    decoded[0] = 1.0
    assert array_from_proto(proto)[0] == 0.0


def test_content_size_mismatch_is_named() -> None:
    proto = array_to_proto(np.zeros((2, 3), np.float32))
    proto.tensor_shape.dim[1].size = 4
    with pytest.raises(TensorConversionError, match=r"24 bytes does not fit shape \[2, 4\] of float32 \(32 bytes\)"):
        array_from_proto(proto)


def test_unknown_dimension_is_named() -> None:
    proto = array_to_proto(np.zeros((2, 3), np.int32))
    proto.tensor_shape.dim[0].size = -1
    with pytest.raises(TensorConversionError, match=r"unknown dimension in shape \[-1, 3\]"):
        array_from_proto(proto)

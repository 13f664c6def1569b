"""Seeded bad requests for the model server's fuzz test (tests/serving/model_server/test_fuzz.py).

Every request is bytes: a serialized (or garbled) gRPC request message sent raw over the channel
(the REST ones are in `fuzz_http`). `value_level` marks a request whose values are odd
(NaN temperature, negative steps) but which a model may well run: OK / 200 is a fine answer there.
"""
from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

import numpy as np
import tensorflow as tf
from google.protobuf import message
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_management_pb2,
    predict_pb2,
    regression_pb2,
)

PREDICT = "/tensorflow.serving.PredictionService/Predict"
REQUEST_TYPES: dict[str, type[message.Message]] = {
    PREDICT: predict_pb2.PredictRequest,
    "/tensorflow.serving.PredictionService/GetModelMetadata": get_model_metadata_pb2.GetModelMetadataRequest,
    "/tensorflow.serving.PredictionService/Classify": classification_pb2.ClassificationRequest,
    "/tensorflow.serving.PredictionService/Regress": regression_pb2.RegressionRequest,
    "/tensorflow.serving.PredictionService/MultiInference": inference_pb2.MultiInferenceRequest,
    "/tensorflow.serving.ModelService/GetModelStatus": get_model_status_pb2.GetModelStatusRequest,
    "/tensorflow.serving.ModelService/HandleReloadConfigRequest": model_management_pb2.ReloadConfigRequest,
}
DTYPES = [types_pb2.DT_FLOAT, types_pb2.DT_INT64, types_pb2.DT_STRING, types_pb2.DT_BOOL, types_pb2.DT_HALF,
          types_pb2.DT_COMPLEX64, types_pb2.DT_UINT8, types_pb2.DT_RESOURCE, types_pb2.DT_VARIANT, 0, 999]
INT32_EXTREMES = [-(2**31), -1, 0, 2**31 - 1]


@dataclasses.dataclass(frozen=True)
class GrpcCase:
    """One raw gRPC call: the method path and the request bytes."""

    kind: str
    method: str
    payload: bytes
    value_level: bool = False

    def parses(self) -> bool:
        """Whether the bytes are a valid request message (else gRPC itself refuses them)."""
        request_type = REQUEST_TYPES.get(self.method, predict_pb2.PredictRequest)
        try:
            request_type.FromString(self.payload)
        except message.DecodeError:
            return False
        return True


def good_inputs(rows: int = 2) -> dict[str, np.ndarray]:
    """The inputs of a good `generate` request of `rows` rows."""
    return {
        "primer": np.full((rows, 3), 3, np.int32), "primer_length": np.full(rows, 2, np.int32),
        "steps": np.full(rows, 4, np.int32), "temperature": np.ones(rows, np.float32),
        "top_k": np.zeros(rows, np.int32), "top_p": np.ones(rows, np.float32), "seed": np.arange(rows, dtype=np.int32),
    }


def predict_proto(inputs: dict[str, np.ndarray], signature: str = "", model: str = "tiny"
                  ) -> predict_pb2.PredictRequest:
    """A PredictRequest for the tiny model."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    for name, array in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array))
    return request


def _with(name: str, value: np.ndarray) -> predict_pb2.PredictRequest:
    """A good `generate` request with one input replaced."""
    return predict_proto({**good_inputs(), name: value})


def _grpc_makers(rng: random.Random) -> list[tuple[str, bool, Callable[[], predict_pb2.PredictRequest | bytes]]]:
    names = list(good_inputs())

    def wrong_names() -> predict_pb2.PredictRequest:
        inputs = good_inputs()
        inputs.pop(rng.choice(names))
        if rng.random() < 0.5:
            inputs[rng.choice(["mood", "", "primer ", "\u00e9t\u00e9", "x" * 300])] = np.ones(2, np.int32)
        return predict_proto(inputs)

    def wrong_dtype() -> predict_pb2.PredictRequest:
        request = predict_proto(good_inputs())
        tensor = request.inputs[rng.choice(names)]
        tensor.dtype = rng.choice([dtype for dtype in DTYPES if dtype != tensor.dtype])
        return request

    def wrong_rank() -> predict_pb2.PredictRequest:
        shape = [rng.choice([0, 1, 2, 3]) for _ in range(rng.choice([0, 1, 3, 5]))]
        return _with(rng.choice(names), np.zeros(shape, np.int32))

    def huge_dims() -> predict_pb2.PredictRequest:
        request = predict_proto(good_inputs())
        tensor = request.inputs[rng.choice(names)]
        tensor.ClearField("tensor_content")
        del tensor.tensor_shape.dim[:]
        for _ in range(rng.choice([1, 2, 3])):
            tensor.tensor_shape.dim.add(size=rng.choice([0, 1, 2**31, 2**62, 2**63 - 1, -1, -(2**40)]))
        return request

    def bad_content() -> predict_pb2.PredictRequest:
        request = predict_proto(good_inputs())
        tensor = request.inputs[rng.choice(names)]
        tensor.tensor_content = rng.randbytes(rng.choice([1, 3, 7, 9, 100]))
        if rng.random() < 0.5:
            tensor.int_val.extend([1, 2, 3])
            tensor.float_val.extend([0.5])
        return request

    def steps_values() -> predict_pb2.PredictRequest:
        return _with("steps", np.array([rng.choice(INT32_EXTREMES), rng.randint(-99, 99)], np.int32))

    def float_values() -> predict_pb2.PredictRequest:
        values = [np.nan, np.inf, -np.inf, -1.0, 2.0, 0.0, 1e38]
        return _with(rng.choice(["temperature", "top_p"]), np.array(rng.sample(values, 2), np.float32))

    def token_values() -> predict_pb2.PredictRequest:
        value = np.array([rng.choice(INT32_EXTREMES + [7, 99])], np.int32)
        if rng.random() < 0.5:
            return predict_proto({"token": value, "state": np.zeros((1, 1), np.float32)}, signature="step")
        inputs = good_inputs()
        key = rng.choice(["primer", "primer_length", "top_k", "seed"])
        inputs[key] = np.full_like(inputs[key], value[0])
        return predict_proto(inputs)

    def empty_tensors() -> predict_pb2.PredictRequest:
        inputs = good_inputs(0) if rng.random() < 0.5 else {**good_inputs(), rng.choice(names): np.zeros(0, np.int32)}
        return predict_proto(inputs)

    def unknown_spec() -> predict_pb2.PredictRequest:
        request = predict_proto(good_inputs())
        choice = rng.randrange(4)
        if choice == 0:
            request.model_spec.name = rng.choice(["nope", "", "TINY", "tiny/1", "\u2603"])
        elif choice == 1:
            request.model_spec.version.value = rng.choice([0, -1, 42, 2**63 - 1])
        elif choice == 2:
            request.model_spec.version_label = rng.choice(["canary", "Stable", "stable\x00"])
        else:
            request.model_spec.signature_name = rng.choice(["sing", "vocabulary", "step", " generate"])
        return request

    def output_filter() -> predict_pb2.PredictRequest:
        request = predict_proto(good_inputs())
        request.output_filter.extend(rng.sample(["melody", "", "tokens", "tokens"], 2))
        return request

    return [
        ("wrong input names", False, wrong_names), ("wrong dtype", False, wrong_dtype),
        ("wrong rank", False, wrong_rank), ("huge or negative declared dims", False, huge_dims),
        ("tensor_content of the wrong size", False, bad_content), ("steps extremes", True, steps_values),
        ("NaN/inf temperature, top_p out of range", True, float_values),
        ("token ids out of range", True, token_values), ("empty tensors", True, empty_tensors),
        ("unknown model/version/label/signature", False, unknown_spec), ("output filter", True, output_filter),
    ]


def _garbled(rng: random.Random) -> tuple[str, bytes]:
    valid = predict_proto(good_inputs()).SerializeToString(deterministic=True)
    choice = rng.randrange(5)
    if choice == 0:
        return "random bytes", rng.randbytes(rng.randrange(1, 200))
    if choice == 1:
        return "truncated request", valid[: rng.randrange(1, len(valid))]
    if choice == 2:
        flipped = bytearray(valid)
        for _ in range(rng.randrange(1, 8)):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        return "flipped bits", bytes(flipped)
    if choice == 3:  # model_spec { name: <not UTF-8> }
        name = rng.choice([b"\xff\xfe", b"ti\xc3ny", b"\xed\xa0\x80"])
        spec = b"\x0a" + bytes([len(name)]) + name
        return "non-UTF-8 model name", b"\x0a" + bytes([len(spec)]) + spec
    depth = rng.choice([50, 120, 1000])  # model_spec inside model_spec: unknown fields nested deep
    nested = b""
    for _ in range(depth):
        nested = b"\x7a" + _varint(len(nested)) + nested  # field 15, length-delimited
    return "deeply nested unknown fields", nested


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def grpc_cases(rng: random.Random, count: int) -> list[GrpcCase]:
    """`count` seeded bad gRPC requests: garbled bytes to every method, bad PredictRequests."""
    makers = _grpc_makers(rng)
    methods = [*REQUEST_TYPES, "/tensorflow.serving.PredictionService/Nope"]
    cases = []
    for _ in range(count):
        if rng.random() < 0.3:
            kind, payload = _garbled(rng)
            cases.append(GrpcCase(kind, rng.choice(methods), payload, value_level=True))  # may parse, and be fine
            continue
        kind, value_level, make = rng.choice(makers)
        cases.append(GrpcCase(kind, PREDICT, make().SerializeToString(deterministic=True), value_level))
    return cases

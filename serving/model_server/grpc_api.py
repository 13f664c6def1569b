"""The gRPC services of TF Serving: PredictionService (Predict, GetModelMetadata, Classify, Regress,
MultiInference) and ModelService (GetModelStatus, HandleReloadConfigRequest), on the official
tensorflow-serving-api servicer bases.

Classify and Regress answer what TF Serving answers for our models (`example_signatures`).
MultiInference and HandleReloadConfigRequest are not implemented: they answer UNIMPLEMENTED
(TF Serving implements both). Every refusal aborts the call with its status and is logged at INFO.
"""
from __future__ import annotations

import logging
from typing import Any, NoReturn

import grpc
import tensorflow as tf
from google.protobuf import any_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_management_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from serving.model_server.example_signatures import CLASSIFY, REGRESS, classify_or_regress
from serving.model_server.inference import (
    Limits,
    ModelSpec,
    ServingError,
    check_declared_size,
    model_status,
    resolve,
    run_signature,
    signature_def,
)
from serving.model_server.registry import ModelRegistry, VersionStatus
from serving.model_server.servable import Servable
from serving.tensors import TensorConversionError, array_from_proto, fill_proto

LOGGER = logging.getLogger(__name__)
SIGNATURE_DEF_FIELD = "signature_def"


def _itemsize(name: str, dtype_enum: int) -> int:
    """Bytes per element of a TensorProto dtype (1 for strings, whose length is their own)."""
    try:
        dtype = tf.dtypes.as_dtype(dtype_enum)
    except TypeError:
        message = f"input {name!r} has unknown tensor dtype {dtype_enum}"
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, message) from None
    return 1 if dtype == tf.string else max(1, dtype.size)


def spec_from_proto(proto: model_pb2.ModelSpec) -> ModelSpec:
    """The request's model spec; a version and a label are mutually exclusive (a proto oneof)."""
    choice = proto.WhichOneof("version_choice")
    return ModelSpec(
        name=proto.name,
        version=proto.version.value if choice == "version" else None,
        label=proto.version_label if choice == "version_label" else "",
        signature_name=proto.signature_name,
    )


def answer_spec(servable: Servable, signature_name: str) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=servable.name, signature_name=signature_name)
    spec.version.value = servable.version
    return spec


def _abort(context: grpc.ServicerContext, error: ServingError, method: str) -> NoReturn:
    LOGGER.info("%s refused: %s %s", method, error.code.name, error.message)
    context.abort(error.code, error.message)


def _unimplemented(context: grpc.ServicerContext, method: str) -> NoReturn:
    _abort(context, ServingError(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not implemented by the local server"), method)


def _refuse_examples(registry: ModelRegistry, request: Any, method: str, context: grpc.ServicerContext) -> NoReturn:
    """Classify / Regress: TF Serving's checks (INVALID_ARGUMENT "Missing ModelSpec" first), always a refusal."""
    name = "Classify" if method == CLASSIFY else "Regress"
    if not request.HasField("model_spec"):
        _abort(context, ServingError(grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec"), name)
    try:
        classify_or_regress(registry, spec_from_proto(request.model_spec), method)
    except ServingError as error:
        _abort(context, error, name)


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata over the registry's loaded servables."""

    def __init__(self, registry: ModelRegistry, limits: Limits) -> None:
        self.registry = registry
        self.limits = limits

    def Predict(self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext) -> predict_pb2.PredictResponse:
        try:
            spec = spec_from_proto(request.model_spec)
            servable = resolve(self.registry, spec)
            signature_name, _ = signature_def(servable, spec.signature_name)
            for name, proto in request.inputs.items():
                check_declared_size(name, [dim.size for dim in proto.tensor_shape.dim], _itemsize(name, proto.dtype),
                                    self.limits)
            inputs = {}
            for name, proto in request.inputs.items():
                try:
                    inputs[name] = array_from_proto(proto)
                except TensorConversionError as error:  # TF Serving: "tensor parsing error: NAME"
                    message = f"tensor parsing error: {name}: {error}"
                    raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, message) from error
            outputs = run_signature(servable, signature_name, inputs, list(request.output_filter), self.limits)
        except ServingError as error:
            _abort(context, error, "Predict")
        response = predict_pb2.PredictResponse(model_spec=answer_spec(servable, signature_name))
        for name, array in outputs.items():
            fill_proto(response.outputs[name], array)
        return response

    def GetModelMetadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest, context: grpc.ServicerContext
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        try:
            fields = list(request.metadata_field)
            if not fields:
                raise ServingError(
                    grpc.StatusCode.INVALID_ARGUMENT, "GetModelMetadataRequest must specify at least one metadata_field"
                )
            unsupported = [field for field in fields if field != SIGNATURE_DEF_FIELD]
            if unsupported:
                raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"Metadata field {unsupported[0]} is not supported")
            servable = resolve(self.registry, spec_from_proto(request.model_spec))
        except ServingError as error:
            _abort(context, error, "GetModelMetadata")
        response = get_model_metadata_pb2.GetModelMetadataResponse(model_spec=answer_spec(servable, ""))
        response.metadata[SIGNATURE_DEF_FIELD].CopyFrom(pack_signature_defs(servable))
        return response

    def Classify(
        self, request: classification_pb2.ClassificationRequest, context: grpc.ServicerContext
    ) -> classification_pb2.ClassificationResponse:
        _refuse_examples(self.registry, request, CLASSIFY, context)

    def Regress(
        self, request: regression_pb2.RegressionRequest, context: grpc.ServicerContext
    ) -> regression_pb2.RegressionResponse:
        _refuse_examples(self.registry, request, REGRESS, context)

    def MultiInference(
        self, request: inference_pb2.MultiInferenceRequest, context: grpc.ServicerContext
    ) -> inference_pb2.MultiInferenceResponse:
        _unimplemented(context, "MultiInference")


def signature_def_map(servable: Servable) -> get_model_metadata_pb2.SignatureDefMap:
    """Every SignatureDef of the servable, as GetModelMetadata reports them."""
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for name, definition in servable.signature_defs.items():
        signature_map.signature_def[name].CopyFrom(definition)
    return signature_map


def pack_signature_defs(servable: Servable) -> any_pb2.Any:
    """The SignatureDefMap packed in an Any, as TF Serving does."""
    packed = any_pb2.Any()
    packed.Pack(signature_def_map(servable))
    return packed


def status_response(statuses: list[VersionStatus]) -> get_model_status_pb2.GetModelStatusResponse:
    """GetModelStatus's answer: each version's state, and the code and message of its load (OK, "")."""
    response = get_model_status_pb2.GetModelStatusResponse()
    state_enum = get_model_status_pb2.ModelVersionStatus.State
    for status in statuses:
        entry = response.model_version_status.add(version=status.version, state=state_enum.Value(status.state))
        entry.status.SetInParent()  # TF Serving always sets it, so its JSON always shows it
        entry.status.error_code = status.error_code
        entry.status.error_message = status.error
    return response


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus: the state of every version seen under a model's base path."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def GetModelStatus(
        self, request: get_model_status_pb2.GetModelStatusRequest, context: grpc.ServicerContext
    ) -> get_model_status_pb2.GetModelStatusResponse:
        spec = spec_from_proto(request.model_spec)
        try:
            version = spec.version
            if spec.label:
                version = resolve(self.registry, spec).version
            statuses = model_status(self.registry, spec.name, version)
        except ServingError as error:
            _abort(context, error, "GetModelStatus")
        return status_response(statuses)

    def HandleReloadConfigRequest(
        self, request: model_management_pb2.ReloadConfigRequest, context: grpc.ServicerContext
    ) -> model_management_pb2.ReloadConfigResponse:
        _unimplemented(context, "HandleReloadConfigRequest")

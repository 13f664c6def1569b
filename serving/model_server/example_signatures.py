"""Classify and Regress, as TF Serving answers them for our SavedModels.

What TF Serving does (tensorflow/serving `servables/tensorflow/classification_service.cc`,
`classifier.cc`, `regressor.cc`; REST: `model_servers/http_rest_api_handler.cc` and
`util/json_tensor.cc`): a request without a model spec is INVALID_ARGUMENT "Missing ModelSpec";
then it resolves the servable (NOT_FOUND / INVALID_ARGUMENT for an unknown label, as Predict);
then it looks the signature up (`signature_name`, default `serving_default`): absent, INVALID_ARGUMENT
"No signature was found with the name: NAME". With `--enable_signature_method_name_check` off (its
default) it checks the signature's shape instead of its method name: one input, one output (regress)
or one or two (classify), the input named `inputs`, the outputs `classes`/`scores` (classify) or
`outputs` (regress); each failure is INVALID_ARGUMENT with TF Serving's text. Only then would it
parse the `tf.Example` inputs and run the session.

Folkgen's exports have no such signature (every token and VAE signature takes named tensors), so
these checks always fail, as they do on TF Serving. A signature that passed them would be run
over serialized `tf.Example`s by TF Serving; the local server answers UNIMPLEMENTED there instead.
"""
from __future__ import annotations

from typing import NoReturn

import grpc
from google.protobuf import text_format
from tensorflow.core.protobuf import meta_graph_pb2

from serving.contract.signatures import DEFAULT_SIGNATURE
from serving.model_server.inference import ModelSpec, ServingError, resolve
from serving.model_server.registry import ModelRegistry

CLASSIFY = "classify"
REGRESS = "regress"


def _invalid(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _debug_string(definition: meta_graph_pb2.SignatureDef) -> str:
    """The SignatureDef in protobuf text format (what C++ `DebugString` prints)."""
    return text_format.MessageToString(definition)


def _check_classification(definition: meta_graph_pb2.SignatureDef) -> None:
    if len(definition.outputs) not in (1, 2):
        raise _invalid(f"Expected one or two output Tensors, found {len(definition.outputs)}")
    if "inputs" not in definition.inputs:
        raise _invalid(f"No classification inputs found in SignatureDef: {_debug_string(definition)}")
    if not {"classes", "scores"} & set(definition.outputs):
        raise _invalid(
            'Expected classification signature outputs to contain at least one of "classes" or "scores". '
            f"Signature was: {_debug_string(definition)}"
        )


def _check_regression(definition: meta_graph_pb2.SignatureDef) -> None:
    if len(definition.outputs) != 1:
        raise _invalid("Expected one output Tensor.")
    if "inputs" not in definition.inputs:
        raise _invalid(f"No regression inputs found in SignatureDef: {_debug_string(definition)}")
    if "outputs" not in definition.outputs:
        raise _invalid(f"No regression outputs found in SignatureDef: {_debug_string(definition)}")


def classify_or_regress(registry: ModelRegistry, spec: ModelSpec, method: str) -> NoReturn:
    """Answer a Classify (`method="classify"`) or Regress request: always a ServingError (see the module)."""
    servable = resolve(registry, spec)
    name = spec.signature_name or DEFAULT_SIGNATURE
    definition = servable.signature_defs.get(name)
    if definition is None:
        raise _invalid(f"No signature was found with the name: {name}")
    if len(definition.inputs) != 1:
        raise _invalid("Expected one input Tensor.")
    if method == CLASSIFY:
        _check_classification(definition)
    else:
        _check_regression(definition)
    raise ServingError(
        grpc.StatusCode.UNIMPLEMENTED,
        f"{method} over tf.Example inputs is not implemented by the local server (signature {name!r})",
    )

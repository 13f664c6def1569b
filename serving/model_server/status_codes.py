"""TF Serving's status codes: the HTTP code of each, and the code and message a failed load reports.

The HTTP map is the one in tensorflow/serving's `model_servers/http_server.cc` (`ToHTTPStatusCode`),
with the numbers of `util/net_http/server/public/response_code_enum.h`. TensorFlow's error codes
(`tensorflow.error.Code`) are the gRPC status codes, number for number.
"""
from __future__ import annotations

import os

import grpc
import tensorflow as tf
from google.protobuf.message import DecodeError

HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,  # CLIENT_CLOSED_REQUEST (nginx's code)
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


def http_status(code: grpc.StatusCode) -> int:
    """The HTTP status TF Serving's REST API answers for a gRPC status code."""
    return HTTP_STATUS.get(code, 500)


def grpc_code(number: int) -> grpc.StatusCode:
    """The gRPC status code of a `tensorflow.error.Code` number (the same numbers); INTERNAL for none."""
    for code in grpc.StatusCode:
        if code.value[0] == number:
            return code
    return grpc.StatusCode.INTERNAL


def load_error_code(error: BaseException) -> int:
    """The `tensorflow.error.Code` number of the error that failed a load.

    A TensorFlow `OpError` keeps its own code (a folder without saved_model.pb is NOT_FOUND, see
    `servable.load_session`). The Python loader re-raises a saved_model.pb that does not parse as
    an OSError; TensorFlow's C++ loader (the one TF Serving runs) reports it as DATA_LOSS. Anything
    else is UNKNOWN.
    """
    if isinstance(error, tf.errors.OpError):
        return error.error_code
    if isinstance(error, DecodeError) or isinstance(error.__cause__, DecodeError):  # the loader re-raises as OSError
        return tf.errors.DATA_LOSS
    return tf.errors.UNKNOWN


def _path_spellings(path: str) -> list[str]:
    """`path` as an error text may spell it: as given, resolved (local paths), and inside a bytes repr."""
    spellings = {path.rstrip("/")}
    if "://" not in path:
        spellings.add(os.path.realpath(path))
    spellings |= {repr(os.fsencode(spelling))[2:-1] for spelling in list(spellings)}
    return sorted((spelling for spelling in spellings if spelling), key=len, reverse=True)


def load_error_message(error: BaseException, base_path: str, model_name: str) -> str:
    """A failed load's message as clients see it: `Type: text`, the server's base path shown as the model name.

    `model/2/saved_model.pb` instead of `/srv/models/model/2/saved_model.pb`: GetModelStatus must not
    tell clients where the server keeps its files.
    """
    message = f"{type(error).__name__}: {error}"
    for spelling in _path_spellings(base_path):
        message = message.replace(spelling, model_name)
    return message

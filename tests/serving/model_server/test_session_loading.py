"""serving/model_server/servable.py loads as tensorflow_model_server does, so it fails where that server fails.

A `tf.Module` holding Keras 3 variables, saved with `tf.saved_model.save`, loads under
`tf.saved_model.load` but its variables are not restored by the MetaGraph's saver: the exports
of this project before issue 10. Here such an export must fail as TF Serving fails it.
"""
from __future__ import annotations

import pathlib

import grpc
import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from serving.contract.versions import WARMUP_REQUESTS
from serving.model_server.inference import Limits, ServingError, run_signature
from serving.model_server.registry import ModelConfig, ModelVersions
from serving.model_server.servable import load_servable

pytestmark = pytest.mark.server


def _save_keras_variables_in_a_module(folder: pathlib.Path, warmup: bool) -> None:
    """The pre-issue-10 way of exporting: Keras variables tracked by a plain tf.Module."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")])
    module = tf.Module()
    module.model_variables = list(model.variables)
    module.predict = tf.function(lambda x: {"y": model(x)}, input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    assert np.isfinite(tf.saved_model.load(str(_saved(module, folder))).signatures["serving_default"](
        x=tf.ones([1, 3]))["y"].numpy()).all()  # the object-graph loader restores it
    if warmup:
        request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(name="old", signature_name="serving_default"))
        request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.ones([1, 3], np.float32)))
        (folder / WARMUP_REQUESTS).parent.mkdir()
        with tf.io.TFRecordWriter(str(folder / WARMUP_REQUESTS)) as writer:
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


def _saved(module: tf.Module, folder: pathlib.Path) -> pathlib.Path:
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.predict.get_concrete_function()})
    return folder


def test_an_export_whose_variables_the_saver_misses_answers_failed_precondition(tmp_path: pathlib.Path) -> None:
    _save_keras_variables_in_a_module(tmp_path / "1", warmup=False)
    servable = load_servable("old", 1, str(tmp_path / "1"))  # loads: TF Serving finds the failure at run time
    with pytest.raises(ServingError) as refused:
        run_signature(servable, "", {"x": np.ones([1, 3], np.float32)}, [], Limits())
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "Could not find variable sequential/dense/" in refused.value.message


def test_its_warmup_request_fails_the_load_with_that_code(tmp_path: pathlib.Path) -> None:
    _save_keras_variables_in_a_module(tmp_path / "1", warmup=True)
    versions = ModelVersions(ModelConfig(name="old", base_path=str(tmp_path)))
    versions.poll()
    assert versions.servables() == {}
    status = versions.statuses()[1]
    assert status.state == "END" and status.error_code == tf.errors.FAILED_PRECONDITION
    assert "Could not find variable" in status.error

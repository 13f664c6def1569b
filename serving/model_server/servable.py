"""One loaded version of a model, loaded the way `tensorflow_model_server` loads a SavedModel.

TF Serving's SavedModel loader does not rebuild Python objects: it imports the MetaGraph tagged
`serve` into a new graph, opens a session over it, runs the saver's restore op on
`variables/variables` and then the init op (`__saved_model_init_op`), and runs a signature by
feeding and fetching the tensor names in its SignatureDef. `tf.compat.v1.saved_model.load` does
the same steps, so an export whose variables only the object-graph loader (`tf.saved_model.load`)
restores fails here as it would there: at warm-up, or with FAILED_PRECONDITION on its first
request. Paths may be any `tf.io.gfile` path (`gs://...` too).
"""
from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import prediction_log_pb2

from serving.contract.signatures import DEFAULT_SIGNATURE
from serving.contract.versions import WARMUP_REQUESTS
from serving.tensors import array_from_proto

LOGGER = logging.getLogger(__name__)
SERVE_TAG = "serve"
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
MAX_WARMUP_REQUESTS = 1000  # TF Serving's limit on replayed warm-up records


@dataclasses.dataclass(frozen=True)
class Servable:
    """One loaded version: its session over the `serve` MetaGraph and that MetaGraph's SignatureDefs.

    The session is never closed explicitly: a request that resolved this servable before it was
    unloaded still completes, and the session closes when the last reference goes.
    """

    name: str
    version: int
    path: str
    session: tf.compat.v1.Session
    signature_defs: Mapping[str, meta_graph_pb2.SignatureDef]

    def run(
        self, signature_name: str, inputs: Mapping[str, np.ndarray], output_names: Sequence[str] = ()
    ) -> dict[str, np.ndarray]:
        """Feed `inputs` by the signature's tensor names, fetch `output_names` (all if empty).

        Raises `tf.errors.OpError` as the session does (its code is the gRPC status code).
        """
        definition = self.signature_defs[signature_name]
        feeds = {definition.inputs[name].name: array for name, array in inputs.items()}
        fetches = {name: definition.outputs[name].name for name in (output_names or definition.outputs)}
        return self.session.run(fetches, feed_dict=feeds)


def has_saved_model(export_dir: str) -> bool:
    """Whether ``export_dir`` holds a SavedModel file (``saved_model.pb`` or ``.pbtxt``)."""
    return any(tf.io.gfile.exists(os.path.join(export_dir, name)) for name in SAVED_MODEL_FILES)


def load_session(export_dir: str) -> tuple[tf.compat.v1.Session, meta_graph_pb2.MetaGraphDef]:
    """A session over the `serve` MetaGraph of `export_dir`, variables restored, init op run.

    A folder without a SavedModel fails with NOT_FOUND and the text of TensorFlow's C++ reader.
    """
    if not has_saved_model(export_dir):
        raise tf.errors.NotFoundError(
            None, None, f"Could not find SavedModel .pb or .pbtxt at supplied export directory path: {export_dir}"
        )
    graph = tf.Graph()
    session = tf.compat.v1.Session(graph=graph)
    try:
        with graph.as_default():
            meta_graph = tf.compat.v1.saved_model.load(session, [SERVE_TAG], export_dir)
    except BaseException:
        session.close()
        raise
    return session, meta_graph


def run_warmup_requests(servable: Servable) -> int:
    """Replay `assets.extra/tf_serving_warmup_requests` (PredictionLogs) as TF Serving does; return the count.

    A failing warm-up request fails the load, as in TF Serving.
    """
    path = os.path.join(servable.path, str(WARMUP_REQUESTS))
    if not tf.io.gfile.exists(path):
        return 0
    count = 0
    for record in tf.compat.v1.io.tf_record_iterator(path):
        if count == MAX_WARMUP_REQUESTS:
            break
        log = prediction_log_pb2.PredictionLog.FromString(record)
        if log.WhichOneof("log_type") != "predict_log":
            raise ValueError(f"{path}: only predict_log warmup records are supported, got {log.WhichOneof('log_type')}")
        request = log.predict_log.request
        inputs = {name: array_from_proto(proto) for name, proto in request.inputs.items()}
        servable.run(request.model_spec.signature_name or DEFAULT_SIGNATURE, inputs, list(request.output_filter))
        count += 1
    return count


def load_servable(name: str, version: int, export_dir: str) -> Servable:
    """Load one version directory and replay its warm-up requests, if any."""
    session, meta_graph = load_session(export_dir)
    servable = Servable(
        name=name, version=version, path=export_dir, session=session, signature_defs=dict(meta_graph.signature_def)
    )
    warmed = run_warmup_requests(servable)
    if warmed:
        LOGGER.info("Ran %d warmup requests for %s version %d", warmed, name, version)
    return servable

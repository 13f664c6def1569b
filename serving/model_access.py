"""One way to reach a model: through a server (gRPC or REST), or loaded in this process.

    client = open_model_client("lstm_erk")                         # saved_models/, in process
    client = open_model_client("lstm_erk", server="localhost:8500")  # a TF Serving (stand-in) server
    available_models()                                              # ["abc_irish", "lstm_erk", ...]

The models folder, when none is given: ``$FOLKGEN_MODELS_DIR``, else ``./saved_models`` if it
exists, else the repository's ``saved_models`` (next to the ``serving`` package). Importing this
module imports neither TensorFlow nor gRPC: they are imported when a model is opened.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from serving.retry_policy import RetryPolicy

if TYPE_CHECKING:
    from serving.client import ModelClient, VersionStatus

logger = logging.getLogger(__name__)

MODELS_DIR_VARIABLE = "FOLKGEN_MODELS_DIR"
REPOSITORY_MODELS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "saved_models")
DEFAULT_MODELS_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models.config")
LOCAL_SAVED_MODELS = "saved_models"


class NoSuchModelError(ValueError):
    """A models folder that is not there, or a model it does not hold; the message lists what it holds."""


def models_dir_path(models_dir: str | None = None) -> str:
    """The folder to load models from: ``models_dir``, else ``$FOLKGEN_MODELS_DIR``, else
    ``./saved_models`` if it exists, else the repository's ``saved_models``."""
    if models_dir:
        return models_dir
    if os.environ.get(MODELS_DIR_VARIABLE):
        return os.environ[MODELS_DIR_VARIABLE]
    if os.path.isdir(LOCAL_SAVED_MODELS):
        return os.path.abspath(LOCAL_SAVED_MODELS)
    return REPOSITORY_MODELS_DIR


def local_model_names(models_dir: str) -> list[str]:
    """The models in a folder: each sub-folder holding a version folder with a SavedModel, sorted.

    NoSuchModelError naming the folder when it does not exist.
    """
    import tensorflow as tf  # heavy: paths go through tf.io.gfile, so gs:// folders work too

    if not tf.io.gfile.isdir(models_dir):
        raise NoSuchModelError(f"models folder {models_dir!r} does not exist "
                               f"(--models-dir, ${MODELS_DIR_VARIABLE}, or ./{LOCAL_SAVED_MODELS})")
    names = (entry.rstrip("/") for entry in sorted(tf.io.gfile.listdir(models_dir)))
    return [name for name in names if holds_model(models_dir, name)]


def holds_model(models_dir: str, model: str) -> bool:
    """Whether ``models_dir/model`` has a version folder with a SavedModel."""
    from serving.contract.versions import version_dirs
    from serving.model_server.servable import has_saved_model

    return any(has_saved_model(folder) for folder in version_dirs(os.path.join(models_dir, model)).values())


def configured_model_names(config_path: str = DEFAULT_MODELS_CONFIG) -> list[str]:
    """Model names listed in a TF Serving models.config (text-format ModelServerConfig)."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    if not os.path.isfile(config_path):
        raise ValueError(f"models config {config_path!r} does not exist")
    with open(config_path, encoding="utf-8") as handle:
        try:
            config = text_format.Parse(handle.read(), model_server_config_pb2.ModelServerConfig())
        except text_format.ParseError as error:
            raise ValueError(f"cannot parse models config {config_path!r}: {error}") from None
    return [entry.name for entry in config.model_config_list.config]


def open_model_client(model: str, server: str | None = None, models_dir: str | None = None, rest: bool = False,
                      version: int | None = None, retry: RetryPolicy = RetryPolicy()) -> ModelClient:
    """A client of ``model``: of the server at ``server`` (host:port; REST with ``rest``), or, with no
    server, of the SavedModel loaded in this process from ``models_dir`` (see ``models_dir_path``).

    In process: NoSuchModelError naming the model and the folder's models when the folder lacks it;
    ``serving.client.ModelNotFoundError`` when it is there but no (such) version loads.
    """
    if server is not None:
        from serving.client import connect

        return connect(server, model, rest, version, retry)
    folder = models_dir_path(models_dir)
    if not holds_model(folder, model):  # the whole folder is listed only to name what it holds
        names = local_model_names(folder)
        raise NoSuchModelError(f"no model {model!r} in {folder!r}; it holds: {', '.join(names) or 'no models'}")
    from serving.local_client import LocalModelClient

    return LocalModelClient(folder, model, version, retry)


def served_statuses(server: str, names: Sequence[str], rest: bool = False,
                    retry: RetryPolicy = RetryPolicy()) -> dict[str, list[VersionStatus]]:
    """GetModelStatus of each name at ``server``; the names the server does not know are left out.

    TF Serving has no call that lists its models, so only named models can be found.
    """
    from serving.client import ModelNotFoundError, connect

    found = {}
    for name in names:
        client = connect(server, name, rest, retry=retry)
        try:
            found[name] = client.status()
        except ModelNotFoundError:
            continue
        finally:
            client.close()
    return found


def candidate_names(models_dir: str | None = None, config_path: str = DEFAULT_MODELS_CONFIG) -> list[str]:
    """Names a server may serve: those of ``config_path`` (serving/models.config) and of the local models folder."""
    names = configured_model_names(config_path)
    try:
        names += local_model_names(models_dir_path(models_dir))
    except NoSuchModelError:
        pass  # no local folder: the config's names alone
    return sorted(set(names))


def available_models(server: str | None = None, models_dir: str | None = None, rest: bool = False,
                     retry: RetryPolicy = RetryPolicy()) -> list[str]:
    """Names of the models that can be used now, sorted: with ``server``, those of ``candidate_names``
    that it serves with a version AVAILABLE; without, the models of the local folder."""
    if server is None:
        return local_model_names(models_dir_path(models_dir))
    statuses = served_statuses(server, candidate_names(models_dir), rest, retry)
    return [name for name, versions in statuses.items() if any(v.state == "AVAILABLE" for v in versions)]

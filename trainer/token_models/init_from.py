"""Fine-tuning: a token model's starting weights and vocabulary read from an exported SavedModel.

``read_export(path)`` takes a ``saved_models/<model>`` folder (its highest version) or one version
folder, loads it with ``tf.saved_model.load`` and returns its vocabulary, its model kind and the
variables its ``step`` signature captures: every weight of the model, named by its Keras path
(``lstm/lstm_cell/kernel:0``), as ``trainer.token_models.export`` writes them.
``assign_weights(model, export)`` copies them into a freshly built model of a preset, matched by
name and checked by shape. Each refusal is a ValueError naming the path, both model kinds, or the
weight and both shapes.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from serving.contract import signatures as sig
from serving.contract import versions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceExport:
    """What fine-tuning takes from an export: its folder, ``symbols`` ``[V]``, kind and weights by name."""

    path: str
    symbols: tuple[str, ...]
    model_kind: str
    weights: dict[str, np.ndarray]


def export_dir(path: str | os.PathLike) -> str:
    """The version folder ``path`` names: itself if it holds ``saved_model.pb``, else its highest version."""
    path = os.fspath(path)
    if tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
        return path
    if not tf.io.gfile.isdir(path):
        raise ValueError(f"--init-from {path!r} does not exist")
    try:
        folder = versions.latest_version_dir(path)
    except ValueError:
        raise ValueError(f"--init-from {path!r} is no export: no saved_model.pb and no version folder (1, 2, ...) "
                         "holding one") from None
    if not tf.io.gfile.exists(os.path.join(folder, "saved_model.pb")):
        raise ValueError(f"--init-from {path!r} is no export: its version folder {folder!r} has no saved_model.pb")
    return folder


def _kind_of(loaded, folder: str) -> str:
    """The model kind an export states: ``vocabulary``'s for token models, ``info``'s for VAEs."""
    if sig.VOCABULARY in loaded.signatures:
        return loaded.signatures[sig.VOCABULARY]()[sig.MODEL_KIND].numpy().decode("utf-8")
    if sig.INFO in loaded.signatures:
        return sig.vae_model_kind(loaded.signatures[sig.INFO]()[sig.KIND].numpy().decode("utf-8"))
    raise ValueError(f"--init-from {folder!r} is a SavedModel without a {sig.VOCABULARY!r} or {sig.INFO!r} "
                     f"signature (it has {sorted(loaded.signatures)}), so no Folkgen export")


def read_export(path: str | os.PathLike, *, model_kind: str) -> SourceExport:
    """Reads the export at ``path``; ValueError unless it is a token model of ``model_kind``."""
    folder = export_dir(path)
    try:
        loaded = tf.saved_model.load(folder)
    except (OSError, ValueError, tf.errors.OpError) as error:
        raise ValueError(f"--init-from {folder!r} is no SavedModel that loads: {error}") from None
    kind = _kind_of(loaded, folder)
    if kind != model_kind:
        raise ValueError(f"--init-from {folder!r} is a {kind!r} model, but this preset trains a {model_kind!r} "
                         "model; fine-tune it with a preset of its own kind")
    symbols = tuple(s.decode("utf-8") for s in loaded.signatures[sig.VOCABULARY]()[sig.SYMBOLS].numpy())
    weights = {variable.name.removesuffix(":0"): variable.numpy() for variable in loaded.signatures[sig.STEP].variables}
    logger.info("init from %s: %s, %d symbols, %d weights", folder, kind, len(symbols), len(weights))
    return SourceExport(folder, symbols, kind, weights)


def assign_weights(model: keras.Model, export: SourceExport) -> None:
    """Sets every weight of ``model`` to the export's weight of the same path; ValueError naming the
    first weight missing on either side or of another shape (the preset does not fit the export)."""
    paths = [weight.path for weight in model.weights]
    missing = [path for path in paths if path not in export.weights]
    unused = sorted(set(export.weights) - set(paths))
    if missing or unused:
        raise ValueError(f"the preset's model does not fit the export {export.path!r}: weights only in the preset "
                         f"{missing}, only in the export {unused}")
    for weight in model.weights:
        value = export.weights[weight.path]
        if tuple(weight.shape) != value.shape:
            raise ValueError(f"the preset's model does not fit the export {export.path!r}: weight {weight.path!r} "
                             f"has shape {tuple(weight.shape)} in the preset, {value.shape} in the export")
    for weight in model.weights:
        weight.assign(export.weights[weight.path])

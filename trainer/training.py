"""One preset's training run, whichever model family the preset belongs to.

``train_preset`` resolves the preset and its ``--set`` overrides in the one registry
(``trainer.presets``) and hands the config to its family's trainer: ``TrainConfig`` ->
``trainer.token_models.train.train``, ``VaeConfig`` -> ``trainer.vae.train.train_vae``, ``MelodyVaeConfig`` ->
``trainer.vae.melody_train.train_melody_vae``. All write
through ``trainer.fitting`` into the same ``RunPaths``. Importing this module registers every
family's presets.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras

from trainer import presets
from trainer.run_paths import RunPaths
from trainer.token_models.config import TrainConfig
from trainer.token_models.data import check_data_dir
from trainer.token_models.train import train
from trainer.vae.config import VaeConfig
from trainer.vae.melody_config import MelodyVaeConfig
from trainer.vae.melody_train import train_melody_vae
from trainer.vae.train import train_vae

TRAINERS = {TrainConfig: train, VaeConfig: train_vae, MelodyVaeConfig: train_melody_vae}


def train_preset(
    *,
    preset: str,
    data_dir: str,
    paths: RunPaths,
    overrides: Mapping[str, str] | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 2,
    init_from: str | None = None,
) -> dict:
    """Trains (or resumes) ``preset`` with ``overrides`` (field -> flag string); returns its metrics.
    ``init_from``: an export whose weights and vocabulary a token model starts from (fine-tuning).

    ValueError names a bad preset, field, value or data folder before anything is written.
    """
    config = presets.resolve(preset, overrides)
    check_data_dir(data_dir)  # a preprocessing output: TFRecords, TFDS metadata, vocabulary
    trainer = TRAINERS[type(config)]
    if init_from is None:
        return trainer(config, data_dir, paths, preset=preset, callbacks=callbacks, verbose=verbose)
    if not isinstance(config, TrainConfig):
        raise ValueError(f"--init-from fine-tunes token models; preset {preset!r} is a {type(config).__name__}")
    return train(config, data_dir, paths, preset=preset, callbacks=callbacks, verbose=verbose, init_from=init_from)

"""trainer.vae.train: real tiny runs through the shared machinery (checkpoints, logs, config, metrics)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from tests.helpers.vae_tiny import TINY_LENGTH, tiny_config, write_tiny_dataset
from trainer import fitting
from trainer.run_paths import RunPaths
from trainer.vae import data as vae_data
from trainer.vae.train import FINAL_WEIGHTS, train_vae

pytestmark = pytest.mark.train


@pytest.mark.parametrize("preset", ["vae_rhythms", "vae_notes_cat"])
def test_train_vae_on_a_tiny_tfds_folder(tmp_path, preset):
    lengths = write_tiny_dataset(
        tmp_path / "data", {"train": [5, 9, 12, 16, 20, 7, 11, 3], "validation": [8, 15], "test": [6, 18]}
    )
    config = tiny_config(preset, patience=1)
    paths = RunPaths.resolve(str(tmp_path / "job"), preset=preset, environ={})
    metrics = train_vae(config, str(tmp_path / "data"), paths, preset=preset)
    all_lengths = sum(lengths.values(), [])
    assert metrics["coverage"] == pytest.approx(np.mean(np.array(all_lengths) <= TINY_LENGTH))
    assert metrics["truncated"] == sum(length > TINY_LENGTH for length in all_lengths)
    assert 1 <= metrics["epochs_run"] <= config.epochs
    for key in ("reconstruction_accuracy", "sample_valid_share", "sample_tvd", "sample_js", "reference_tvd"):
        assert 0.0 <= metrics[key] <= 1.0, key
    if config.output == "categorical":
        assert metrics["sample_valid_share"] == 1.0
    written = json.loads((tmp_path / "job" / "metrics.json").read_text())
    assert written["model"] == config.name and written["train_seconds"] == metrics["train_seconds"]
    checkpoints = tmp_path / "job" / "checkpoints"
    assert (checkpoints / FINAL_WEIGHTS).exists() and (checkpoints / "best.weights.h5").exists()
    assert (checkpoints / "last.weights.h5").exists() and any((tmp_path / "job" / "logs").rglob("events.out.tfevents.*"))
    assert json.loads((tmp_path / "job" / fitting.CONFIG_FILE).read_text())["config"]["latent_dim"] == config.latent_dim
    with pytest.raises(ValueError, match="more than length=16"):
        refusing = dataclasses.replace(config, overflow="refuse")
        train_vae(refusing, str(tmp_path / "data"), RunPaths.resolve(str(tmp_path / "job2"), preset=preset, environ={}),
                  preset=preset)


def test_codes_of_the_real_tiny_preprocessing_output_are_valid(tiny_dataset):
    loaded = {kind: {split: vae_data.load_sequences(str(tiny_dataset), split, kind) for split in ("train", "test")}
              for kind in (vae_data.NOTES, vae_data.RHYTHMS)}
    assert loaded[vae_data.NOTES]["train"][0], "the tiny corpus has tunes in its train split"
    for split in ("train", "test"):
        (notes, note_ids), (rhythms, rhythm_ids) = loaded[vae_data.NOTES][split], loaded[vae_data.RHYTHMS][split]
        assert note_ids == rhythm_ids
        assert [len(row) for row in notes] == [len(row) for row in rhythms]
        padded = vae_data.pad_codes(notes, 256, vae_data.NOTES_ALPHABET, "refuse", note_ids)
        assert vae_data.NOTES_ALPHABET.is_valid(padded.codes).all()
        assert vae_data.RHYTHMS_ALPHABET.is_valid(vae_data.pad_codes(rhythms, 256, vae_data.RHYTHMS_ALPHABET).codes).all()


def test_a_resumed_run_with_another_latent_size_is_refused(tmp_path):
    write_tiny_dataset(tmp_path / "data", {"train": [5, 9, 12, 16], "validation": [8], "test": [6]})
    paths = RunPaths.resolve(str(tmp_path / "job"), preset="vae_rhythms_cat", environ={})
    config = tiny_config("vae_rhythms_cat", epochs=1)
    train_vae(config, str(tmp_path / "data"), paths, preset="vae_rhythms_cat")
    with pytest.raises(ValueError, match="has latent_dim=4, this run latent_dim=8"):
        train_vae(dataclasses.replace(config, latent_dim=8), str(tmp_path / "data"), paths, preset="vae_rhythms_cat")

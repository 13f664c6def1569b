"""Tiny VAE test inputs: a real TFDS folder of random tunes, and small configs of the presets."""
from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from preprocessing import tfds_output
from trainer import presets
from trainer.vae import data as vae_data
from trainer.vae.config import VaeConfig

TINY_LENGTH = 16


def _example(tune_id: str, notes: list[int], rhythms: list[int]) -> dict:
    return {
        "id": tune_id, "corpus": "tiny", "title": tune_id, "timestep": ["60", "_"], "notes": notes,
        "rhythms": rhythms, "abc": "X:1\nK:C\nC|", "key": "C", "mode": "major", "meter": "4/4",
        "transpose": 0, "pickup": 0,
    }


def write_tiny_dataset(folder: pathlib.Path, lengths_per_split: dict[str, list[int]], seed: int = 0) -> dict[str, list[int]]:
    """Writes a real TFDS folder (the preprocessing job's writer) of random tunes of given lengths."""
    rng = np.random.default_rng(seed)
    connector = tfds_output.features()
    folder.mkdir(parents=True)
    shards = []
    for split, lengths in lengths_per_split.items():
        records = []
        for index, length in enumerate(lengths):
            notes = rng.choice(vae_data.NOTES_ALPHABET.codes[:-1], size=length).tolist()
            rhythms = rng.integers(0, 6, size=length).tolist()
            tune_id = f"tiny/{split}#{index}"
            records.append((tune_id, tfds_output.serialize_example(connector, _example(tune_id, notes, rhythms))))
        shards.append(tfds_output.write_shard(str(folder), split, 0, records))
    tfds_output.finalize_dataset(str(folder), shards, description="tiny VAE test data")
    return lengths_per_split


def tiny_config(preset: str, **overrides) -> VaeConfig:
    fields = {"length": TINY_LENGTH, "hidden_dim": 32, "latent_dim": 4, "epochs": 2, "batch_size": 4}
    return dataclasses.replace(presets.get(preset), **{**fields, **overrides})

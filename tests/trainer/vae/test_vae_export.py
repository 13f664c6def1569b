"""VAE exports: integer versions written atomically, loaded in a fresh process, every signature."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trainer import presets
from trainer.vae import export as vae_export
from trainer.vae import model as vae
from trainer.vae.config import VaeConfig

pytestmark = pytest.mark.server

REPO_ROOT = Path(__file__).resolve().parents[3]
LENGTH, LATENT = 12, 3

def _tiny_config(preset: str) -> VaeConfig:
    return dataclasses.replace(presets.get(preset), length=LENGTH, hidden_dim=16, latent_dim=LATENT)


def _probe(paths: list[Path]) -> list[dict]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(REPO_ROOT))
    process = subprocess.run(
        [sys.executable, "-m", "tests.helpers.vae_export_probe", *map(str, paths)], cwd=REPO_ROOT, env=env,
        capture_output=True, text=True, timeout=240,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    return [json.loads(line) for line in process.stdout.splitlines() if line.startswith("{")]


def test_exports_load_in_a_fresh_process_and_every_signature_answers(tmp_path):
    notes_config, rhythms_config = _tiny_config("vae_notes"), _tiny_config("vae_rhythms_cat")
    notes_model, rhythms_model = vae.build_vae(notes_config), vae.build_vae(rhythms_config)
    first = Path(vae_export.export_vae(notes_model, notes_config, tmp_path / "vae_notes"))
    second = Path(vae_export.export_vae(notes_model, notes_config, tmp_path / "vae_notes"))
    rhythms = Path(vae_export.export_vae(rhythms_model, rhythms_config, tmp_path / "vae_rhythms_cat"))
    assert (first.name, second.name, rhythms.name) == ("1", "2", "1")
    assert sorted(entry.name for entry in (tmp_path / "vae_notes").iterdir()) == ["1", "2"]  # no temp dir left
    saved_config = json.loads((first / "assets.extra" / vae_export.CONFIG_ASSET).read_text())
    assert VaeConfig(**saved_config) == notes_config

    notes, cat = _probe([first, rhythms])
    for answer, config, kind in ((notes, notes_config, "notes"), (cat, rhythms_config, "rhythms")):
        assert answer["signatures"] == ["decode", "encode", "info", "reconstruct", "sample", "serving_default"]
        assert (answer["kind"], answer["output"], answer["length"], answer["latent_dim"]) == (
            kind, config.output, LENGTH, LATENT)
        assert answer["encode"] == {"mean": ["float32", [3, LATENT]], "logvar": ["float32", [3, LATENT]]}
        assert answer["sample"]["codes"] == ["int32", [3, LENGTH]]
        assert answer["sample"]["z"] == ["float32", [3, LATENT]]
        assert answer["reconstruct"] == answer["decode"]
        assert answer["reconstruct_is_decode_of_mean"] and answer["same_seed_same_row"]
        assert answer["row_independent_of_batch"] and answer["default_is_sample"]
        assert f"codes outside the {kind} alphabet" in answer["bad_codes"] and "98" in answer["bad_codes"]
    assert notes["decode"]["values"] == ["float32", [3, LENGTH]]
    assert notes["alphabet"] == list(range(50, 98)) + [99] and notes["pad_code"] == 99
    assert cat["decode"]["probabilities"] == ["float32", [3, LENGTH, 8]]
    assert cat["alphabet"] == list(range(8)) and cat["pad_code"] == 7
    assert set(np.ravel(cat["sample_codes"])) <= set(range(8))

    codes = np.resize(np.array(notes["alphabet"], np.int32), (3, LENGTH))
    in_process_mean, _ = notes_model.encode(codes)
    np.testing.assert_allclose(notes["mean"], in_process_mean.numpy(), rtol=1e-5, atol=1e-5)


def test_export_refuses_a_base_path_that_is_a_file(tmp_path):
    config = _tiny_config("vae_rhythms")
    target = tmp_path / "not_a_folder"
    target.write_text("x")
    with pytest.raises(ValueError, match="not_a_folder.*is not a directory"):
        vae_export.export_vae(vae.build_vae(config), config, target)


def test_export_keeps_the_trained_weights_and_no_optimizer_slots(tmp_path):
    import tensorflow as tf

    config = _tiny_config("vae_rhythms_cat")
    model = vae.build_vae(config)
    for weight in model.trainable_weights:  # weights no fresh model could have by chance
        weight.assign(np.random.default_rng(3).normal(0.0, 0.3, weight.shape).astype("float32"))
    version = Path(vae_export.export_vae(model, config, tmp_path / "vae"))
    loaded = tf.saved_model.load(str(version))
    codes = tf.constant(np.random.default_rng(4).integers(0, 8, (2, LENGTH)), tf.int32)
    expected_mean, _ = model.encode(codes)
    np.testing.assert_allclose(loaded.signatures["encode"](codes=codes)["mean"].numpy(), expected_mean.numpy(), rtol=1e-5)
    saved = tf.train.list_variables(str(version / "variables" / "variables"))
    saved_floats = sum(int(np.prod(shape)) for name, shape in saved if "_CHECKPOINTABLE_OBJECT_GRAPH" not in name)
    model_floats = sum(int(np.prod(weight.shape)) for weight in model.weights)
    assert saved_floats <= model_floats < 2 * saved_floats  # Adam's slots would double it

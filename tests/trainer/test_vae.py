"""The dense VAE: data padding, slide layer sizes, reparameterisation, training, metrics."""
from __future__ import annotations

import dataclasses
import json
import logging

import numpy as np
import pytest
import tensorflow as tf

from preprocessing import tfds_output
from trainer.vae import data as vae_data
from trainer.vae import metrics as vae_metrics
from trainer.vae import model as vae

TINY_LENGTH = 16


def _example(tune_id: str, notes: list[int], rhythms: list[int]) -> dict:
    return {
        "id": tune_id, "corpus": "tiny", "title": tune_id, "timestep": ["60", "_"], "notes": notes,
        "rhythms": rhythms, "abc": "X:1\nK:C\nC|", "key": "C", "mode": "major", "meter": "4/4",
        "transpose": 0,
    }


def write_tiny_dataset(folder, lengths_per_split: dict[str, list[int]], seed: int = 0) -> dict[str, list[int]]:
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


def tiny_config(preset: str, **overrides) -> vae.VaeConfig:
    fields = {"length": TINY_LENGTH, "hidden_dim": 32, "latent_dim": 4, "epochs": 2, "batch_size": 4}
    return dataclasses.replace(vae.VAE_PRESETS[preset], **{**fields, **overrides})


# --- data -----------------------------------------------------------------------------------


def test_notes_are_padded_with_rests_and_rhythms_with_whole_notes():
    notes = vae_data.pad_codes([[60, 62], [99]], 4, vae_data.NOTES_ALPHABET)
    rhythms = vae_data.pad_codes([[3, 1, 0]], 4, vae_data.RHYTHMS_ALPHABET)
    assert notes.codes.tolist() == [[60, 62, 99, 99], [99, 99, 99, 99]]
    assert notes.lengths.tolist() == [2, 1]
    assert rhythms.codes.tolist() == [[3, 1, 0, 7]]
    assert vae_data.NOTES_ALPHABET.normalise(np.array([50, 99])).tolist() == [0.0, 1.0]
    assert vae_data.RHYTHMS_ALPHABET.normalise(np.array([0, 7])).tolist() == [0.0, 1.0]
    values = vae_data.NOTES_ALPHABET.normalise(np.array(vae_data.NOTES_ALPHABET.codes))
    assert vae_data.NOTES_ALPHABET.denormalise(values).tolist() == list(vae_data.NOTES_ALPHABET.codes)


def test_overflow_truncates_with_a_warning_or_refuses_naming_the_tune(caplog):
    sequences, ids = [[60] * 6, [62] * 3], ["erk/a#0", "erk/b#1"]
    with caplog.at_level(logging.WARNING, logger="trainer.vae.data"):
        padded = vae_data.pad_codes(sequences, 4, vae_data.NOTES_ALPHABET, "truncate", ids)
    assert padded.codes.tolist() == [[60, 60, 60, 60], [62, 62, 62, 99]]
    assert padded.lengths.tolist() == [4, 3] and padded.truncated == 1
    assert "erk/a#0" in caplog.text
    with pytest.raises(ValueError, match="erk/a#0.*6 notes events"):
        vae_data.pad_codes(sequences, 4, vae_data.NOTES_ALPHABET, "refuse", ids)
    with pytest.raises(ValueError, match="'drop'"):
        vae_data.pad_codes(sequences, 4, vae_data.NOTES_ALPHABET, "drop", ids)


def test_invalid_codes_are_refused_with_the_tune_and_the_code():
    with pytest.raises(ValueError, match=r"erk/x#2.*\[98\]"):
        vae_data.pad_codes([[60, 98]], 4, vae_data.NOTES_ALPHABET, ids=["erk/x#2"])
    with pytest.raises(ValueError, match="'chords'"):
        vae_data.alphabet_for("chords")


def test_coverage_is_the_share_of_tunes_that_fit_whole():
    assert vae_data.coverage([3, 4, 5, 10], 4) == 0.5
    assert vae_data.coverage([], 4) == 1.0


# --- model ----------------------------------------------------------------------------------


@pytest.mark.parametrize("preset, latent", [("vae_notes", 250), ("vae_rhythms", 300)])
def test_slide_presets_build_with_the_slides_layer_sizes(preset, latent):
    config = vae.VAE_PRESETS[preset]
    model = vae.build_vae(config)
    dense_units = {layer.name: layer.units for layer in model.encoder_body.layers + model.decoder_body.layers
                   if hasattr(layer, "units")}
    assert dense_units == {"encoder_fc1": 500, "encoder_fc2": 500, "decoder_fc1": 500, "decoder_fc2": 500}
    slopes = [layer.negative_slope for layer in model.encoder_body.layers + model.decoder_body.layers
              if hasattr(layer, "negative_slope")]
    assert slopes == pytest.approx([0.2] * 4)
    assert model.encoder_body.layers[0].kernel.shape == (config.length, 500)
    assert model.fc_mean.units == model.fc_logvar.units == latent
    assert model.decoder_body.layers[0].kernel.shape == (latent, 500)
    assert model.fc_output.units == config.length
    values = model.decode(tf.random.normal([3, latent]) * 10)["values"].numpy()
    assert values.shape == (3, config.length) and values.min() >= 0 and values.max() <= 1


def test_slide_hyperparameters():
    notes, rhythms = vae.VAE_PRESETS["vae_notes"], vae.VAE_PRESETS["vae_rhythms"]
    assert (notes.epochs, notes.batch_size, notes.learning_rate, notes.weight_decay) == (200, 32, 1e-5, 1e-6)
    assert (rhythms.epochs, rhythms.batch_size, rhythms.learning_rate) == (8, 64, 1e-3)


def test_config_rejects_bad_values_by_name():
    with pytest.raises(ValueError, match="'softmax'"):
        tiny_config("vae_notes", output="softmax")
    with pytest.raises(ValueError, match="latent_dim.*0"):
        tiny_config("vae_notes", latent_dim=0)


def test_reparameterisation_has_variance_exp_logvar():
    mean = tf.constant([[1.5, -2.0, 0.0]])
    logvar = tf.constant([[0.0, -1.0, 1.0]])
    eps = tf.random.stateless_normal([40000, 3], seed=[1, 2])
    z = vae.reparameterize(tf.tile(mean, [40000, 1]), tf.tile(logvar, [40000, 1]), eps).numpy()
    np.testing.assert_allclose(z.mean(axis=0), mean.numpy()[0], atol=0.05)
    np.testing.assert_allclose(z.var(axis=0), np.exp(logvar.numpy()[0]), rtol=0.05)


@pytest.mark.parametrize("preset", ["vae_notes", "vae_rhythms_cat"])
def test_one_training_step_moves_the_weights_and_tracks_the_losses(preset):
    config = tiny_config(preset)
    model = vae.build_vae(config)
    codes = np.random.default_rng(0).choice(model.alphabet.codes, size=(8, TINY_LENGTH)).astype(np.int32)
    before = [weight.numpy().copy() for weight in model.trainable_weights]
    logs = model.train_on_batch(codes, return_dict=True)
    assert set(logs) == {"reconstruction_loss", "kl_loss", "total_loss"}
    assert all(np.isfinite(value) for value in logs.values())
    assert logs["total_loss"] == pytest.approx(logs["reconstruction_loss"] + logs["kl_loss"], rel=1e-4)
    assert any(not np.allclose(b, a.numpy()) for b, a in zip(before, model.trainable_weights))


def test_kl_warmup_ramps_the_weight_linearly():
    config = tiny_config("vae_notes_cat", kl_warmup_epochs=4, kl_weight=2.0)
    model = vae.build_vae(config)
    warmup = vae.KlWarmup(config)
    warmup.set_model(model)
    seen = []
    for epoch in range(6):
        warmup.on_epoch_begin(epoch)
        seen.append(float(model.kl_weight.numpy()))
    assert seen == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.0, 2.0])


# --- metrics --------------------------------------------------------------------------------


def test_reconstruction_accuracy_ignores_padding():
    true = np.array([[60, 62, 99, 99], [64, 65, 67, 99]])
    predicted = np.array([[60, 63, 50, 50], [64, 65, 67, 60]])
    assert vae_metrics.reconstruction_accuracy(true, predicted, np.array([2, 3])) == pytest.approx(4 / 5)


def test_histogram_distances():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.5, 0.5])
    assert vae_metrics.total_variation(p, q) == pytest.approx(0.5)
    assert vae_metrics.total_variation(p, p) == 0.0
    assert vae_metrics.jensen_shannon(p, q) == pytest.approx(0.5)
    assert vae_metrics.jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    assert vae_metrics.unpadded_lengths(np.array([[1, 7, 7], [7, 7, 7], [7, 2, 3]]), 7).tolist() == [1, 0, 3]
    histogram = vae_metrics.code_histogram(np.array([[0, 98, 1, 0]]), np.array([3]), vae_data.RHYTHMS_ALPHABET)
    assert histogram[:2].tolist() == [0.5, 0.5] and histogram.sum() == pytest.approx(1.0)


# --- end to end on a real TFDS folder -------------------------------------------------------


@pytest.mark.parametrize("preset", ["vae_rhythms", "vae_notes_cat"])
def test_train_vae_on_a_tiny_tfds_folder(tmp_path, preset):
    lengths = write_tiny_dataset(
        tmp_path / "data", {"train": [5, 9, 12, 16, 20, 7, 11, 3], "validation": [8, 15], "test": [6, 18]}
    )
    config = tiny_config(preset, patience=1)
    metrics = vae.train_vae(config, str(tmp_path / "data"), str(tmp_path / "job"))
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
    assert (tmp_path / "job" / "final.weights.h5").exists() and (tmp_path / "job" / "best.weights.h5").exists()
    with pytest.raises(ValueError, match="more than length=16"):
        vae.train_vae(dataclasses.replace(config, overflow="refuse"), str(tmp_path / "data"), str(tmp_path / "job2"))


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

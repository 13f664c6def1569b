"""The dense VAE: slide layer sizes, reparameterisation, one training step, KL warm-up, metrics."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from serving.contract import signatures as sig
from tests.helpers.vae_tiny import TINY_LENGTH, tiny_config
from trainer import presets
from trainer.vae import data as vae_data
from trainer.vae import metrics as vae_metrics
from trainer.vae import model as vae
from trainer.vae.train import KlWarmup

# --- model ----------------------------------------------------------------------------------


@pytest.mark.parametrize("preset, latent", [("vae_notes", 250), ("vae_rhythms", 300)])
def test_slide_presets_build_with_the_slides_layer_sizes(preset, latent):
    config = presets.get(preset)
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
    values = model.decode(tf.random.normal([3, latent]) * 10)[sig.VALUES].numpy()
    assert values.shape == (3, config.length) and values.min() >= 0 and values.max() <= 1


def test_slide_hyperparameters():
    notes, rhythms = presets.get("vae_notes"), presets.get("vae_rhythms")
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
    warmup = KlWarmup(config)
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

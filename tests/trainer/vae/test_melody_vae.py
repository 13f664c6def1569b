"""trainer.vae.melody_*: the joint melody VAE's config, data, loss, a tiny overfit, its training run and export."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from serving.contract import signatures as sig
from tests.helpers.saved_model_cli import check_every_signature
from tests.helpers.vae_tiny import write_tiny_dataset
from trainer import presets
from trainer.run_paths import RunPaths
from trainer.vae.melody_config import MelodyVaeConfig
from trainer.vae.melody_data import pad_melodies
from trainer.vae.train import FINAL_WEIGHTS

TINY = {"length": 16, "pitch_embedding": 8, "duration_embedding": 4, "channels": 32,
        "latent_channels": 8, "batch_size": 4}
# Four melodies of different lengths: (pitch codes, duration codes), event by event.
MELODIES = [
    ([60, 62, 64, 65, 67, 99, 67, 65, 64], [3, 3, 3, 3, 5, 3, 1, 1, 7]),
    ([72, 71, 69, 67, 65, 64, 62, 60, 62, 64, 60, 99], [1, 1, 1, 1, 1, 1, 1, 1, 4, 2, 5, 3]),
    ([55, 60, 60, 64, 67, 72], [3, 4, 2, 3, 3, 6]),
    ([69, 69, 71, 72, 74, 76, 74, 72, 71, 69, 67, 69, 71, 72, 71, 69], [0, 0, 1, 3, 3, 3, 1, 1, 3, 3, 3, 3, 1, 1, 3, 7]),
]


def tiny_config(**overrides) -> MelodyVaeConfig:
    return dataclasses.replace(presets.get("vae_melody"), **{**TINY, **overrides})


def tiny_rows():
    return pad_melodies([notes for notes, _ in MELODIES], [rhythms for _, rhythms in MELODIES], TINY["length"])


@pytest.mark.unit
def test_the_preset_is_registered_and_bad_fields_are_refused():
    assert isinstance(presets.get("vae_melody"), MelodyVaeConfig) and presets.get("vae_melody").kind == "melody"
    with pytest.raises(ValueError, match="kind is 'melody', got 'notes'"):
        MelodyVaeConfig(name="x", kind="notes")
    with pytest.raises(ValueError, match=r"multiple of 2 \*\* downsamplings.*got 20"):
        MelodyVaeConfig(name="x", length=20, downsamplings=3)
    with pytest.raises(ValueError, match="free_bits must be >= 0, got -1"):
        MelodyVaeConfig(name="x", free_bits=-1.0)


@pytest.mark.unit
def test_rows_pair_each_tunes_codes_event_by_event_and_refuse_misaligned_ones():
    rows = tiny_rows()
    assert rows.lengths.tolist() == [9, 12, 6, 16] and rows.notes.shape == rows.rhythms.shape == (4, 16)
    assert rows.notes[2].tolist() == [55, 60, 60, 64, 67, 72] + [99] * 10
    assert rows.rhythms[2].tolist() == [3, 4, 2, 3, 3, 6] + [7] * 10
    with pytest.raises(ValueError, match="tune 'bad': 3 pitch codes but 2 duration codes"):
        pad_melodies([[60, 62, 64]], [[3, 3]], 16, ids=["bad"])
    with pytest.raises(ValueError, match="more than length=8"):
        pad_melodies([MELODIES[0][0]], [MELODIES[0][1]], 8, overflow="refuse")


def test_free_bits_put_a_floor_under_each_dimensions_kl():
    import tensorflow as tf

    from trainer.vae.melody_model import free_bits_kl

    prior = tf.zeros([3, 4])
    assert float(free_bits_kl(prior, prior, 0.5)) == pytest.approx(4 * 0.5)
    far = tf.constant([[3.0, 0, 0, 0]] * 3)  # dimension 0: KL 4.5 nats, above the floor
    assert float(free_bits_kl(far, prior, 0.5)) == pytest.approx(4.5 + 3 * 0.5)


@pytest.mark.train
def test_a_tiny_set_is_overfit_and_reconstructed_exactly_through_the_export(tmp_path):
    import tensorflow as tf

    from trainer.vae.melody_export import export_melody_vae
    from trainer.vae.melody_model import build_melody_vae

    config = tiny_config(learning_rate=5e-3, kl_weight=0.01, kl_warmup_epochs=0, free_bits=0.0)
    rows = tiny_rows()
    model = build_melody_vae(config)
    data = tf.data.Dataset.from_tensor_slices((rows.notes, rows.rhythms, rows.lengths)).batch(4).repeat()
    history = model.fit(data, steps_per_epoch=50, epochs=8, verbose=0).history
    assert history["total_loss"][-1] < 0.2 * history["total_loss"][0]
    version = export_melody_vae(model, config, tmp_path / "vae_melody_tiny")
    loaded = tf.saved_model.load(version)
    rebuilt = loaded.signatures[sig.RECONSTRUCT](
        notes=tf.constant(rows.notes), rhythms=tf.constant(rows.rhythms), length=tf.constant(rows.lengths))
    np.testing.assert_array_equal(rebuilt[sig.LENGTH].numpy(), rows.lengths)
    np.testing.assert_array_equal(rebuilt[sig.NOTES].numpy(), rows.notes)  # pad codes past each length
    np.testing.assert_array_equal(rebuilt[sig.RHYTHMS].numpy(), rows.rhythms)
    info = loaded.signatures[sig.INFO]()
    assert sig.vae_model_kind(info[sig.KIND].numpy().decode()) == sig.VAE_MELODY
    assert info[sig.RHYTHM_ALPHABET].numpy().tolist() == list(range(8)) and int(info[sig.RHYTHM_PAD_CODE]) == 7
    with pytest.raises(tf.errors.InvalidArgumentError, match="lengths outside 1..16"):
        loaded.signatures[sig.ENCODE](notes=tf.constant(rows.notes), rhythms=tf.constant(rows.rhythms),
                                      length=tf.constant([9, 12, 0, 16]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="outside the rhythms alphabet"):
        loaded.signatures[sig.ENCODE](notes=tf.constant(rows.notes), rhythms=tf.constant(rows.rhythms + 5),
                                      length=tf.constant(rows.lengths))


@pytest.mark.train
@pytest.mark.server
def test_a_training_run_writes_metrics_and_an_export_saved_model_cli_runs(tmp_path):
    from trainer.training import TRAINERS
    from trainer.vae.melody_evaluate import evaluate_export
    from trainer.vae.melody_train import train_melody_vae

    assert TRAINERS[MelodyVaeConfig] is train_melody_vae  # `trainer.task --model vae_melody` trains it
    write_tiny_dataset(tmp_path / "data", {"train": [5, 9, 12, 16, 20, 7, 11, 3], "validation": [8, 15],
                                           "test": [6, 18]})
    overrides = {field: str(value) for field, value in {**TINY, "epochs": 2, "patience": 1}.items()}
    paths = RunPaths.resolve(str(tmp_path / "job"), preset="vae_melody", environ={},
                             export_path=str(tmp_path / "export"))
    config = presets.resolve("vae_melody", overrides)
    metrics = train_melody_vae(config, str(tmp_path / "data"), paths, preset="vae_melody")
    for key in ("event_reconstruction", "pitch_reconstruction", "duration_reconstruction", "length_exact",
                "sample_pitch_tvd", "sample_duration_tvd", "sample_length_tvd", "reference_length_tvd"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert 1 <= metrics["sample_mean_length"] <= 16 and metrics["truncated"] == 2  # the tunes of 20 and 18 events
    assert metrics["parameters"] > 0 and 1 <= metrics["epochs_run"] <= 2
    assert json.loads((tmp_path / "job" / "metrics.json").read_text())["model"] == "vae_melody"
    assert (tmp_path / "job" / "checkpoints" / FINAL_WEIGHTS).exists()
    check_every_signature(tmp_path / "export" / "1", list(sig.VAE_SIGNATURES), tmp_path / "cli")
    # the export's own signatures give the figures the training run computed in memory
    served = evaluate_export(str(tmp_path / "export"), str(tmp_path / "data"))
    assert served["test_tunes"] == 2 and served["test_events"] == 6 + 16
    for key in ("event_reconstruction", "length_exact", "sample_pitch_tvd", "sample_length_tvd", "sample_mean_length"):
        assert served[key] == pytest.approx(metrics[key], abs=1e-6), key


def test_the_length_code_round_trips_every_length_and_prior_codes_follow_the_corpus():
    import tensorflow as tf

    from trainer.vae.melody_length import code_length, length_cdf, length_code

    corpus = np.array([5, 5, 5, 6, 40, 96])
    cdf = tf.constant(length_cdf(corpus, 96))
    every = tf.range(1, 97)
    np.testing.assert_array_equal(code_length(length_code(every, cdf), cdf).numpy(), every.numpy())
    drawn = code_length(tf.constant(np.random.default_rng(0).standard_normal(20000), tf.float32), cdf).numpy()
    smoothed = (np.bincount(corpus, minlength=97)[1:] + 0.5) / (len(corpus) + 0.5 * 96)
    assert np.mean(drawn == 5) == pytest.approx(smoothed[4], abs=0.01)  # 3.5 of 54 pseudo-counts
    assert drawn.min() >= 1 and drawn.max() <= 96
    with pytest.raises(ValueError, match="within 1..96, got 0..5"):
        length_cdf(np.array([0, 5]), 96)


@pytest.mark.server
def test_the_pair_is_scored_event_by_event_like_the_melody_vae(tmp_path, tiny_vae_exports):
    import tensorflow as tf

    from trainer.vae import metrics as vae_metrics
    from trainer.vae.melody_data import load_melodies
    from trainer.vae.melody_evaluate import evaluate_pair

    write_tiny_dataset(tmp_path / "data", {"train": [5, 9, 12, 16, 7], "test": [6, 14, 3]})
    notes, rhythms = tiny_vae_exports["vae_notes_cat"], tiny_vae_exports["vae_rhythms_cat"]  # untrained, length 16
    metrics = evaluate_pair(str(notes), str(rhythms), str(tmp_path / "data"), num_samples=20)
    test, _ = load_melodies(str(tmp_path / "data"), "test", 16)
    loaded = tf.saved_model.load(str(notes / "1"))
    decoded = loaded.signatures[sig.RECONSTRUCT](codes=tf.constant(test.notes))[sig.CODES].numpy()
    assert metrics["pitch_reconstruction"] == pytest.approx(
        vae_metrics.reconstruction_accuracy(test.notes, decoded, test.lengths))
    assert metrics["event_reconstruction"] <= min(metrics["pitch_reconstruction"], metrics["duration_reconstruction"])
    assert metrics["test_tunes"] == 3 and 1 <= metrics["sample_mean_length"] <= 16

"""trainer.task with the VAE presets: a real tiny run on the preprocessed tiny corpus, overrides, bad flags."""
import csv
import json
import logging

import pytest

from trainer import task
from trainer.vae import model as vae

TINY = ["epochs=1", "length=16", "hidden_dim=16", "latent_dim=4", "batch_size=4", "kl_warmup_epochs=0"]


def _set_flags(assignments):
    return [arg for item in assignments for arg in ("--set", item)]


def test_vae_preset_trains_and_exports_through_the_entry_point(tiny_dataset, tmp_path):
    job_dir, export = tmp_path / "job", tmp_path / "saved_models" / "vae_rhythms_tiny"
    argv = ["--model", "vae_rhythms_cat", "--data", str(tiny_dataset), "--job-dir", str(job_dir),
            "--export", str(export), *_set_flags(TINY)]
    assert task.main(argv) == 0

    metrics = json.loads((job_dir / "metrics.json").read_text())
    assert metrics["model"] == "vae_rhythms_cat" and metrics["epochs_run"] == 1
    assert metrics["export_path"] == str(export / "1")
    assert (export / "1" / "saved_model.pb").is_file()
    with open(job_dir / "history.csv") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0"]
    saved = json.loads((export / "1" / "assets.extra" / "vae_config.json").read_text())
    assert (saved["kind"], saved["length"], saved["hidden_dim"], saved["latent_dim"]) == ("rhythms", 16, 16, 4)


def test_overrides_are_parsed_by_field_type():
    config = vae.resolve_vae_config("vae_notes", {"latent_dim": "8", "learning_rate": "0.01", "output": "categorical"})
    assert (config.latent_dim, config.learning_rate, config.output) == (8, 0.01, "categorical")
    assert config.kind == "notes" and config.hidden_dim == vae.VAE_PRESETS["vae_notes"].hidden_dim


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("units=16", "unknown VAE config field 'units'"),
        ("kind=rhythms", "field 'kind' is fixed by the preset"),
        ("latent_dim=big", "field 'latent_dim' expects int, got 'big'"),
        ("output=softmax", "unknown VAE output 'softmax'"),
    ],
)
def test_bad_overrides_fail_before_training_naming_the_field(tiny_dataset, tmp_path, caplog, assignment, message):
    argv = ["--model", "vae_notes_cat", "--data", str(tiny_dataset), "--job-dir", str(tmp_path / "job"),
            "--set", assignment]
    with caplog.at_level(logging.ERROR, logger="trainer.task"):
        assert task.main(argv) == 2
    assert message in caplog.text
    assert not (tmp_path / "job").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--checkpoint-dir", "ckpt"], "--checkpoint-dir 'ckpt' is not used by VAE presets"),
        (["--data", "no/such/folder"], "data folder 'no/such/folder' does not exist"),
    ],
)
def test_bad_flags_for_a_vae_preset(tiny_dataset, tmp_path, caplog, extra, message):
    argv = ["--model", "vae_rhythms", "--data", str(tiny_dataset), "--job-dir", str(tmp_path / "job"), *extra]
    with caplog.at_level(logging.ERROR, logger="trainer.task"):
        assert task.main(argv) == 2
    assert message in caplog.text


def test_export_path_that_is_a_file_is_refused(tiny_dataset, tmp_path, caplog):
    target = tmp_path / "export"
    target.write_text("x")
    argv = ["--model", "vae_rhythms", "--data", str(tiny_dataset), "--job-dir", str(tmp_path / "job"),
            "--export", str(target)]
    with caplog.at_level(logging.ERROR, logger="trainer.task"):
        assert task.main(argv) == 2
    assert "exists and is a file" in caplog.text


def test_unknown_preset_lists_token_and_vae_presets(tmp_path, caplog):
    with caplog.at_level(logging.ERROR, logger="trainer.task"):
        assert task.main(["--model", "vae", "--data", str(tmp_path)]) == 2
    assert "unknown preset 'vae'" in caplog.text and "'vae_notes_cat'" in caplog.text and "'lstm'" in caplog.text

"""trainer.task: real short runs of a token and a VAE preset through the one entry point, and bad flags."""
import csv
import json
import logging

import keras
import pytest

from trainer import fitting, task

pytestmark = pytest.mark.train

SMALL = ["units=16", "window=16", "batch_size=4", "patience=2"]
TINY = ["epochs=1", "length=16", "hidden_dim=16", "latent_dim=4", "batch_size=4", "kl_warmup_epochs=0"]


def _history_epochs(job_dir):
    with open(job_dir / fitting.HISTORY_FILE) as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def _assert_nothing_trained(tmp_path):
    assert not (tmp_path / "job" / fitting.HISTORY_FILE).exists()
    assert not (tmp_path / "job" / fitting.METRICS_FILE).exists()


def test_cli_trains_checkpoints_logs_and_exports(tiny_dataset, tmp_path):
    job_dir, export = tmp_path / "job", tmp_path / "saved_models" / "lstm_tiny"
    argv = ["--model", "lstm", "--data", str(tiny_dataset), "--job-dir", str(job_dir), "--export", str(export)]
    argv += [arg for item in SMALL + ["epochs=2"] for arg in ("--set", item)]
    assert task.main(argv + ["--verbose", "2"]) == 0

    checkpoints = job_dir / "checkpoints"
    assert (checkpoints / "best.keras").is_file() and (checkpoints / "last.keras").is_file()
    assert _history_epochs(job_dir) == [0, 1]
    assert any((job_dir / "logs").rglob("events.out.tfevents.*"))
    metrics = json.loads((job_dir / fitting.METRICS_FILE).read_text())
    assert metrics["epochs"] == 2 and metrics["train_time_s"] > 0
    assert metrics["parameter_count"] == keras.saving.load_model(checkpoints / "best.keras").count_params()
    assert 0 < metrics["best_val_loss"] < 10
    assert (export / "1" / "saved_model.pb").is_file() and metrics["export"] == str(export / "1")



@pytest.mark.parametrize(("flags", "named"), [(["--model", "gpt"], "'gpt'"), (["--model", "lstm", "--set", "unitz=2"], "'unitz'")])
def test_cli_names_unknown_presets_and_fields(tmp_path, caplog, flags, named):
    with caplog.at_level(logging.ERROR):
        assert task.main([*flags, "--data", str(tmp_path), "--job-dir", str(tmp_path / "job")]) == 2
    assert named in caplog.text
    _assert_nothing_trained(tmp_path)


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


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("units=16", "unknown config field 'units'"),
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


def test_a_missing_data_folder_is_named_for_a_vae_preset(tmp_path, caplog):
    argv = ["--model", "vae_rhythms", "--data", "no/such/folder", "--job-dir", str(tmp_path / "job")]
    with caplog.at_level(logging.ERROR, logger="trainer.task"):
        assert task.main(argv) == 2
    assert "data folder 'no/such/folder' does not exist" in caplog.text


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


def test_a_vae_preset_writes_where_the_flags_say(tiny_dataset, tmp_path):
    job_dir, checkpoints, logs = tmp_path / "job", tmp_path / "ckpt", tmp_path / "tb"
    argv = ["--model", "vae_notes_cat", "--data", str(tiny_dataset), "--job-dir", str(job_dir),
            "--checkpoint-dir", str(checkpoints), "--tensorboard-dir", str(logs), *_set_flags(TINY), "--verbose", "0"]
    assert task.main(argv) == 0
    assert {"best.weights.h5", "last.weights.h5", "final.weights.h5", "backup"} <= {p.name for p in checkpoints.iterdir()}
    assert any(logs.rglob("events.out.tfevents.*"))
    assert {p.name for p in job_dir.iterdir()} == {fitting.HISTORY_FILE, fitting.CONFIG_FILE, fitting.METRICS_FILE}


def test_a_vae_preset_defaults_to_the_vertex_ai_variables(tiny_dataset, tmp_path, monkeypatch):
    for name, folder in (("AIP_MODEL_DIR", "model"), ("AIP_CHECKPOINT_DIR", "ckpt"), ("AIP_TENSORBOARD_LOG_DIR", "tb")):
        monkeypatch.setenv(name, str(tmp_path / folder))
    argv = ["--model", "vae_rhythms_cat", "--data", str(tiny_dataset), "--job-dir", str(tmp_path / "job"),
            *_set_flags(TINY), "--verbose", "0"]
    assert task.main(argv) == 0
    assert (tmp_path / "model" / "1" / "saved_model.pb").is_file()
    assert (tmp_path / "ckpt" / "last.weights.h5").is_file() and any((tmp_path / "tb").rglob("events.out.tfevents.*"))
    assert json.loads((tmp_path / "job" / fitting.METRICS_FILE).read_text())["export_path"] == str(tmp_path / "model" / "1")

"""`folkgen vae --model`: the joint melody VAE, loaded in process from a tiny export made (and overfit) here."""
from __future__ import annotations

import dataclasses

import pytest

from preprocessing.melody.keys import parse_key, transpose_events
from serving import cli
from serving.generation.vae import VaeInfo, read_tune
from serving.generation.vae_joint import MelodyVaeModel, joint_vae, tune_rows
from serving.local_client import LocalModelClient
from tests.helpers.midi_events import midi_events

pytestmark = pytest.mark.server

MODEL = "vae_melody_tiny"
LENGTH = 16
# G major, 3/4: 14 and 10 events, pitches within 50..97 once moved to C major, acceptable durations only.
TUNE_A = "X:1\nT:A\nM:3/4\nL:1/8\nK:G\nG2 AB c2|d4 B2|A2 G2 F2|G6|d2 e2 d2|B6|]\n"
TUNE_B = "X:1\nT:B\nM:3/4\nL:1/8\nK:G\nB2 B2 A2|G4 z2|D2 G2 B2|d6|]\n"


@pytest.fixture(scope="module")
def tunes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tunes")
    paths = {}
    for name, text in (("a", TUNE_A), ("b", TUNE_B)):
        paths[name] = folder / f"{name}.abc"
        paths[name].write_text(text)
    return paths


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory, tunes):
    """A melody VAE overfit on the two tunes, exported as ``MODEL``/1."""
    import tensorflow as tf

    from trainer import presets
    from trainer.vae.melody_export import export_melody_vae
    from trainer.vae.melody_model import build_melody_vae

    config = dataclasses.replace(
        presets.get("vae_melody"), length=LENGTH, pitch_embedding=8, duration_embedding=4, channels=32,
        latent_channels=4, learning_rate=5e-3, kl_weight=0.01, kl_warmup_epochs=0, free_bits=0.0, seed=1,
    )
    info = VaeInfo(kind="melody", output="categorical", length=LENGTH, latent_dim=8, alphabet=(), pad_code=99,
                   rhythm_alphabet=tuple(range(8)), rhythm_pad_code=7)
    rows = tune_rows([read_tune(str(tunes[name])) for name in ("a", "b")], info, "refuse")
    model = build_melody_vae(config)
    data = tf.data.Dataset.from_tensor_slices((rows.notes, rows.rhythms, rows.lengths)).batch(2).repeat()
    model.fit(data, steps_per_epoch=100, epochs=4, verbose=0)
    root = tmp_path_factory.mktemp("saved_models")
    export_melody_vae(model, config, root / MODEL)
    return root


@pytest.fixture(scope="module")
def served(models_dir):
    client = LocalModelClient(str(models_dir), MODEL)
    yield MelodyVaeModel(client)
    client.close()


def run(capsys, models_dir, command: str, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["vae", command, "--models-dir", str(models_dir), "--model", MODEL, *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def as_midi(events, key: str) -> list[tuple[int | None, float]]:
    """What ``midi_events`` reads back of these events (C major) written in ``key``: rests merged, none trailing."""
    merged: list[tuple[int | None, float]] = []
    for event in transpose_events(events, parse_key(key).semitones_from_c()):
        if event.pitch is None and merged and merged[-1][0] is None:
            merged[-1] = (None, merged[-1][1] + event.quarters)
        else:
            merged.append((event.pitch, event.quarters))
    while merged and merged[-1][0] is None:
        merged.pop()
    return merged


def test_sample_writes_each_decoded_melody_cut_at_its_length(models_dir, served, tmp_path, capsys):
    code, out, err = run(capsys, models_dir, "sample", "--num", "3", "--seed", "5", "--key", "D",
                         "--formats", "mid,abc", "--out", str(tmp_path))
    assert code == 0, err
    rows = served.sample_rows([5, 6, 7])
    assert rows.notes.shape == (3, LENGTH) and all(1 <= length <= LENGTH for length in rows.lengths)
    for row, seed in enumerate((5, 6, 7)):
        events = rows.events(row)
        assert len(events) == rows.lengths[row]
        assert midi_events(str(tmp_path / f"vae_seed{seed}.mid")) == as_midi(events, "D")
        assert "K:D\n" in (tmp_path / f"vae_seed{seed}.abc").read_text()
    assert "3 melodies" in out


def test_reconstruct_of_a_training_tune_is_exact_and_written(models_dir, served, tunes, tmp_path, capsys):
    code, out, err = run(capsys, models_dir, "reconstruct", "--input", str(tunes["a"]), "--formats", "mid",
                         "--out", str(tmp_path))
    assert code == 0, err
    tune = read_tune(str(tunes["a"]))
    rows = tune_rows([tune], joint_vae(served.client).info, "refuse")
    rebuilt = served.reconstruct_rows(rows)
    assert int(rebuilt.lengths[0]) == len(tune.events) == 14
    assert rebuilt.events(0) == list(tune.events)  # the overfit model gives the tune back
    assert midi_events(str(tmp_path / "a_reconstruction.mid")) == as_midi(tune.events, "G")
    assert midi_events(str(tmp_path / "a_original.mid")) == as_midi(tune.events, "G")
    assert "14/14" in out and "reconstruction of 14 events" in out


def test_interpolation_ends_are_the_two_tunes(models_dir, served, tunes, tmp_path, capsys):
    code, _, err = run(capsys, models_dir, "interpolate", str(tunes["a"]), str(tunes["b"]), "--steps", "3",
                       "--formats", "mid", "--out", str(tmp_path))
    assert code == 0, err
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"a_to_b_step{step}.mid" for step in range(3)]
    for name, step in (("a", 0), ("b", 2)):
        events = read_tune(str(tunes[name])).events
        assert midi_events(str(tmp_path / f"a_to_b_step{step}.mid")) == as_midi(events, "G")  # A's key


def test_a_model_of_another_kind_or_a_bad_tune_ends_with_one_line_errors(models_dir, tunes, tmp_path, capsys):
    long_tune = tmp_path / "long.abc"
    long_tune.write_text("X:1\nT:Long\nM:4/4\nL:1/8\nK:C\n" + "CDEF GABc|" * 3 + "]\n")  # 24 events > 16
    code, _, err = run(capsys, models_dir, "reconstruct", "--input", str(long_tune), "--overflow", "refuse",
                       "--out", str(tmp_path / "refused"))
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1 and "long.abc" in lines[0] and "VAE length 16" in lines[0], err
    assert not (tmp_path / "refused").exists()
    code = cli.main(["vae", "sample", "--models-dir", str(models_dir), "--model", "nope"])
    assert code != 0 and "'nope'" in capsys.readouterr().err

"""`folkgen generate` on character-level ABC models served by a real `python -m serving.server`.

Two exports of the abc_lstm_seed architecture over the tiny dataset's ABC characters:
``abc_untrained`` (fresh weights: its text may or may not parse) and ``abc_dance``, whose output
layer ignores its input and puts all the probability on "D", "E", "F", " " and "|", so every
sample is a valid tune body and the rendering path is exercised with known pitches.
"""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from music21 import converter

from serving import cli, demo
from serving import client as model_client
from serving.contract.sampling import SamplingSettings
from serving.contract.signatures import TOKEN_CHARACTERS
from serving.generation.token_model import TokenModel
from serving.generation.tokens import sample_melodies
from serving.model_server.launcher import start_subprocess
from serving.music import render
from trainer.token_models import data
from trainer.token_models.builders import build_model
from trainer.token_models.config import resolve_config
from trainer.token_models.export import export_token_model
from trainer.vae import export as vae_export
from trainer.vae import model as vae
from trainer.vae.config import VAE_PRESETS

pytestmark = pytest.mark.server

PRIMER = "X:1\nL:1/8\nM:6/8\nK:D\n"
# The dance model's output distribution: log-probabilities up to a constant.
DANCE_BIASES = {"D": 0.0, "E": 0.0, "F": 0.0, " ": -1.0, "|": -2.0}
DANCE_PITCHES = {"D": 62, "E": 64, "F": 66}  # in D major, F is F sharp
WIDE_VOCABULARY = sorted(set("ABCDEFGabcdefgz,'^_=|:[]()<>/-123456789 \nXLMK"))  # every character a tune needs
ELSEWHERE = -30.0
FORMATS = ("mid", "musicxml", "abc")


@pytest.fixture(scope="module")
def vocabulary(tiny_dataset) -> list[str]:
    return list(data.load_vocabulary(tiny_dataset, "abc").symbols)


def _export_abc_models(saved_models: Path, vocabulary: list[str]) -> list[str]:
    config = resolve_config("abc_lstm_seed")
    keras.utils.set_random_seed(11)
    export_token_model(build_model(config, np.ones(len(vocabulary))), vocabulary, saved_models / "abc_untrained",
                       warmup=False, model_kind=TOKEN_CHARACTERS)
    dance = build_model(config, np.ones(len(vocabulary)))
    kernel, _ = dance.get_layer("dense").get_weights()
    bias = np.array([DANCE_BIASES.get(symbol, ELSEWHERE) for symbol in vocabulary], np.float32)
    dance.get_layer("dense").set_weights([np.zeros_like(kernel), bias])
    export_token_model(dance, vocabulary, saved_models / "abc_dance", warmup=False, model_kind=TOKEN_CHARACTERS)
    export_token_model(build_model(config, np.ones(len(WIDE_VOCABULARY))), WIDE_VOCABULARY, saved_models / "abc_wide",
                       warmup=False, model_kind=TOKEN_CHARACTERS)
    return ["abc_untrained", "abc_dance", "abc_wide"]


@pytest.fixture(scope="module")
def abc_models(vocabulary, tmp_path_factory) -> tuple[Path, list[str]]:
    """The folder holding the three exports (read-only: the server serves it), and their names."""
    saved_models = tmp_path_factory.mktemp("abc_saved_models")
    return saved_models, _export_abc_models(saved_models, vocabulary)


@pytest.fixture(scope="module")
def server(abc_models):
    saved_models, names = abc_models
    demo.write_models_config(saved_models, names, saved_models / "models.config")
    with start_subprocess(names, model_config_file=saved_models / "models.config") as running:
        yield running


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def generate_args(server, model: str, out: Path, *extra: str) -> list[str]:
    """Unconstrained sampling (--free) of 200 characters: the raw model's text."""
    return ["generate", "--server", server.grpc_address, "--model", model, "--primer-abc", PRIMER, "--free",
            "--num", "2", "--steps", "200", "--formats", ",".join(FORMATS), "--out", str(out), *extra]


def _expected_pitches(generated: str) -> list[int]:
    """The dance model's tune ends at nothing (no newline can be drawn): every D/E/F is a note."""
    return [DANCE_PITCHES[character] for character in generated if character in DANCE_PITCHES]


def test_dance_model_melodies_render_to_every_format(server, tmp_path, capsys):
    code, out, err = run(capsys, *generate_args(server, "abc_dance", tmp_path, "--seed", "4"))
    assert code == 0, err
    assert "2 melodies" in out and "not rendered" not in out
    texts = set()
    for seed in (4, 5):
        stem = tmp_path / f"abc_dance_seed{seed}"
        assert not stem.with_suffix(".tokens.txt").exists()
        abc = stem.with_suffix(".abc").read_text(encoding="utf-8")
        assert abc.startswith(PRIMER) and len(abc) == len(PRIMER) + 200
        generated = abc[len(PRIMER):]
        assert set(generated) <= set(DANCE_BIASES)
        expected = _expected_pitches(generated)
        assert len(expected) > 100
        from_abc = converter.parse(abc, format="abc")
        from_xml = converter.parse(str(stem.with_suffix(".musicxml")), format="musicxml")
        for score in (from_abc, from_xml):
            assert [note.pitch.midi for note in score.flatten().notes] == expected
        assert from_xml.flatten().getTimeSignatures()[0].ratioString == "6/8"
        midi = converter.parse(str(stem.with_suffix(".mid")), format="midi")
        assert [note.pitch.midi for note in midi.flatten().notes] == expected
        texts.add(generated)
    assert len(texts) == 2  # seeds 4 and 5 sample different tunes


def test_untrained_model_writes_files_or_its_text_and_the_reason(server, tmp_path, capsys):
    code, _, err = run(capsys, *generate_args(server, "abc_untrained", tmp_path, "--seed", "0"))
    rendered = 0
    for seed in (0, 1):
        stem = tmp_path / f"abc_untrained_seed{seed}"
        tokens_file = stem.with_suffix(".tokens.txt")
        if tokens_file.exists():
            text = tokens_file.read_text(encoding="utf-8")
            assert text.startswith(PRIMER) and len(text) == len(PRIMER) + 200
            assert not any(stem.with_suffix(f".{name}").exists() for name in FORMATS)
            assert f"folkgen: error: seed {seed}: " in err and str(tokens_file) in err
        else:
            rendered += 1
            abc = stem.with_suffix(".abc").read_text(encoding="utf-8")
            assert abc.startswith(PRIMER)
            assert len(converter.parse(str(stem.with_suffix(".musicxml")), format="musicxml").flatten().notes) > 0
    assert code == (0 if rendered else cli.EXIT_ERROR), err


@pytest.mark.parametrize("character", ["€", "a"])
def test_a_primer_character_outside_the_vocabulary_is_named(server, tmp_path, capsys, vocabulary, character):
    assert character not in vocabulary  # the tiny corpus's training tunes never use a lowercase a
    primer = PRIMER + f"DE{character}F|"
    code, _, err = run(capsys, "generate", "--server", server.grpc_address, "--model", "abc_dance", "--free",
                       "--primer-abc", primer, "--out", str(tmp_path), "--formats", "abc")
    assert code == cli.EXIT_ERROR
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("folkgen: error:") and "Traceback" not in err, err
    assert f"primer symbol {character!r} at position {len(PRIMER) + 2}" in lines[0]
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("model", ["abc_untrained", "abc_dance"])
def test_server_and_client_sampling_give_the_same_text(server, tmp_path, capsys, model):
    for sampling in ("client", "server"):
        args = generate_args(server, model, tmp_path / sampling, "--seed", "21", "--temperature", "1.3",
                             "--sampling", sampling)
        args[args.index("--formats") + 1] = "abc"
        assert run(capsys, *args)[0] in (0, cli.EXIT_ERROR)
    for seed in (21, 22):
        for suffix in (".abc", ".tokens.txt"):
            client_file = tmp_path / "client" / f"{model}_seed{seed}{suffix}"
            server_file = tmp_path / "server" / f"{model}_seed{seed}{suffix}"
            assert client_file.exists() == server_file.exists()
            if client_file.exists():
                assert client_file.read_text(encoding="utf-8") == server_file.read_text(encoding="utf-8")

    # The whole 120 characters (the files hold the tune only up to its end), at top-p 0.9.
    # Not rendered: music21 takes tens of seconds on some untrained text (a note 943 units long).
    client = model_client.connect(server.grpc_address, model)
    try:
        token_model = TokenModel(client)
        primer = [token_model.symbols.index(character) for character in PRIMER]
        settings, seeds = SamplingSettings(temperature=1.0, top_k=0, top_p=0.9), [3, 4]
        on_client = sample_melodies(token_model, [primer, primer], 120, settings, seeds)
        on_server = token_model.generate(np.array([primer, primer]), np.array([len(primer)] * 2), np.array([120, 120]),
                                    np.array([1.0, 1.0]), np.array([0, 0]), np.array([0.9, 0.9]), np.array(seeds))
    finally:
        client.close()
    assert on_server.tolist() == on_client
    assert all(len(row) == 120 for row in on_client) and on_client[0] != on_client[1]


def test_greedy_dance_is_one_repeated_character(server, tmp_path, capsys):
    code, _, err = run(capsys, *generate_args(server, "abc_dance", tmp_path, "--greedy", "--num", "1", "--seed", "0"))
    assert code == 0, err
    abc = (tmp_path / "abc_dance_seed0.abc").read_text(encoding="utf-8")
    assert abc == PRIMER + "D" * 200  # ties go to the lower index: "D" before "E" and "F"
    assert render.melody_from_abc(abc).notes == 200


def test_a_primer_without_unit_length_or_meter_renders_in_eighths(server, tmp_path, capsys):
    code, _, err = run(capsys, "generate", "--server", server.grpc_address, "--model", "abc_dance", "--greedy", "--free",
                       "--primer-abc", "X:1\nK:D\n", "--steps", "12", "--formats", "abc,musicxml", "--out", str(tmp_path),
                       "--seed", "0")
    assert code == 0, err
    abc = (tmp_path / "abc_dance_seed0.abc").read_text(encoding="utf-8")
    assert abc == "X:1\nL:1/8\nK:D\n" + "D" * 12  # the ABC standard's default unit length, written out
    notes = converter.parse(str(tmp_path / "abc_dance_seed0.musicxml"), format="musicxml").flatten().notes
    assert [(n.pitch.midi, float(n.quarterLength)) for n in notes] == [(62, 0.5)] * 12


def test_demo_generates_from_a_character_model_and_samples_the_vaes(abc_models, tmp_path):
    saved_models = tmp_path / "saved_models"
    shutil.copytree(abc_models[0] / "abc_wide", saved_models / "abc_wide")  # the served folder stays as it is
    for name, preset in (("notes_tiny", "vae_notes_cat"), ("rhythms_tiny", "vae_rhythms_cat")):
        config = dataclasses.replace(VAE_PRESETS[preset], length=16, hidden_dim=8, latent_dim=2)
        vae_export.export_vae(vae.build_vae(config), config, saved_models / name)
    out = tmp_path / "demo"
    results = demo.run_demo(saved_models, out, ["abc_wide"], num=1, bars=8, seed=0,
                            vaes=["notes_tiny", "rhythms_tiny"])
    [melody] = results["abc_wide"]
    # a character model gets the ABC header primer and, under the constraints, a tune of 8 bars
    assert "".join(melody.tokens).startswith(demo.ABC_PRIMER)
    score = converter.parse(melody.paths["musicxml"], format="musicxml")
    bars = [measure.duration.quarterLength for measure in score.parts[0].getElementsByClass("Measure")]
    assert sum(bars) == 8 * 3 and score.flatten().notes[-1].pitch.pitchClass == 2  # 8 bars of 6/8, ending on D
    assert sorted(path.suffix for path in (out / "vae").iterdir()) == sorted(f".{fmt}" for fmt in render.DEFAULT_FORMATS)


def test_abc_constraints_write_whole_strains_of_the_asked_form(server, tmp_path, capsys, vocabulary):
    code, _, err = run(capsys, "generate", "--server", server.grpc_address, "--model", "abc_wide", "--num", "2",
                       "--bars", "8", "--key", "D", "--meter", "6/8", "--form", "AA", "--seed", "2",
                       "--formats", "abc", "--out", str(tmp_path))
    assert code == 0, err
    for seed in (2, 3):
        abc = (tmp_path / f"abc_wide_seed{seed}.abc").read_text(encoding="utf-8")
        assert abc.startswith("X:1\nL:1/8\nM:6/8\nK:D\n")
        score = converter.parse(abc, format="abc")  # read back by music21, not by the state machine
        measures = list(score.parts[0].getElementsByClass("Measure")) if score.parts else []
        full = [m for m in measures if m.duration.quarterLength == 3.0]
        assert len(measures) >= 8 and len(full) >= 7  # a pickup may share the last bar
        assert score.flatten().notes[-1].pitch.pitchClass == 2  # the tonic, D
        assert abc.rstrip().endswith(":|")  # the strain is repeated: AA


@pytest.mark.parametrize("extra, fragments", [
    (["--bars", "8", "--range", "D4-D5"], ["--range applies to timestep models"]),
    (["--bars", "8", "--sampling", "server"], ["runs on the client", "--free"]),
    (["--primer-abc", PRIMER, "--key", "G"], ["the primer states K:D but --key is G"]),
    (["--primer-abc", PRIMER + "DE^c"], ["the primer's body breaks the constraints at its character 3", "--chromatic"]),
    (["--primer-abc", "X:1\nDEF|"], ["line 2", "before a K: line"]),
    (["--form", "ABA"], ["ABA"]),
])
def test_an_abc_request_the_machine_cannot_take_is_one_line(server, tmp_path, capsys, extra, fragments):
    code, _, err = run(capsys, "generate", "--server", server.grpc_address, "--model", "abc_wide",
                       "--out", str(tmp_path), *extra)
    assert code != 0 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert all(fragment in err for fragment in fragments), err


def test_a_vocabulary_without_the_characters_a_tune_needs_is_refused(server, tmp_path, capsys):
    code, _, err = run(capsys, "generate", "--server", server.grpc_address, "--model", "abc_untrained", "--bars", "8",
                       "--out", str(tmp_path))
    assert code != 0 and "lacks the characters" in err and "Traceback" not in err, err


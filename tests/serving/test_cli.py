"""`folkgen` and the demo against a real `python -m serving.server` serving tiny exported models."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from music21 import converter

from preprocessing.melody.keys import parse_key, parse_meter
from preprocessing.melody.novelty import ANCHOR, TrainingIndex
from serving import cli, demo
from serving import client as model_client
from serving.generation import primers
from serving.generation.codecs import TimestepCodec
from serving.generation.token_model import TokenModel
from serving.generation.tokens import GenerationConfig, generate
from serving.model_server.launcher import free_port, start_subprocess
from serving.music import render
from tests.helpers.midi_events import midi_events
from tests.helpers.tiny_models import VOCABULARY, export_tiny_lstm

pytestmark = pytest.mark.server

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory, tiny_token_models):
    """A copy of conftest.py's tiny token models (a test here writes a version of lstm_han)."""
    source, names = tiny_token_models
    root = tmp_path_factory.mktemp("saved_models")
    shutil.copytree(source, root, dirs_exist_ok=True)
    demo.write_models_config(root, names, root / "models.config")
    return root


@pytest.fixture(scope="module")
def server(saved_models):
    with start_subprocess(["lstm_erk", "no_step", "no_kind"], model_config_file=saved_models / "models.config") as running:
        yield running


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def generate_args(server, out: Path, *extra: str) -> list[str]:
    """Unconstrained sampling (--free) of 48 steps: the raw model's tokens, as the served generate gives them."""
    return ["generate", "--server", server.grpc_address, "--model", "lstm_erk", "--steps", "48", "--free",
            "--out", str(out), *extra]


def test_generate_writes_every_format_from_the_served_tokens(server, tmp_path, capsys):
    code, out, err = run(capsys, *generate_args(server, tmp_path, "--num", "2", "--seed", "7", "--temperature", "0.8",
                                                "--top-p", "0.95", "--key", "G", "--meter", "3/4"))
    assert code == 0, err
    primer = primers.timestep_primer(primers.PrimerSource(name="twinkle")).symbols
    client = model_client.connect(server.grpc_address, "lstm_erk")
    ids = primers.encode(primer, VOCABULARY)
    tokens = TokenModel(client).generate(np.array([ids, ids]), np.array([len(ids)] * 2), np.array([48, 48]), np.array([0.8, 0.8]),
                             np.array([0, 0]), np.array([0.95, 0.95]), np.array([7, 8]))
    client.close()
    for seed, row in zip((7, 8), tokens):
        expected = render.melody_from_timesteps(primer + [VOCABULARY[i] for i in row], len(primer),
                                                parse_key("G"), parse_meter("3/4"))
        stem = tmp_path / f"lstm_erk_seed{seed}"
        assert all((stem.with_suffix(f".{name}")).stat().st_size > 0 for name in render.DEFAULT_FORMATS)
        events = [(e.pitch, e.quarters) for e in expected.events]
        while events[-1][0] is None:  # MIDI cannot show trailing rests
            events.pop()
        assert midi_events(str(stem.with_suffix(".mid"))) == events
        abc = stem.with_suffix(".abc").read_text()
        assert "K:G\n" in abc and "M:3/4\n" in abc
        assert converter.parse(abc, format="abc").flatten().notes[0].pitch.midi == 60 - 5  # twinkle, in G
        assert f"lstm_erk_seed{seed}.mid" in out
    assert "2 melodies" in out


@pytest.mark.parametrize("variant", [["--sampling", "server"], ["--rest"]])
def test_server_sampling_and_rest_give_the_same_melody(server, tmp_path, capsys, variant):
    assert run(capsys, *generate_args(server, tmp_path / "a", "--seed", "3", "--formats", "abc"))[0] == 0
    args = generate_args(server, tmp_path / "b", "--seed", "3", "--formats", "abc", *variant)
    if "--rest" in variant:
        args[args.index("--server") + 1] = server.rest_url
    code, _, err = run(capsys, *args)
    assert code == 0, err
    assert (tmp_path / "a" / "lstm_erk_seed3.abc").read_text() == (tmp_path / "b" / "lstm_erk_seed3.abc").read_text()


def test_greedy_ignores_the_seed(server, tmp_path, capsys):
    for seed in ("1", "2"):
        assert run(capsys, *generate_args(server, tmp_path / seed, "--greedy", "--seed", seed, "--formats", "abc"))[0] == 0
    first, second = ((tmp_path / seed / f"lstm_erk_seed{seed}.abc").read_text().split("\n", 2)[2] for seed in "12")
    assert first == second  # past the X: and T: lines


def test_primers_from_symbols_abc_text_and_files(server, tmp_path, capsys):
    code, _, err = run(capsys, *generate_args(server, tmp_path / "symbols", "--primer", "64 _ _ _ 62 _", "--formats", "abc"))
    assert code == 0, err
    # D major ABC primer: moved to C major for the model, and the tune written back in D.
    code, _, err = run(capsys, *generate_args(server, tmp_path / "abc", "--primer-abc", "X:1\nL:1/4\nK:D\nD E F G|",
                                              "--formats", "mid", "--seed", "0"))
    assert code == 0, err
    assert midi_events(str(tmp_path / "abc" / "lstm_erk_seed0.mid"))[:3] == [(62, 1.0), (64, 1.0), (66, 1.0)]
    code, _, err = run(capsys, *generate_args(server, tmp_path / "file", "--primer-file",
                                              str(tmp_path / "abc" / "lstm_erk_seed0.mid"), "--formats", "abc"))
    assert code == 0, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("folkgen: error:") and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("extra, fragments", [
    (["--temperature", "0"], ["temperature", "0.0"]),
    (["--top-p", "0"], ["top_p", "0.0"]),
    (["--top-p", "1.5"], ["top_p", "1.5"]),
    (["--key", "H"], ["'H'"]),
    (["--meter", "3/5"], ["'3/5'"]),
    (["--formats", "mid,pdf"], ["'pdf'"]),
    (["--primer", "60 _ 200 _"], ["'200'", "'79'"]),
    (["--primer", "twinkel"], ["'twinkel'"]),
    (["--model", "lstm_nope"], ["'lstm_nope'"]),
    (["--model", "no_step"], ["'no_step'", "'step'"]),
    (["--model", "no_kind"], ["'no_kind'", "model kind", "re-export"]),
    (["--primer-abc", "X:1\nL:1/4\nK:C\nz4|"], ["no melody"]),
    (["--primer-file", "/nonexistent/tune.abc"], ["'/nonexistent/tune.abc'"]),
])
def test_bad_input_is_a_one_line_error(server, tmp_path, capsys, extra, fragments):
    code, _, err = run(capsys, *generate_args(server, tmp_path, *extra))
    assert_one_line_error(code, err, *fragments)


def test_server_down_is_a_one_line_error(tmp_path, capsys):
    address = f"127.0.0.1:{free_port()}"
    began = time.monotonic()
    code, _, err = run(capsys, "generate", "--server", address, "--out", str(tmp_path), "--retry-seconds", "1.5")
    assert_one_line_error(code, err, f"no model server answers at {address}: start one with `make serve`")
    assert 1.5 <= time.monotonic() - began < 30  # it retried for the window asked


def test_the_retry_window_adds_up_to_the_seconds_asked():
    waits = model_client.RetryPolicy(window_s=10.0).backoffs()
    assert waits[:4] == [0.25, 0.5, 1.0, 2.0] and max(waits) == 2.0 and abs(sum(waits) - 10.0) < 1e-9


def test_models_lists_versions_and_signatures(server, saved_models, tmp_path, capsys):
    demo.write_models_config(saved_models, ["lstm_erk", "ghost"], tmp_path / "models.config")
    code, out, err = run(capsys, "models", "--server", server.grpc_address, "--config", str(tmp_path / "models.config"))
    assert code == 0, err
    row = next(line for line in out.splitlines() if "lstm_erk" in line)
    assert "AVAILABLE" in row and "step" in row and "generate" in row
    assert "token_timestep" in row
    assert "ghost" in " ".join(out.split()).split("not served:")[1]  # the caption: TF Serving cannot list its models
    assert not any("│" in line and "ghost" in line for line in out.splitlines())


def test_console_entry_point_reports_usage_errors_in_one_line():
    process = subprocess.run([sys.executable, "-m", "serving.cli", "generate", "--steps", "many"], cwd=REPO_ROOT,
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=120)
    assert process.returncode == cli.EXIT_USAGE
    assert process.stderr.strip().splitlines()[-1].startswith("folkgen: error: argument --steps")


def test_demo_serves_both_models_and_writes_every_format(saved_models, tmp_path):
    results = demo.run_demo(saved_models, tmp_path, ["lstm_erk", "lstm_han"], num=1, bars=6, seed=7)
    assert set(results) == {"lstm_erk", "lstm_han"}
    for name, melodies in results.items():
        assert melodies[0].melody is not None and melodies[0].melody.notes >= 14  # at least the primer
        for fmt in render.DEFAULT_FORMATS:
            assert (tmp_path / name / f"{name}_seed7.{fmt}").stat().st_size > 0


def test_demo_names_a_model_that_was_never_exported(saved_models, tmp_path):
    with pytest.raises(ValueError, match="'random_erk'"):
        demo.run_demo(saved_models, tmp_path, ["lstm_erk", "random_erk"], num=1, bars=2, seed=0)


def test_constraints_give_tunes_of_the_asked_bars_key_range_and_ending(server, tmp_path, capsys):
    code, out, err = run(capsys, "generate", "--server", server.grpc_address, "--model", "lstm_erk", "--num", "3",
                         "--bars", "8", "--key", "G", "--meter", "3/4", "--range", "B3-B4", "--out", str(tmp_path),
                         "--formats", "mid,abc", "--seed", "11")
    assert code == 0, err
    primer = [symbol for symbol in primers.timestep_primer(primers.PrimerSource(name="twinkle")).symbols if symbol != "/"]
    primer_quarters = len(primer) / 4
    for seed in (11, 12, 13):
        events = midi_events(str(tmp_path / f"lstm_erk_seed{seed}.mid"))  # read back by mido
        assert sum(quarters for _, quarters in events) == 8 * 3
        assert events[-1][0] % 12 == 7 and events[-1][1] >= 1  # G, from the last beat to the bar line
        onset, generated = 0.0, []
        for pitch, quarters in events:
            if onset >= primer_quarters and pitch is not None:
                generated.append(pitch)
            onset += quarters
        assert generated and all(59 <= pitch <= 71 and pitch % 12 in {7, 9, 11, 0, 2, 4, 6} for pitch in generated)
        score = converter.parse(str(tmp_path / f"lstm_erk_seed{seed}.abc"))  # read back by music21
        assert len(score.parts[0].getElementsByClass("Measure")) == 8


def test_constrained_server_sampling_writes_the_client_side_tune(server, tmp_path, capsys):
    for mode in ("client", "server"):
        code, _, err = run(capsys, "generate", "--server", server.grpc_address, "--model", "lstm_erk", "--bars", "6",
                           "--key", "Em", "--meter", "6/8", "--sampling", mode, "--seed", "5", "--formats", "abc",
                           "--out", str(tmp_path / mode))
        assert code == 0, err
    assert (tmp_path / "client" / "lstm_erk_seed5.abc").read_text() == (tmp_path / "server" / "lstm_erk_seed5.abc").read_text()


def wait_for_version(address: str, name: str, version: int, timeout_s: float = 60.0) -> None:
    """Until the server's poll of the model folder has loaded ``version`` (AssertionError after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        (_, statuses, _), = model_client.list_models(address, [name])
        if any(status.version == version and status.state == "AVAILABLE" for status in statuses):
            return
        time.sleep(0.2)
    raise AssertionError(f"{name} version {version} was not loaded within {timeout_s} s")


def test_the_summary_and_files_name_the_longest_run_shared_with_a_training_tune(server, saved_models, tmp_path, capsys):
    config = GenerationConfig(num=1, seed=3, steps=48, formats=("abc",), out_dir=str(tmp_path / "first"))
    client = model_client.connect(server.grpc_address, "lstm_han")
    [first] = generate(client, config, "lstm_han")  # no index yet: the run cannot be measured
    assert first.shared is None and "n/a" in first.novelty
    keys = TimestepCodec().new_note_keys(first.tokens, first.primer_length)
    assert len(keys) >= ANCHOR
    index = TrainingIndex(["Some Other Tune", "Planted Tune"], [["60:1"] * 10, ["55:4", *keys, "79:1"]])
    export_tiny_lstm(saved_models / "lstm_han", index.to_bytes())  # version 2: the same weights, with the index
    client.close()
    wait_for_version(server.grpc_address, "lstm_han", 2)
    code, out, err = run(capsys, "generate", "--server", server.grpc_address, "--model", "lstm_han", "--free",
                         "--steps", "48", "--seed", "3", "--formats", "abc,musicxml", "--out", str(tmp_path / "again"))
    assert code == 0, err
    assert f"{len(keys)} notes" in out and "Planted" in out  # the summary's cell (wrapped on narrow terminals)
    abc = (tmp_path / "again" / "lstm_han_seed3.abc").read_text()
    assert f"N:longest run shared with a training tune: {len(keys)} notes, of 'Planted Tune'" in abc
    xml = (tmp_path / "again" / "lstm_han_seed3.musicxml").read_text()
    assert f'<miscellaneous-field name="novelty">longest run shared with a training tune: {len(keys)} notes' in xml


def test_an_output_folder_that_cannot_be_written_is_refused_before_sampling(server, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code, _, err = run(capsys, *generate_args(server, tmp_path, "--out", str(blocker / "out")))
    assert_one_line_error(code, err, "cannot write to the output folder", str(blocker / "out"))


def test_without_flags_every_tune_is_constrained_and_finished(server, tmp_path, capsys):
    code, _, err = run(capsys, "generate", "--server", server.grpc_address, "--model", "lstm_erk", "--num", "3",
                       "--out", str(tmp_path), "--formats", "mid", "--seed", "2")
    assert code == 0, err
    for seed in (2, 3, 4):
        events = midi_events(str(tmp_path / f"lstm_erk_seed{seed}.mid"))
        total = sum(quarters for _, quarters in events)
        assert total >= 8 * 4 and total % 4 == 0  # at least 8 whole bars of 4/4
        assert events[-1][0] % 12 == 0 and all(pitch % 12 in {0, 2, 4, 5, 7, 9, 11} for pitch, _ in events if pitch)


def test_a_primer_in_g_three_four_gives_a_tune_in_g_three_four(server, tmp_path, capsys):
    primer = tmp_path / "primer.abc"
    primer.write_text("X:1\nT:Waltz\nM:3/4\nL:1/4\nK:G\nG A B|c2 B|A G F|\n\nX:2\nT:Other\nK:D\nD E F|\n")
    args = ["generate", "--server", server.grpc_address, "--model", "lstm_erk", "--primer-file", str(primer),
            "--bars", "6", "--formats", "abc", "--seed", "1", "--out", str(tmp_path / "out")]
    code, _, err = run(capsys, *args)
    assert_one_line_error(code, err, "holds 2 tunes", "X:1 'Waltz', X:2 'Other'", "--tune")
    code, _, err = run(capsys, *args, "--tune", "1")
    assert code == 0, err
    score = converter.parse(str(tmp_path / "out" / "lstm_erk_seed1.abc"))  # read back by music21
    assert score.flatten().getTimeSignatures()[0].ratioString == "3/4"
    assert score.flatten().getElementsByClass("KeySignature")[0].sharps == 1
    notes = score.flatten().notes
    assert [n.pitch.midi for n in notes[:3]] == [67, 69, 71] and notes[-1].pitch.pitchClass == 7  # ends on G
    assert sum(n.quarterLength for n in score.flatten().notesAndRests) == 6 * 3


def test_a_triplet_primer_is_refused_naming_its_bar(server, tmp_path, capsys):
    code, _, err = run(capsys, "generate", "--server", server.grpc_address, "--model", "lstm_erk", "--primer-abc",
                       "X:1\nM:2/4\nL:1/8\nK:C\nC2 D2|(3EFG A2|", "--out", str(tmp_path))
    assert_one_line_error(code, err, "note 3 (bar 2)", "--quantise")


@pytest.mark.parametrize("extra, fragments", [
    (["--bars", "2"], ["no room for a final beat in 2 bars"]),
    (["--tune", "2"], ["--tune and --quantise apply to --primer-abc and --primer-file"]),
    (["--free", "--bars", "8", "--chromatic"], ["--free", "drop --bars, --chromatic"]),
    (["--range", "C7-D7"], ["no pitch of C", "the model writes 55..79"]),
    (["--range", "70-60"], ["--range is inverted"]),
    (["--bars", "8", "--steps", "20"], ["--steps is 20"]),
])
def test_a_request_the_constraints_cannot_meet_is_one_line(server, tmp_path, capsys, extra, fragments):
    code, _, err = run(capsys, "generate", "--server", server.grpc_address, "--model", "lstm_erk",
                       "--out", str(tmp_path), *extra)
    assert_one_line_error(code, err, *fragments)


def test_without_seed_each_run_draws_a_new_one_and_prints_it(server, tmp_path, capsys):
    seeds = []
    for run_index in range(2):
        code, out, err = run(capsys, *generate_args(server, tmp_path / str(run_index), "--formats", "abc"))
        assert code == 0, err
        (written,) = (tmp_path / str(run_index)).glob("lstm_erk_seed*.abc")
        seed = written.stem.removeprefix("lstm_erk_seed")
        assert seed in out  # the summary names it, so --seed makes the tune again
        seeds.append(seed)
    assert seeds[0] != seeds[1]

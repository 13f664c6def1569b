"""`folkgen` without a server: the SavedModels loaded in this process give what a real
`python -m serving.server` serving the same folder gives (tokens, files, refusals), and
`folkgen models` lists a folder or probes a server."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from music21 import converter

from serving import cli
from serving import client as model_client
from serving.local_client import LocalModelClient, ModelLoadError
from serving.model_access import available_models, open_model_client
from tests.serving.conftest import TINY_VAES

pytestmark = pytest.mark.server

REPO_ROOT = Path(__file__).resolve().parents[2]
VAES = tuple(TINY_VAES)  # notes, rhythms
NOT_SERVED = "lstm_han"  # in the folder (and serving/models.config) but not given to the server


@pytest.fixture(scope="module")
def saved_models(mixed_models) -> Path:
    """conftest.py's folder: the tiny token models, an untrained ABC model, the tiny VAE pair."""
    return mixed_models


@pytest.fixture(scope="module")
def server(mixed_server):
    """conftest.py's server of that folder: lstm_erk, no_kind, abc_wide and the VAEs."""
    return mixed_server


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def both_ways(capsys, saved_models: Path, server, out: Path, *argv: str) -> tuple[Path, Path]:
    """Runs ``folkgen ARGV`` in process (--models-dir) and through the server (--server); the two out folders."""
    for where, flags in (("local", ["--models-dir", str(saved_models)]), ("served", ["--server", server.grpc_address])):
        code, _, err = run(capsys, *argv, *flags, "--out", str(out / where))
        assert code == 0, err
    return out / "local", out / "served"


def same_files(first: Path, second: Path) -> list[str]:
    """The names of the files in both folders, which hold the same bytes (music21's random MusicXML ids aside)."""
    names = sorted(path.name for path in first.iterdir())
    assert names == sorted(path.name for path in second.iterdir()) and names
    for name in names:
        texts = [re.sub(rb' id="[PI][0-9a-f]+"', b"", (folder / name).read_bytes()) for folder in (first, second)]
        assert texts[0] == texts[1], name
    return names


@pytest.mark.parametrize("sampling", ["client", "server"])
def test_in_process_timestep_tunes_are_the_served_ones(saved_models, server, tmp_path, capsys, sampling):
    local, served = both_ways(capsys, saved_models, server, tmp_path, "generate", "--model", "lstm_erk", "--num", "2",
                              "--seed", "7", "--bars", "6", "--key", "G", "--meter", "3/4", "--sampling", sampling,
                              "--formats", "abc,mid")
    assert same_files(local, served) == ["lstm_erk_seed7.abc", "lstm_erk_seed7.mid", "lstm_erk_seed8.abc",
                                         "lstm_erk_seed8.mid"]
    score = converter.parse(str(local / "lstm_erk_seed7.abc"))  # read back by music21: 6 bars of 3/4, in G
    assert sum(n.quarterLength for n in score.flatten().notesAndRests) == 6 * 3
    assert score.flatten().notes[-1].pitch.pitchClass == 7


def test_in_process_abc_tunes_are_the_served_ones(saved_models, server, tmp_path, capsys):
    local, served = both_ways(capsys, saved_models, server, tmp_path, "generate", "--model", "abc_wide", "--seed", "2",
                              "--bars", "4", "--key", "D", "--meter", "6/8", "--formats", "abc")
    assert same_files(local, served) == ["abc_wide_seed2.abc"]
    abc = (local / "abc_wide_seed2.abc").read_text(encoding="utf-8")
    assert abc.startswith("X:1\nL:1/8\nM:6/8\nK:D\n")
    assert converter.parse(abc, format="abc").flatten().notes[-1].pitch.pitchClass == 2  # ends on D


def test_in_process_vae_sample_is_the_served_one(saved_models, server, tmp_path, capsys):
    local, served = both_ways(capsys, saved_models, server, tmp_path, "vae", "sample", "--notes-model", VAES[0],
                              "--rhythms-model", VAES[1], "--num", "2", "--seed", "4", "--key", "G",
                              "--formats", "abc,musicxml")
    assert same_files(local, served) == ["vae_seed4.abc", "vae_seed4.musicxml", "vae_seed5.abc", "vae_seed5.musicxml"]
    assert "K:G\n" in (local / "vae_seed4.abc").read_text()


def test_a_refused_request_has_the_servers_message(saved_models, server):
    local = open_model_client("lstm_erk", models_dir=str(saved_models))
    served = open_model_client("lstm_erk", server=server.grpc_address)
    width = local.signatures["step"].inputs["state"].shape[1]
    messages = []
    for client in (local, served):  # one fault only: which of several a server names first is its own order
        with pytest.raises(model_client.RequestRejectedError) as refused:
            client.predict("step", {"token": np.zeros([2], np.int64), "state": np.zeros([2, width], np.float32)})
        messages.append(str(refused.value))
    served.close()
    assert messages[0] == messages[1] and "INVALID_ARGUMENT" in messages[0] and "'token'" in messages[0]


def test_a_new_version_is_loaded_and_a_version_can_be_pinned(saved_models, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(saved_models / "lstm_erk", folder / "lstm_erk")
    assert [s.version for s in open_model_client("lstm_erk", models_dir=str(folder)).status()] == [1]
    shutil.copytree(folder / "lstm_erk" / "1", folder / "lstm_erk" / "2")
    latest = open_model_client("lstm_erk", models_dir=str(folder))
    assert [(s.version, s.state) for s in latest.status()] == [(2, "AVAILABLE"), (1, "END")]  # as the server's poll
    pinned = open_model_client("lstm_erk", models_dir=str(folder), version=1)
    assert [(s.version, s.state) for s in pinned.status()] == [(1, "AVAILABLE")]
    with pytest.raises(ModelLoadError, match=r"version 9 of model 'lstm_erk'.*versions there: 1, 2"):
        LocalModelClient(str(folder), "lstm_erk", version=9)


def test_models_lists_the_folder_loaded_in_process(saved_models, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    code, out, err = run(capsys, "models", "--models-dir", str(saved_models))
    assert code == 0, err
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") == 6}
    assert sorted(rows) == ["abc_wide", "lstm_erk", "lstm_han", "no_kind", "no_step", *VAES]
    assert "token_timestep" in rows["lstm_erk"] and "AVAILABLE" in rows["lstm_erk"] and "generate" in rows["lstm_erk"]
    assert "token_characters" in rows["abc_wide"] and "vae_rhythms" in rows[VAES[1]]
    assert "not stated" in rows["no_kind"]


def test_models_shows_what_the_server_serves_among_the_names_probed(saved_models, server, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    code, out, err = run(capsys, "models", "--server", server.grpc_address, "--models-dir", str(saved_models))
    assert code == 0, err
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") == 6}
    assert sorted(rows) == ["abc_wide", "lstm_erk", "no_kind", *VAES]
    assert "AVAILABLE" in rows["lstm_erk"] and "token_timestep" in rows["lstm_erk"]
    caption = " ".join(out[out.index("names asked about"):].split())  # rich wraps it to the table's width
    assert NOT_SERVED in caption and "random_erk" in caption  # in the folder / in serving/models.config
    assert available_models(server=server.grpc_address, models_dir=str(saved_models)) == sorted(rows)
    assert available_models(models_dir=str(saved_models)) == sorted([*rows, NOT_SERVED, "no_step"])


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1 and lines[0].startswith("folkgen: error:"), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("argv, fragments", [
    (["generate", "--models-dir", "/nonexistent/models"], ["'/nonexistent/models' does not exist"]),
    (["generate", "--model", "lstm_nope"], ["'lstm_nope'", "it holds: abc_wide, lstm_erk, lstm_han, no_kind"]),
    (["generate", "--version", "3"], ["version 3 of model 'lstm_erk'", "versions there: 1"]),
    (["vae", "sample", "--notes-model", "vae_nope"], ["'vae_nope'", "vae_notes_tiny"]),
    (["models", "--model", "lstm_nope"], ["'lstm_nope'", "it holds:"]),
    (["generate", "--rest"], ["--rest", "--server HOST:PORT"]),
    (["generate", "--sampling", "bogus"], ["unknown sampling 'bogus'", "'client', 'server'"]),
])
def test_a_missing_folder_or_model_is_one_line_naming_what_there_is(saved_models, tmp_path, capsys, argv, fragments):
    flags = [] if "--models-dir" in argv else ["--models-dir", str(saved_models)]
    code, _, err = run(capsys, *argv, *flags, *(["--out", str(tmp_path)] if argv[0] != "models" else []))
    assert_one_line_error(code, err, *fragments)


def test_without_a_flag_the_models_come_from_the_environment_variable(saved_models, tmp_path):
    """A fresh process from another folder: $FOLKGEN_MODELS_DIR is the folder, and TensorFlow says nothing."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "FOLKGEN_MODELS_DIR": str(saved_models)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    process = subprocess.run([sys.executable, "-m", "serving.cli", "models", "--model", "lstm_erk"], cwd=tmp_path,
                             env={**env, "COLUMNS": "300"}, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr
    assert f"models in {saved_models}" in process.stdout and "token_timestep" in process.stdout
    assert process.stderr == ""  # no TensorFlow, CUDA or absl log lines

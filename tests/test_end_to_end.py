"""The whole flow on the tiny corpus: Beam preprocessing -> Keras training -> SavedModel export ->
local TF-Serving-compatible server -> `folkgen generate` -> MIDI read back by mido."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mido
import pytest
import tensorflow as tf

from preprocessing.melody.novelty import TrainingIndex
from serving.contract import signatures as sig
from serving.model_server.launcher import start_subprocess
from tests.helpers.midi_events import midi_events

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parent.parent


def _run(module: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    process = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert process.returncode == 0, f"python -m {module} failed:\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}"
    return process


def test_corpus_to_midi(tiny_dataset: Path, tmp_path: Path) -> None:
    export_base = tmp_path / "saved_models" / "lstm_tiny"
    _run(
        "trainer.task", "--model", "lstm", "--data", str(tiny_dataset), "--job-dir", str(tmp_path / "run"),
        "--export", str(export_base), "--verbose", "0",
        "--set", "units=16", "--set", "epochs=2", "--set", "window=16", "--set", "batch_size=4",
    )
    assert (export_base / "1" / "saved_model.pb").is_file()
    # the export ships the training split's tunes for the novelty line, titles and notes as read here
    loaded = tf.saved_model.load(str(export_base / "1"))
    index = TrainingIndex.from_bytes(loaded.signatures[sig.TRAINING_INDEX]()[sig.INDEX].numpy())
    assert index.titles and len(index.titles) == len(index.tunes) and all(index.tunes)

    out = tmp_path / "out"
    with start_subprocess(["lstm_tiny"], model_base_path=export_base) as server:
        _run(
            "serving.cli", "generate", "--server", server.grpc_address, "--model", "lstm_tiny",
            "--primer", "twinkle", "--bars", "6", "--num", "2", "--seed", "3", "--temperature", "0.9",
            "--formats", "mid,abc", "--out", str(out),
        )
    midis = sorted(out.rglob("*.mid"))
    assert len(midis) == 2, f"expected two MIDI files in {out}: {list(out.rglob('*'))}"
    vocabulary_pitches = {
        int(symbol) for symbol, _ in _read_vocabulary(tiny_dataset) if symbol.isdigit()
    }
    for path in midis:
        notes = [m.note for m in mido.MidiFile(path) if m.type == "note_on" and m.velocity > 0]
        assert notes, f"{path} has no notes"
        # The default constraints: exactly the 6 bars of 4/4 asked, ending on C.
        events = midi_events(str(path))
        assert sum(quarters for _, quarters in events) == 6 * 4 and notes[-1] % 12 == 0, events
        # Written in C (no --key): every pitch is a symbol the model could emit.
        assert set(notes) <= vocabulary_pitches, f"{path}: {sorted(set(notes) - vocabulary_pitches)}"


def _read_vocabulary(data_dir: Path) -> list[tuple[str, int]]:
    from preprocessing import schema
    from preprocessing.melody.timestep import DELIMITER, HOLD, REST

    path = data_dir / schema.VOCABULARY_FILE
    entries = schema.parse_vocabulary(path.read_text(encoding="utf-8"), str(path))
    assert [symbol for symbol, _ in entries][:3] == [DELIMITER, HOLD, REST]
    return entries

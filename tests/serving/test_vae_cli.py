"""`folkgen vae` against a real `python -m serving.server` serving tiny VAE exports (conftest.py's)."""
from __future__ import annotations

import numpy as np
import pytest
from music21 import converter

from preprocessing.melody.keys import parse_key, transpose_events
from preprocessing.melody.vae_codes import encode_notes, encode_rhythms
from serving import cli
from serving import client as model_client
from serving.generation.vae import VaeModel, join_codes, read_tune, tune_codes
from serving.music import render
from tests.serving.conftest import TINY_VAE_LENGTH, TINY_VAES

pytestmark = pytest.mark.server

LENGTH = TINY_VAE_LENGTH
NOTES_MODEL, RHYTHMS_MODEL = TINY_VAES  # sigmoid notes, categorical rhythms
# G major, 3/4: 14 events, pitches 62..74 (55..67 once moved to C major), acceptable durations only.
TUNE_A = "X:1\nT:A\nM:3/4\nL:1/8\nK:G\nG2 AB c2|d4 B2|A2 G2 F2|G6|d2 e2 d2|B6|]\n"
TUNE_B = "X:1\nT:B\nM:3/4\nL:1/8\nK:G\nB2 B2 A2|G4 z2|D2 G2 B2|d6|]\n"


@pytest.fixture(scope="module")
def server(mixed_server):
    """conftest.py's server: among others an untrained slides-style notes VAE (sigmoid output) and a
    categorical rhythms VAE."""
    return mixed_server


@pytest.fixture()
def tunes(tmp_path):
    paths = {}
    for name, text in (("a", TUNE_A), ("b", TUNE_B)):
        paths[name] = tmp_path / f"{name}.abc"
        paths[name].write_text(text)
    return paths


@pytest.fixture(scope="module")
def models(server):
    clients = [model_client.connect(server.grpc_address, name) for name in (NOTES_MODEL, RHYTHMS_MODEL)]
    yield tuple(VaeModel(client) for client in clients)
    for client in clients:
        client.close()


def run(capsys, server, command: str, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["vae", command, "--server", server.grpc_address, "--notes-model", NOTES_MODEL,
                     "--rhythms-model", RHYTHMS_MODEL, *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def written_events(path) -> list[tuple[int | None, float]]:
    """(MIDI pitch or None, quarters) of a written MusicXML file, read back by music21, tied notes merged
    here (music21's ``stripTies`` leaves some start/continue chains split)."""
    score = converter.parse(str(path), format="musicxml")
    events: list[tuple[int | None, float]] = []
    for element in score.parts[0].flatten().notesAndRests:
        if element.isNote and element.tie is not None and element.tie.type in ("continue", "stop"):
            assert events and events[-1][0] == element.pitch.midi, f"tie into {element} follows {events[-1:]}"
            events[-1] = (events[-1][0], events[-1][1] + float(element.quarterLength))
        else:
            events.append((None if element.isRest else element.pitch.midi, float(element.quarterLength)))
    while events and events[-1][0] is None:  # music21 fills an incomplete last bar with a rest
        events.pop()
    return events


def expected_events(notes, rhythms, key: str, stop_at_padding: bool = True) -> list[tuple[int | None, float]]:
    events = transpose_events(join_codes(notes, rhythms, 99, 7, stop_at_padding), parse_key(key).semitones_from_c())
    expected = [(event.pitch, event.quarters) for event in events]
    while expected and expected[-1][0] is None:  # as in written_events
        expected.pop()
    return expected


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1 and lines[0].startswith("folkgen: error:"), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_sample_joins_the_served_notes_and_rhythms_in_every_format(server, models, tmp_path, capsys):
    code, out, err = run(capsys, server, "sample", "--num", "2", "--seed", "7", "--key", "G", "--meter", "3/4",
                         "--formats", ",".join(render.FORMATS), "--out", str(tmp_path))
    assert code == 0, err
    notes_model, rhythms_model = models
    notes, rhythms = notes_model.sample([7, 8]), rhythms_model.sample([7, 8])
    assert notes.shape == rhythms.shape == (2, LENGTH)
    for seed, note_row, rhythm_row in zip((7, 8), notes, rhythms):
        stem = tmp_path / f"vae_seed{seed}"
        assert all(stem.with_suffix(f".{name}").stat().st_size > 0 for name in render.FORMATS)
        expected = expected_events(note_row, rhythm_row, "G")
        assert written_events(stem.with_suffix(".musicxml")) == expected
        abc = stem.with_suffix(".abc").read_text()
        assert "K:G\n" in abc and "M:3/4\n" in abc
        first_note = next(pitch for pitch, _ in expected if pitch is not None)
        assert converter.parse(str(stem.with_suffix(".mid"))).flatten().notes[0].pitch.midi == first_note
        assert f"vae_seed{seed}" in out
    assert "2 melodies" in out


def test_reconstruct_writes_the_tune_and_its_reconstruction_and_prints_agreement(server, models, tunes, tmp_path, capsys):
    code, out, err = run(capsys, server, "reconstruct", "--input", str(tunes["a"]), "--formats", "musicxml",
                         "--out", str(tmp_path))
    assert code == 0, err
    source = converter.parse(TUNE_A, format="abc")
    assert written_events(tmp_path / "a_original.musicxml") == [
        (element.pitch.midi, float(element.quarterLength)) for element in source.flatten().notes]

    tune = read_tune(str(tunes["a"]))
    assert (tune.key.name, str(tune.meter), len(tune.events)) == ("G", "3/4", 14)
    padding = LENGTH - len(tune.events)
    note_codes = np.array([encode_notes(tune.events) + [99] * padding], np.int32)
    rhythm_codes = np.array([encode_rhythms(tune.events) + [7] * padding], np.int32)
    notes_model, rhythms_model = models
    rebuilt_notes = notes_model.reconstruct(note_codes)[0][:14]
    rebuilt_rhythms = rhythms_model.reconstruct(rhythm_codes)[0][:14]
    assert written_events(tmp_path / "a_reconstruction.musicxml") == expected_events(
        rebuilt_notes, rebuilt_rhythms, "G", stop_at_padding=False)
    notes_right = int(np.sum(rebuilt_notes == note_codes[0][:14]))
    rhythms_right = int(np.sum(rebuilt_rhythms == rhythm_codes[0][:14]))
    assert f"{notes_right}/14" in out and f"{rhythms_right}/14" in out and "reconstruction of 14 events" in out


def test_interpolation_ends_are_the_reconstructions_of_the_two_tunes(server, models, tunes, tmp_path, capsys):
    code, _, err = run(capsys, server, "interpolate", str(tunes["a"]), str(tunes["b"]), "--steps", "4",
                       "--formats", "musicxml", "--meter", "3/4", "--out", str(tmp_path))
    assert code == 0, err
    assert sorted(path.name for path in tmp_path.iterdir() if path.suffix == ".musicxml") == [
        f"a_to_b_step{step}.musicxml" for step in range(4)]
    notes_model, rhythms_model = models
    for tune, step in (("a", 0), ("b", 3)):
        note_row, rhythm_row, _ = tune_codes(read_tune(str(tunes[tune])), notes_model.info, rhythms_model.info, "refuse")
        expected = expected_events(notes_model.reconstruct(note_row[None])[0],
                                   rhythms_model.reconstruct(rhythm_row[None])[0], "G")  # A's key
        assert written_events(tmp_path / f"a_to_b_step{step}.musicxml") == expected


def test_long_tunes_are_truncated_with_a_warning_or_refused(server, tmp_path, capsys, caplog):
    long_tune = tmp_path / "long.abc"
    long_tune.write_text("X:1\nT:Long\nM:4/4\nL:1/8\nK:C\n" + "CDEF GABc|" * 4 + "]\n")  # 32 events > 24
    code, out, err = run(capsys, server, "reconstruct", "--input", str(long_tune), "--formats", "musicxml",
                         "--out", str(tmp_path / "cut"))
    assert code == 0, err
    assert "long.abc has 32 events; only the first 24 are encoded" in caplog.text
    assert "reconstruction of 24 events" in out
    assert len(written_events(tmp_path / "cut" / "long_original.musicxml")) == 24
    code, _, err = run(capsys, server, "reconstruct", "--input", str(long_tune), "--overflow", "refuse",
                       "--out", str(tmp_path / "refused"))
    assert_one_line_error(code, err, "long.abc", "32 events", "VAE length 24")
    assert not (tmp_path / "refused").exists()


def test_bad_inputs_end_with_one_line_errors(server, tunes, tmp_path, capsys):
    silent = tmp_path / "silent.abc"
    silent.write_text("X:1\nT:Silence\nM:4/4\nL:1/4\nK:C\nz4|z4|]\n")
    assert_one_line_error(*run(capsys, server, "reconstruct", "--input", str(silent))[::2],
                          "silent.abc", "holds no melody")
    assert_one_line_error(*run(capsys, server, "reconstruct", "--input", str(tmp_path / "nope.abc"))[::2],
                          "input file", "nope.abc", "does not exist")
    code = cli.main(["vae", "interpolate", str(tunes["a"]), str(tunes["b"]), "--server", server.grpc_address,
                     "--notes-model", RHYTHMS_MODEL, "--rhythms-model", RHYTHMS_MODEL])
    assert_one_line_error(code, capsys.readouterr().err, f"--notes-model {RHYTHMS_MODEL!r} is a rhythms VAE")
    assert_one_line_error(*run(capsys, server, "interpolate", str(tunes["a"]), str(tunes["b"]), "--steps", "1")[::2],
                          "--steps", "1")
    assert_one_line_error(*run(capsys, server, "sample", "--formats", "mid,pdf")[::2], "'pdf'")

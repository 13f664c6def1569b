"""The page's WSGI app with a real model client: a tiny LSTM export loaded in process (as `folkgen web`
without --server) and, for one test, the same export behind a `python -m serving.server` over gRPC."""
from __future__ import annotations

import base64
import io
import json
import shutil
import time
import wave

import mido
import numpy as np
import pytest
from music21 import converter

from serving.page.app import PageApp
from serving.page.catalog import ModelCatalog
from serving.page.soundfont import NoteSamples, note_pitch
from serving.page.studio import Studio
from tests.helpers.tiny_models import TINY_WALTZ_FRAMES, export_tiny_meter_lstm

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory, tiny_token_models):
    root = tmp_path_factory.mktemp("saved_models")
    shutil.copytree(tiny_token_models[0] / "lstm_erk", root / "lstm_erk")  # export_tiny_lstm's
    export_tiny_meter_lstm(root / "lstm_meter_waltzes", frames=TINY_WALTZ_FRAMES)
    return root


@pytest.fixture(scope="module")
def app(models_dir, tmp_path_factory):
    catalog = ModelCatalog(models_dir=str(models_dir))
    studio = Studio(catalog.client, str(tmp_path_factory.mktemp("tunes")))
    yield PageApp(studio, catalog.token_models, NoteSamples(fluidsynth=False))  # "": the NumPy synthesiser
    studio.close()
    catalog.close()


def call(app, method: str, path: str, body: object | None = None) -> tuple[int, dict[str, str], bytes]:
    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_LENGTH": str(len(data)),
               "wsgi.input": io.BytesIO(data)}
    answer = {}

    def start_response(status, headers):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    payload = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], payload


def finished(app, job: str, timeout: float = 120.0) -> dict:
    """The job's JSON once it is done or failed; the states seen on the way are kept in 'seen'."""
    seen = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, body = call(app, "GET", f"/api/jobs/{job}")
        assert status == 200
        answer = json.loads(body)
        seen.add(answer["state"])
        if answer["state"] in ("done", "failed"):
            return {**answer, "seen": seen}
        time.sleep(0.02)
    pytest.fail(f"job {job} still running after {timeout} s")


def written(app, tune: dict, timeout: float = 120.0) -> dict:
    """The tune's JSON once every download is written (they follow the ABC)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, body = call(app, "GET", f"/api/tunes/{tune['id']}")
        assert status == 200
        answer = json.loads(body)
        if not answer["files_pending"]:
            return answer
        time.sleep(0.05)
    pytest.fail(f"tune {tune['id']}'s downloads still pending after {timeout} s")


def test_the_page_and_its_vendored_scripts_are_served_from_here(app):
    status, headers, page = call(app, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    for script in (b"/static/vendor/abcjs/abcjs-basic-min.js", b"/static/page.js", b"/static/page.css"):
        assert script in page
        assert call(app, "GET", script.decode())[0] == 200
    assert b"http" not in page.replace(b'name="viewport"', b"")  # no absolute URL: nothing from a CDN
    assert call(app, "GET", "/static/vendor/abcjs/LICENSE.md")[0] == 200
    assert call(app, "GET", "/static/../app.py")[0] == 404


def test_models_lists_the_token_models_with_their_kinds(app):
    status, _, body = call(app, "GET", "/api/models")
    answer = json.loads(body)
    assert status == 200 and answer["models"] == [{"name": "lstm_erk", "kind": "token_timestep"},
                                                  {"name": "lstm_meter_waltzes", "kind": "token_timestep"}]
    assert "twinkle" in answer["primers"] and answer["synthesiser"] == "numpy"


def test_a_generation_reports_progress_and_gives_every_download(app):
    status, _, body = call(app, "POST", "/api/generate", {"model": "lstm_erk", "key": "D", "mode": "major",
                                                           "meter": "6/8", "bars": "6", "seed": "5", "top_p": "0.9"})
    assert status == 202
    job = finished(app, json.loads(body)["job"])
    assert job["state"] == "done", job["error"]
    assert "sampling" in job["seen"] or job["done"] == job["total"] > 0
    tune = job["tune"]
    assert (tune["seed"], tune["key"], tune["meter"], tune["bars"]) == (5, "D", "6/8", 6)
    assert "K:D" in tune["abc"] and "M:6/8" in tune["abc"]
    assert "abc" in tune["files"] and (tune["files_pending"] or len(tune["files"]) == 5)  # the ABC first
    tune = written(app, tune)
    assert sorted(tune["files"]) == ["abc", "mid", "musicxml", "png", "wav"] and tune["files_error"] == ""
    files = {fmt: call(app, "GET", url) for fmt, url in tune["files"].items()}
    assert all(status == 200 for status, _, _ in files.values())
    assert files["wav"][2][:4] == b"RIFF" and files["png"][2][:8] == b"\x89PNG\r\n\x1a\n"
    assert files["mid"][1]["Content-Disposition"] == 'attachment; filename="lstm_erk_seed5.mid"'
    midi = mido.MidiFile(file=io.BytesIO(files["mid"][2]))
    played = [message.note for message in midi if message.type == "note_on" and message.velocity > 0]
    score = converter.parseData(files["musicxml"][2].decode(), format="musicxml")
    assert played == [int(pitch.midi) for element in score.recurse().notes if not element.tie or
                      element.tie.type == "start" for pitch in element.pitches]
    assert len(played) == tune["notes"]


@pytest.mark.parametrize(("model", "meter", "written_in"), [
    ("lstm_meter_waltzes", "", "3/4"), ("lstm_meter_waltzes", "2/4", "2/4"), ("lstm_erk", "", "4/4")])
def test_an_empty_meter_field_writes_the_models_usual_meter(app, model, meter, written_in):
    """The page's meter field starts empty: a meter-aware model writes in its training tunes' usual
    meter, any other in 4/4; a meter typed in wins. music21 reads the MusicXML's bars."""
    page = call(app, "GET", "/")[2].decode()
    assert '<input id="meter" name="meter" value=""' in page
    fields = {"model": model, "key": "G", "meter": meter, "bars": "6", "seed": "7"}
    job = finished(app, json.loads(call(app, "POST", "/api/generate", fields)[2])["job"])
    assert job["state"] == "done", job["error"]
    assert job["tune"]["meter"] == written_in and f"M:{written_in}" in job["tune"]["abc"]
    musicxml = call(app, "GET", written(app, job["tune"])["files"]["musicxml"])[2].decode()
    part = converter.parseData(musicxml, format="musicxml").parts[0]
    bar = 4 * int(written_in[0]) / int(written_in[2])
    full_bars = [measure.barDuration.quarterLength for measure in part.getElementsByClass("Measure")][1:-1]
    assert full_bars and set(full_bars) == {bar}


def test_the_same_seed_makes_the_same_tune(app):
    fields = {"model": "lstm_erk", "key": "G", "meter": "4/4", "bars": "6", "seed": "21"}
    first, second = (finished(app, json.loads(call(app, "POST", "/api/generate", fields)[2])["job"])["tune"]
                     for _ in range(2))
    assert first["id"] != second["id"] and first["abc"] == second["abc"]


@pytest.mark.parametrize(("fields", "message"), [
    ({"bars": "0"}, "bars: must be 1 to 64, got 0"),
    ({"bars": "three"}, "bars: expected a whole number, got 'three'"),
    ({"key": "H"}, "unknown key 'H"),
    ({"meter": "5/6"}, "meter: unknown meter '5/6'"),
    ({"temperature": "0"}, "temperature must be a finite number > 0, got 0.0"),
    ({"top_p": "1.5"}, "top_p must be in (0, 1]"),
    ({"seed": "-1"}, "seed: must be 0 to"),
    ({"primer": "yankee"}, "primer: unknown primer 'yankee'"),
    ({"primer": "file", "primer_file": {"name": "tune.exe", "data": "AAAA"}}, "primer file 'tune.exe': expected one of"),
    ({"model": ""}, "model: choose a model"),
])
def test_bad_input_is_refused_before_anything_runs_naming_the_value(app, fields, message):
    status, _, body = call(app, "POST", "/api/generate", {"model": "lstm_erk", **fields})
    assert status == 400 and message in json.loads(body)["error"]


def test_an_unknown_model_fails_the_job_naming_it(app):
    job = finished(app, json.loads(call(app, "POST", "/api/generate", {"model": "lstm_xyz", "bars": "4"})[2])["job"])
    assert job["state"] == "failed" and "lstm_xyz" in job["error"] and "lstm_erk" in job["error"]


def test_an_uploaded_abc_primer_starts_the_tune(app):
    abc = "X:1\nT:Up\nM:4/4\nL:1/8\nK:G\nGABc d2 B2|\n"
    fields = {"model": "lstm_erk", "bars": "4", "seed": "2", "primer": "file",
              "primer_file": {"name": "up.abc", "data": base64.b64encode(abc.encode()).decode()}}
    job = finished(app, json.loads(call(app, "POST", "/api/generate", fields)[2])["job"])
    assert job["state"] == "done", job["error"]
    assert job["tune"]["key"] == "G" and "GABcd2B2|" in job["tune"]["abc"].replace(" ", "")


def test_vary_regenerates_the_chosen_bar_and_keeps_the_others(app):
    fields = {"model": "lstm_erk", "key": "G", "meter": "4/4", "bars": "6", "seed": "33"}
    original = finished(app, json.loads(call(app, "POST", "/api/generate", fields)[2])["job"])["tune"]
    status, _, body = call(app, "POST", f"/api/tunes/{original['id']}/vary", {"bars": [4]})
    assert status == 202
    job = finished(app, json.loads(body)["job"])
    assert job["state"] == "done", job["error"]
    varied = job["tune"]
    assert (varied["parent"], varied["varied"], varied["seed"], varied["bars"]) == (original["id"], [4], 33, 6)
    assert isinstance(varied["log_p"], float) and varied["id"] != original["id"]
    old, new = (tune["abc"].split("K:G\n", 1)[1].replace("\n", "").split("|") for tune in (original, varied))
    assert len(old) == len(new) and [index for index, (a, b) in enumerate(zip(old, new)) if a != b] == [4]
    again = finished(app, json.loads(call(app, "POST", f"/api/tunes/{original['id']}/vary", {"bars": [4]})[2])["job"])
    assert again["tune"]["abc"] == varied["abc"]  # the same Vary makes the same tune
    failed = finished(app, json.loads(call(app, "POST", f"/api/tunes/{original['id']}/vary", {"bars": [9]})[2])["job"])
    assert failed["state"] == "failed" and "bar 9 is not a bar of this tune" in failed["error"]
    assert call(app, "POST", f"/api/tunes/{original['id']}/vary", {"bars": "4"})[0] == 400
    assert call(app, "POST", "/api/tunes/abc123/vary", {"bars": [1]})[0] == 404


def test_unknown_paths_jobs_tunes_and_notes_are_404_naming_them(app):
    assert call(app, "GET", "/api/jobs/abc123")[0] == 404
    status, _, body = call(app, "GET", "/api/tunes/abc123/mid")
    assert status == 404 and "abc123" in json.loads(body)["error"]
    assert call(app, "GET", "/soundfont/acoustic_grand_piano-mp3/H4.mp3")[0] == 404
    assert call(app, "PUT", "/api/generate")[0] == 405
    assert call(app, "POST", "/api/generate", b"{not json")[0] == 400


def test_a_note_sample_is_a_wav_of_that_pitch(app):
    status, headers, body = call(app, "GET", "/soundfont/acoustic_grand_piano-mp3/A4.mp3")
    assert status == 200 and headers["Content-Type"] == "audio/wav" and body[:4] == b"RIFF"
    with wave.open(io.BytesIO(body)) as handle:
        rate, samples = handle.getframerate(), np.frombuffer(handle.readframes(handle.getnframes()), "<i2")
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    assert abs(np.argmax(spectrum) * rate / len(samples) - 440.0) < 2.0
    assert [note_pitch(name) for name in ("A0", "Bb3", "C4", "C8")] == [21, 58, 60, 108]


def test_the_page_reaches_a_model_server_through_the_same_client(app, tiny_token_server, tmp_path):
    catalog = ModelCatalog(server=tiny_token_server.grpc_address)  # the same tiny lstm_erk as models_dir's
    studio = Studio(catalog.client, str(tmp_path / "tunes"))
    try:
        served = PageApp(studio, catalog.token_models, NoteSamples(fluidsynth=False))
        assert json.loads(call(served, "GET", "/api/models")[2])["models"][0]["name"] == "lstm_erk"
        job = json.loads(call(served, "POST", "/api/generate", {"model": "lstm_erk", "bars": "6", "seed": "21",
                                                              "key": "G", "meter": "4/4"})[2])["job"]
        tune = finished(served, job)["tune"]
    finally:
        studio.close()
        catalog.close()
    fields = {"model": "lstm_erk", "bars": "6", "seed": "21", "key": "G", "meter": "4/4"}
    in_process = finished(app, json.loads(call(app, "POST", "/api/generate", fields)[2])["job"])["tune"]
    assert tune["bars"] == 6 and tune["abc"] == in_process["abc"]

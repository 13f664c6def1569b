"""The page's WSGI application: the static page, its JSON API, the tunes' files and the note samples.

    GET  /                              the page (static/index.html); /static/...: its scripts, styles, abcjs
    GET  /api/models                    {"models": [{"name", "kind"}], "primers": [...], "synthesiser"}
    POST /api/generate                  the form as JSON -> 202 {"job"}; 400 {"error"} naming a bad value
    GET  /api/jobs/ID                   {"state", "done", "total", "error", "tune"} (the tune once done)
    GET  /api/tunes/ID                  the tune: its ABC, seed, novelty, and the downloads written so far
    POST /api/tunes/ID/vary             {"bars": [0-based indices]} -> 202 {"job"}
    GET  /api/tunes/ID/FORMAT           a download: abc, mid, musicxml, wav or png (409 until it is written)
    GET  /soundfont/INSTRUMENT-mp3/NOTE.mp3   one note for abcjs's synth (WAV bytes, see soundfont.py)
"""
from __future__ import annotations

import json
import logging
import mimetypes
import os
import re
from collections.abc import Callable, Iterable

from serving.page.form import PAGE_FORMATS
from serving.page.soundfont import NoteSamples
from serving.page.studio import Job, Studio
from serving.page.tune_view import tune_json

logger = logging.getLogger(__name__)

STATIC_DIR = os.path.join(os.path.dirname(os.path.realpath(__file__)), "static")
MAX_BODY_BYTES = 2 << 20
_CONTENT_TYPES = {"abc": "text/vnd.abc; charset=utf-8", "mid": "audio/midi", "musicxml": "application/vnd.recordare.musicxml+xml",
                  "wav": "audio/wav", "png": "image/png", ".js": "text/javascript; charset=utf-8",
                  ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8"}
_JOB = re.compile(r"/api/jobs/([0-9a-f]+)")
_TUNE = re.compile(r"/api/tunes/([0-9a-f]+)")
_TUNE_FILE = re.compile(r"/api/tunes/([0-9a-f]+)/([a-z]+)")
_VARY = re.compile(r"/api/tunes/([0-9a-f]+)/vary")
_NOTE = re.compile(r"/soundfont/([a-z_0-9]+)-mp3/([A-Za-z0-9]+)\.mp3")

StartResponse = Callable[[str, list[tuple[str, str]]], object]


class HttpError(Exception):
    """A request the app answers with ``status`` and ``{"error": message}``."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


class PageApp:
    """WSGI app over a Studio; ``models()`` lists the token models the page offers, ``[(name, kind)]``."""

    def __init__(self, studio: Studio, models: Callable[[], list[tuple[str, str]]],
                 notes: NoteSamples | None = None) -> None:
        self.studio = studio
        self._models = models
        self.notes = notes or NoteSamples()

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        try:
            status, headers, body = self._route(method, path, environ)
        except HttpError as error:
            status, headers, body = _json(error.status, {"error": str(error)})
        except Exception as error:  # noqa: BLE001 - one request fails, the page keeps being served
            logger.exception("%s %s failed", method, path)
            status, headers, body = _json("500 Internal Server Error", {"error": f"{type(error).__name__}: {error}"})
        start_response(status, headers + [("Content-Length", str(len(body)))])
        return [body] if method != "HEAD" else [b""]

    def _route(self, method: str, path: str, environ: dict) -> tuple[str, list[tuple[str, str]], bytes]:
        if method in ("GET", "HEAD"):
            if path in ("/", "/index.html"):
                return _static("index.html")
            if path.startswith("/static/"):
                return _static(path[len("/static/"):])
            if path == "/api/models":
                return _json("200 OK", self._model_list())
            if match := _JOB.fullmatch(path):
                return _json("200 OK", self._job_json(self._found(self.studio.job, match.group(1))))
            if match := _TUNE.fullmatch(path):
                return _json("200 OK", tune_json(self._found(self.studio.tune, match.group(1))))
            if match := _TUNE_FILE.fullmatch(path):
                return self._download(match.group(1), match.group(2))
            if match := _NOTE.fullmatch(path):
                return self._note(match.group(1), match.group(2))
        elif method == "POST":
            if path == "/api/generate":
                return self._started(lambda: self.studio.generate(_body(environ)))
            if match := _VARY.fullmatch(path):
                bars = _body(environ).get("bars")
                if not isinstance(bars, list) or not all(isinstance(bar, int) and bar >= 0 for bar in bars):
                    raise HttpError("400 Bad Request", f"vary: bars must be a list of bar numbers, got {bars!r}")
                tune_id = match.group(1)
                self._found(self.studio.tune, tune_id)
                return self._started(lambda: self.studio.vary(tune_id, bars))
        else:
            raise HttpError("405 Method Not Allowed", f"method {method} is not allowed on {path}")
        raise HttpError("404 Not Found", f"no page or API at {path}")

    def _model_list(self) -> dict:
        from serving.generation.primers import NAMED_PRIMERS

        return {"models": [{"name": name, "kind": kind} for name, kind in self._models()],
                "primers": sorted(NAMED_PRIMERS), "synthesiser": self.notes.synthesiser}

    def _started(self, start: Callable[[], Job]) -> tuple[str, list[tuple[str, str]], bytes]:
        try:
            job = start()
        except ValueError as error:  # FormError among them
            raise HttpError("400 Bad Request", str(error)) from None
        return _json("202 Accepted", {"job": job.id})

    def _job_json(self, job: Job) -> dict:
        answer = {"state": job.state, "done": job.done, "total": job.total, "error": job.error,
                  "seconds": job.seconds, "sampling_seconds": job.sampling_seconds}
        if job.tune_id is not None:
            answer["tune"] = tune_json(self.studio.tune(job.tune_id))
        return answer

    def _download(self, tune_id: str, fmt: str) -> tuple[str, list[tuple[str, str]], bytes]:
        tune = self._found(self.studio.tune, tune_id)
        if fmt not in PAGE_FORMATS:
            raise HttpError("404 Not Found", f"no {fmt!r} file; the downloads are {', '.join(PAGE_FORMATS)}")
        if fmt not in tune.files:
            raise HttpError("409 Conflict", f"the {fmt} file of tune {tune_id} is not written yet")
        path = tune.files[fmt]
        with open(path, "rb") as handle:
            data = handle.read()
        filename = os.path.basename(path).replace('"', "")
        return "200 OK", [("Content-Type", _CONTENT_TYPES[fmt]),
                          ("Content-Disposition", f'attachment; filename="{filename}"')], data

    def _note(self, instrument: str, name: str) -> tuple[str, list[tuple[str, str]], bytes]:
        try:
            data = self.notes.wav(instrument, name)
        except ValueError as error:
            raise HttpError("404 Not Found", str(error)) from None
        return "200 OK", [("Content-Type", "audio/wav"), ("Cache-Control", "max-age=86400")], data

    @staticmethod
    def _found(lookup: Callable[[str], object], key: str):
        try:
            return lookup(key)
        except KeyError as error:
            raise HttpError("404 Not Found", error.args[0]) from None


def _body(environ: dict) -> dict:
    """The request's JSON object body; HttpError 400 when it is none."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HttpError("400 Bad Request", f"bad Content-Length {environ.get('CONTENT_LENGTH')!r}") from None
    if length > MAX_BODY_BYTES:
        raise HttpError("413 Payload Too Large", f"the request body has {length} bytes, more than {MAX_BODY_BYTES}")
    try:
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    except (ValueError, UnicodeDecodeError) as error:
        raise HttpError("400 Bad Request", f"the request body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise HttpError("400 Bad Request", "the request body must be a JSON object")
    return body


def _json(status: str, value: dict) -> tuple[str, list[tuple[str, str]], bytes]:
    return status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], json.dumps(value).encode()


def _static(relative: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """A file under STATIC_DIR (no path leaves it); 404 otherwise."""
    path = os.path.realpath(os.path.join(STATIC_DIR, relative))
    if not path.startswith(STATIC_DIR + os.sep) or not os.path.isfile(path):
        raise HttpError("404 Not Found", f"no file {relative!r}")
    with open(path, "rb") as handle:
        data = handle.read()
    suffix = os.path.splitext(path)[1]
    content_type = _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
    return "200 OK", [("Content-Type", content_type)], data

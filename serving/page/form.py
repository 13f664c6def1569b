"""The page's Generate form (a JSON object of strings) -> a GenerationConfig, as the CLI's flags become one.

Fields: ``model``, ``key`` (the tonic: ``G``, ``F#``, ``Bb``), ``mode``
(``major``, ``minor``, ``dorian``, ...), ``meter``, ``bars``, ``temperature``, ``top_p``, ``seed``
(blank: a new random one), ``tempo``, and a primer: ``primer`` (``default``, a named primer,
``abc`` with ``primer_abc``, or ``file`` with ``primer_file`` = ``{"name", "data"}``, the file's
bytes in base64). Every bad value raises FormError naming the field and the value.
"""
from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Mapping

from preprocessing.melody.keys import parse_key, parse_meter
from serving.contract.sampling import SamplingSettings
from serving.generation.primers import NAMED_PRIMERS, PrimerSource
from serving.generation.tokens import GenerationConfig
from serving.generation.tune_request import TuneRequest
from serving.music import render

# Every download the page offers (SVG is not one: the page engraves the ABC itself). Generation
# writes the ABC alone, so the score is drawn at once; the studio writes the others after it.
PAGE_FORMATS = ("abc", "mid", "musicxml", "wav", "png")
SCORE_FORMATS = ("abc",)
MAX_BARS = 64
MAX_UPLOAD_BYTES = 1 << 20
_PRIMER_SUFFIXES = (".abc", ".txt", ".mid", ".midi", ".musicxml", ".xml", ".mxl", ".krn")


class FormError(ValueError):
    """A form value the page cannot use; the message names the field and the value."""


def parse_form(fields: Mapping[str, object], out_dir: str) -> tuple[str, GenerationConfig]:
    """(model name, the config writing ``SCORE_FORMATS`` under ``out_dir``); an uploaded primer is saved there."""
    model = _text(fields, "model")
    if not model:
        raise FormError("model: choose a model")
    key_text = " ".join(part for part in (_text(fields, "key"), _text(fields, "mode")) if part)
    key = _parsed("key", key_text, parse_key) if key_text else None
    meter_text = _text(fields, "meter")
    meter = _parsed("meter", meter_text, parse_meter) if meter_text else None
    bars = _number(fields, "bars", int)
    if bars is not None and not 1 <= bars <= MAX_BARS:
        raise FormError(f"bars: must be 1 to {MAX_BARS}, got {bars}")
    temperature = _number(fields, "temperature", float)
    top_p = _number(fields, "top_p", float)
    settings = _parsed("sampling", (temperature, top_p),
                       lambda given: SamplingSettings(temperature=given[0] if given[0] is not None else 1.0,
                                                      top_p=given[1] if given[1] is not None else 1.0))
    seed = _number(fields, "seed", int)
    if seed is not None and not 0 <= seed < 2**31:
        raise FormError(f"seed: must be 0 to {2**31 - 1}, got {seed}")
    tempo = _number(fields, "tempo", float)
    request = TuneRequest(meter=meter, key=key, bars=bars)
    return model, _parsed("form", None, lambda _: GenerationConfig(
        primer=primer_source(fields, out_dir), settings=settings,
        seed=seed if seed is not None else secrets.randbelow(2**31 - 1), key=key, meter=meter,
        formats=SCORE_FORMATS, out_dir=out_dir, tempo_bpm=tempo if tempo is not None else render.DEFAULT_TEMPO_BPM,
        constraints=request))


def primer_source(fields: Mapping[str, object], out_dir: str) -> PrimerSource | None:
    """The form's primer: None (the model's default), a named one, ABC text or an uploaded file."""
    kind = _text(fields, "primer") or "default"
    if kind == "default":
        return None
    if kind in NAMED_PRIMERS:
        return PrimerSource(name=kind)
    if kind == "abc":
        text = _text(fields, "primer_abc")
        if not text:
            raise FormError("primer: paste the ABC text of the primer")
        return PrimerSource(abc=text)
    if kind == "file":
        return PrimerSource(file=_save_upload(fields.get("primer_file"), out_dir))
    raise FormError(f"primer: unknown primer {kind!r}; expected default, {', '.join(NAMED_PRIMERS)}, abc or file")


def _save_upload(upload: object, out_dir: str) -> str:
    """Writes an uploaded primer ``{"name", "data"}`` (base64) as ``out_dir/primer<suffix>``; returns the path."""
    if not isinstance(upload, Mapping) or not upload.get("data"):
        raise FormError("primer file: choose a file to upload")
    name = str(upload.get("name") or "")
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in _PRIMER_SUFFIXES:
        raise FormError(f"primer file {name!r}: expected one of {', '.join(_PRIMER_SUFFIXES)}")
    try:
        data = base64.b64decode(str(upload["data"]), validate=True)
    except (binascii.Error, ValueError):
        raise FormError(f"primer file {name!r}: the upload is not base64") from None
    if len(data) > MAX_UPLOAD_BYTES:
        raise FormError(f"primer file {name!r}: {len(data)} bytes, more than {MAX_UPLOAD_BYTES}")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "primer" + suffix)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def _text(fields: Mapping[str, object], name: str) -> str:
    value = fields.get(name)
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)):
        raise FormError(f"{name}: expected text, got {value!r}")
    return str(value).strip()


def _number(fields: Mapping[str, object], name: str, kind: type) -> int | float | None:
    text = _text(fields, name)
    if not text:
        return None
    pattern = r"[+-]?\d+" if kind is int else r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
    if re.fullmatch(pattern, text) is None:
        raise FormError(f"{name}: expected {'a whole number' if kind is int else 'a number'}, got {text!r}")
    return kind(text)


def _parsed(field: str, value, parse):
    """``parse(value)``, its ValueError as a FormError naming ``field``."""
    try:
        return parse(value)
    except FormError:
        raise
    except ValueError as error:
        raise FormError(f"{field}: {error}") from None

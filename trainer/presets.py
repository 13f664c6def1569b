"""One registry of named presets for every model family, and the one ``--set FIELD=VALUE`` parser.

A preset is a complete frozen config dataclass: ``TrainConfig`` (token models) or ``VaeConfig``
(VAEs). Each family defines its presets next to its config class and registers them here when
that module is imported (``trainer.token_models.config``, ``trainer.vae.config``); a config class
names the fields a run may not override in its ``FIXED_FIELDS`` class variable. This module
imports no family, so the families import it and nothing imports back.

``resolve("lstm", {"units": "128"})`` returns the preset with single fields replaced; the values
arrive as flag strings and are parsed by the field's declared type (int, float or str).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

_PRESETS: dict[str, Any] = {}
_PARSERS = {"int": int, "float": float, "str": str}


def check_at_least(config: Any, low: int, fields: Sequence[str]) -> None:
    """ValueError naming the first of ``fields`` whose value in ``config`` is below ``low``."""
    for field in fields:
        value = getattr(config, field)
        if value < low:
            raise ValueError(f"{field} must be >= {low}, got {value!r}")


def register(name: str, config: Any) -> None:
    """Adds a named preset (a frozen dataclass with ``FIXED_FIELDS``); a name already taken raises ValueError."""
    if name in _PRESETS:
        raise ValueError(f"preset {name!r} is already registered")
    if not dataclasses.is_dataclass(config) or not hasattr(config, "FIXED_FIELDS"):
        raise ValueError(f"preset {name!r} is not a config dataclass with FIXED_FIELDS: {config!r}")
    _PRESETS[name] = config


def unregister(name: str) -> None:
    """Removes a named preset (for tests that register their own)."""
    del _PRESETS[name]


def names() -> list[str]:
    """Every registered preset name, sorted."""
    return sorted(_PRESETS)


def get(name: str) -> Any:
    """The preset as registered; ValueError naming it and every known preset if there is none."""
    if name not in _PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {names()}")
    return _PRESETS[name]


def _parse_field(field: dataclasses.Field, text: str) -> object:
    """Parses a flag string into the field's declared type (int, float or str)."""
    kind = _PARSERS[str(field.type)]
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"field {field.name!r} expects {kind.__name__}, got {text!r}") from None


def resolve(preset: str, overrides: Mapping[str, str] | None = None) -> Any:
    """The named preset with ``overrides`` (field name -> flag string) parsed and applied.

    ValueError names an unknown preset, an unknown or fixed field, or a value of the wrong type;
    the config's own validation names a value out of range.
    """
    config = get(preset)
    fields = {field.name: field for field in dataclasses.fields(config)}
    values = {}
    for name, text in (overrides or {}).items():
        if name not in fields:
            raise ValueError(
                f"unknown config field {name!r} for preset {preset!r} ({type(config).__name__}); "
                f"known fields: {sorted(fields)}"
            )
        if name in config.FIXED_FIELDS:
            raise ValueError(f"field {name!r} is fixed by the preset; pick another --model")
        values[name] = _parse_field(fields[name], text)
    return dataclasses.replace(config, **values)


def parse_assignments(assignments: Sequence[str]) -> dict[str, str]:
    """Parses ``["units=128", "epochs=3"]`` into ``{"units": "128", "epochs": "3"}``."""
    parsed = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"expected NAME=VALUE, got {assignment!r}")
        parsed[name.strip()] = value.strip()
    return parsed

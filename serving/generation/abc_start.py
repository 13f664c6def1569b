"""Where a constrained ABC tune starts: the header the model is conditioned on and the primer's body.

A character model's primer is ABC text. Under constraints its header fields (``X``, ``L``, ``M``,
``K``, up to the ``K:`` line that ends an ABC header) set the tune's unit, meter and key, and
the request must agree with them; a field the primer lacks comes from the request (C major, 4/4,
``L:1/8`` when it names none). The header is rewritten in the corpus's order (X, L, M, K: what
the model was trained on; other fields such as ``T:`` are dropped, as preprocessing drops them),
and the body after it is fed through the ABC state machine before sampling, so the primer counts
towards ``--bars`` and a primer the constraints cannot continue is refused with the character that
breaks them. A complete tune is continued: its final bar line ``|]`` becomes a plain ``|``.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, parse_key, parse_meter
from serving.generation.tune_request import TuneRequest

ABC_UNIT = "1/8"
_FIELD = re.compile(r"^([A-Za-z]):(.*)$")


@dataclass(frozen=True)
class AbcStart:
    """The request as the primer states it, the header text to write, the unit and the body text."""

    request: TuneRequest
    header: str
    unit: str
    body: str

    @property
    def text(self) -> str:
        """What the model is fed before sampling: header then body."""
        return self.header + self.body


def abc_header(request: TuneRequest, unit: str = ABC_UNIT, number: str = "1") -> str:
    """The header for ``request`` (with its key and meter), in the corpus's field order (X, L, M, K)."""
    return f"X:{number}\nL:{unit}\nM:{request.meter}\nK:{request.key.name}\n"


def abc_start(request: TuneRequest, primer: str) -> AbcStart:
    """The start of a constrained tune from an ABC primer (header fields, then an optional body);
    the request's key and meter (None: not asked) must agree with the primer's ``K:`` / ``M:``.
    ValueError naming a disagreement or a malformed header."""
    fields, body = _split_header(primer)
    meter = _agreed("M", fields, request.meter, parse_meter, COMMON_TIME, "--meter")
    key = _agreed("K", fields, request.key, parse_key, C_MAJOR, "--key")
    unit = fields.get("L", ABC_UNIT)
    stated = dataclasses.replace(request, meter=meter, key=key)
    return AbcStart(stated, abc_header(stated, unit, fields.get("X", "1") or "1"), unit, _continued(body))


def _continued(body: str) -> str:
    """The body with trailing blank space dropped and a final ``|]`` opened to ``|``."""
    body = body.rstrip()
    return body[:-1] if body.endswith("|]") else body


def _split_header(primer: str) -> tuple[dict[str, str], str]:
    """({field letter: value}, body text after the ``K:`` line); ValueError for a body without ``K:``."""
    fields: dict[str, str] = {}
    lines = primer.split("\n")
    for index, line in enumerate(lines):
        match = _FIELD.match(line.strip())
        if match is None:
            if line.strip():
                raise ValueError(f"the ABC primer's line {index + 1} ({line!r}) comes before a K: line; "
                                 "an ABC header ends with K:")
            continue
        fields[match.group(1).upper()] = match.group(2).strip()
        if match.group(1).upper() == "K":
            return fields, "\n".join(lines[index + 1:])
    return fields, ""


def _agreed(field: str, fields: dict[str, str], given, parse, default, flag: str):
    """The primer's value of ``field`` (parsed), checked against the flag's; else the flag's or ``default``."""
    if field not in fields:
        return given or default
    stated = parse(fields[field])
    if given is not None and given != stated:
        raise ValueError(f"the primer states {field}:{fields[field]} but {flag} is {getattr(given, 'name', given)}: "
                         f"drop {flag} or change the primer")
    return stated

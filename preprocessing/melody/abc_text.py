"""ABC text: one tune normalised for the character model, where a generated tune ends, and sanity checks."""
from __future__ import annotations

import re

from preprocessing.melody.events import EncodingError

_FIELD_LINE = re.compile(r"^([A-Za-z+]):(?![|:])(.*)$")  # "A:|" is a note and a repeat
# Fields kept in the body: mid-tune changes of unit length, meter and key.
_BODY_FIELDS = ("L", "M", "K")
DEFAULT_UNIT_LENGTH = "1/8"
DEFAULT_KEY = "C"


def normalise_abc(text: str) -> str:
    """One tune's ABC -> the character model's text: ``X:1``, ``L:``, ``M:``, ``K:`` then the body.

    Keeps the last L and M header values (a tune's own fields come after the file-header lines it
    inherits; when ``L`` is absent the standard's default is written, ``default_unit_length``;
    ``M`` omitted when absent, ``K:C`` added when absent)
    and, in the body, the music lines and mid-tune ``L:``, ``M:``, ``K:`` field lines. Drops comments (``%...``, ``%%`` directives), every other field
    (T, C, O, S, Z, N, H, B, A, D, F, R, P, Q, W, w, ...), blank lines, and collapses runs of
    spaces and tabs to one space, trimming both ends of each line. Raises EncodingError
    ``"empty_body"`` when no music line remains.
    """
    header: dict[str, str] = {}
    body: list[str] = []
    in_header = True
    for raw_line in text.splitlines():
        line = " ".join(_strip_comment(raw_line).split())
        if not line:
            continue
        field = _FIELD_LINE.match(line)
        if field is None:
            in_header = False
            body.append(line)
            continue
        name, value = field.group(1), field.group(2).strip()
        if in_header:
            if name in ("L", "M", "K"):
                header[name] = value  # a tune's own field overrides an inherited one
            in_header = name != "K"
        elif name in _BODY_FIELDS:
            body.append(f"{name}:{value}")
    if not any(_FIELD_LINE.match(line) is None for line in body):
        raise EncodingError("empty_body", f"ABC tune has no music lines: {' '.join(text.split())[:80]!r}")
    lines = ["X:1", f"L:{header.get('L') or default_unit_length(header.get('M', ''))}"]
    if header.get("M"):
        lines.append(f"M:{header['M']}")
    lines.append(f"K:{header.get('K') or DEFAULT_KEY}")
    return "\n".join(lines + body) + "\n"


# What ends one tune in a character model's output: a blank line (the training stream's separator)
# or the next tune's ``X:`` field.
ABC_TUNE_ENDS = ("\n\n", "\nX:")


def first_abc_tune(text: str, search_from: int = 0) -> tuple[str, bool]:
    """The first tune of generated ABC ``text`` (up to and including its last newline) and whether
    it ended there; an unfinished tune is the whole text. Only ends completed at or after
    ``search_from`` count (the length of a primer, whose own blank lines do not end the tune; a
    primer's final newline followed by a generated one does)."""
    ends = [text.find(marker, max(0, search_from - len(marker) + 1)) for marker in ABC_TUNE_ENDS]
    ends = [end for end in ends if end >= 0]
    if not ends:
        return text, False
    return text[: min(ends) + 1], True


# A note or rest followed by a length multiplier of three or more digits ("e943").
_LONG_NOTE = re.compile(r"(?<![A-Za-z])[_=^]*[A-Ga-gzx][,']*(\d{3,})")
MAX_NOTE_UNITS = 99


def check_abc_note_lengths(text: str) -> None:
    """Raises EncodingError ``"implausible_note_length"`` naming the first note of the body lines
    longer than ``MAX_NOTE_UNITS`` unit lengths: no tune holds one, a badly trained model may
    write one, and music21 takes tens of seconds to parse it."""
    for number, line in enumerate(text.splitlines(), start=1):
        if _FIELD_LINE.match(line):
            continue
        match = _LONG_NOTE.search(_strip_comment(line))
        if match is not None and int(match.group(1)) > MAX_NOTE_UNITS:
            raise EncodingError(
                "implausible_note_length",
                f"note {match.group(0)!r} on line {number} lasts {int(match.group(1))} unit lengths "
                f"(at most {MAX_NOTE_UNITS} are accepted)",
            )


def default_unit_length(meter: str) -> str:
    """The ABC standard's unit note length for a tune without ``L:``: ``1/16`` when the meter is
    below 3/4 (e.g. ``2/4``), else ``1/8`` (also for no meter, ``C``, ``C|`` and free meter)."""
    numerator, slash, denominator = meter.partition("/")
    if slash and numerator.strip().isdigit() and denominator.strip().isdigit() and int(denominator) > 0:
        if int(numerator) / int(denominator) < 0.75:
            return "1/16"
    return DEFAULT_UNIT_LENGTH


def _strip_comment(line: str) -> str:
    """The line up to an unescaped ``%``."""
    match = re.search(r"(?<!\\)%", line)
    return line if match is None else line[: match.start()]


def split_abc_tunes(text: str) -> list[str]:
    """One ABC file -> its tunes' texts, split at ``X:`` lines.

    Field lines before the first ``X:`` (the file header) are inherited: each tune gets them
    right after its ``X:`` line, so the tune's own fields still override them. A file without
    any ``X:`` line is one tune.
    """
    lines = text.splitlines()
    starts = [number for number, line in enumerate(lines) if line.startswith("X:")]
    if not starts:
        return [text.strip() + "\n"] if text.strip() else []
    file_header = [line.rstrip() for line in lines[: starts[0]] if _FIELD_LINE.match(line)]
    tunes = []
    for start, end in zip(starts, starts[1:] + [len(lines)]):
        body = "\n".join(lines[start + 1 : end]).strip("\n")
        tunes.append("\n".join([lines[start].rstrip(), *file_header, body]).rstrip() + "\n")
    return tunes

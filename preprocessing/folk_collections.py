"""The ``folk_abc`` corpus: every folk ABC collection music21 ships, its tune ids and its repeats.

``folk_abc`` reads O'Neill's 1850, Ryan's Mammoth, Aird's Airs and miscFolk. Its tunes keep the
ids they have in the smaller corpora (``FOLK_FOLDERS``: O'Neill's and Ryan's tunes are
``irish/...``, Aird's ``airds/...``, miscFolk's ``miscfolk/...``), so a tune lands in the same
split as in ``irish`` and a model trained on ``irish`` never met a tune of ``folk_abc``'s test split.

The same tune is printed in more than one collection (and twice in some); kept twice, its copies
could fall into different splits. A tune whose first ``KEY_NOTES`` note letters (``A``-``G``,
``a``-``g``, ``z`` of the body lines, field lines and comments dropped) equal an earlier tune's is a repeat of it
(collections in ``FOLK_FOLDERS`` order, files by name, tunes by position) and becomes a
``duplicate`` dead letter naming the kept one. Tunes with fewer than ``MIN_KEY_NOTES`` note letters
are never called repeats. The letters of chord symbols (``"Am"``) and decorations (``!trill!``) are
kept in the key, so two copies that differ only in those are not found: on music21's corpus this
key finds 79 repeats (28 of them across collections), one that drops them would find 8 more
(7 Ryan's tunes, 1 miscFolk tune).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

FOLK_CORPUS = "folk_abc"
# music21 corpus folder -> the corpus name its tunes' ids carry in folk_abc
FOLK_FOLDERS = {"oneills1850": "irish", "ryansMammoth": "irish", "airdsAirs": "airds", "miscFolk": "miscfolk"}
KEY_NOTES = 64
MIN_KEY_NOTES = 16

_FIELD = re.compile(r"^[A-Za-z]:")
_NOT_NOTE = re.compile(r"[^A-Ga-gz]")


def id_corpus(corpus: str, label: str) -> str:
    """The corpus name in the id of a tune of ``label`` (``"folder/file.abc"``) read as ``corpus``."""
    if corpus != FOLK_CORPUS:
        return corpus
    return FOLK_FOLDERS[label.split("/", 1)[0]]


def note_key(tune_text: str) -> str:
    """The first ``KEY_NOTES`` note letters of the body (after ``K:``), "" if it has fewer than ``MIN_KEY_NOTES``."""
    lines = tune_text.splitlines()
    start = next((number + 1 for number, line in enumerate(lines) if line.startswith("K:")), len(lines))
    body = "".join(line.split("%", 1)[0] for line in lines[start:] if not _FIELD.match(line))
    letters = _NOT_NOTE.sub("", body)
    return letters[:KEY_NOTES] if len(letters) >= MIN_KEY_NOTES else ""


def repeats(tunes: Iterable[tuple[str, int, str]]) -> dict[tuple[str, int], tuple[str, int]]:
    """(label, index) of every repeated tune -> (label, index) of the first with its note key.

    ``tunes``: ``(label, index, text)`` in reading order.
    """
    first: dict[str, tuple[str, int]] = {}
    found: dict[tuple[str, int], tuple[str, int]] = {}
    for label, index, text in tunes:
        key = note_key(text)
        if not key:
            continue
        if key in first:
            found[(label, index)] = first[key]
        else:
            first[key] = (label, index)
    return found

"""Corpora: listing source files and splitting them into raw tunes.

A corpus is named by one of ``corpus_names()`` (collections music21 ships in its corpus folder,
read from disk, no network), ``dir:PATH`` (a folder, recursively: ``.abc``, ``.krn``,
``.xml`` / ``.musicxml`` / ``.mxl``, ``.mid`` / ``.midi``) or ``irishman:PATH`` (a JSON file, or a
folder of them, in the IrishMAN layout: a list of records, or JSON lines, each with
``abc notation`` and ``control code`` keys).

``list_sources`` is cheap (paths only); ``read_source`` reads one file and yields its tunes, or
a ``DeadLetter`` for what cannot become a tune (empty file, binary bytes, duplicate tune). The
``PATH`` of ``dir:`` and ``irishman:`` is listed and read through ``tf.io.gfile``, so it may be a
URL (``gs://``); music21's own corpus folder is package data, read with ``os``.

Tune ids: ``Source.corpus`` is the corpus name for named corpora, the folder's base name for
``dir:PATH``, and ``"irishman"`` for ``irishman:PATH``, so ids do not depend on where the data
lives; ``RawTune.index`` is the 0-based position of the tune (or record) in its file. A dead
letter for a whole file has the id ``"<corpus>/<label>"``.

O'Neill's 1850 as shipped holds 2,009 ABC tunes in 39 files, 169 of them second transcriptions
of a tune already in an earlier file (``0732-0758_bs`` / ``_mh``, ``1116-1135_mh`` / ``_ml``,
``1556-1576`` + ``1577-1624`` / ``1556-1624``, ``1710-1750`` inside ``1701-1780``, ``0626-0635``
inside ``0626-0700``, single tunes at range boundaries). Each becomes a ``duplicate`` dead letter
naming the kept one (the first in file-name order), leaving 1,840 tunes. Numbers alone are not
enough: ``0626-0700`` labels tune 700 as ``X:800`` and ``1701-1780`` ends with a different tune
1781 than ``1781-1800``, so a repeat needs the same number and either the same title or both
files' name ranges claiming that number (see ``_oneills_duplicates``). ``folk_abc`` (all four folk
ABC collections: ``preprocessing.folk_collections``) keeps the ``irish`` / ``airds`` /
``miscfolk`` ids of its tunes and drops the repeats it finds across and within collections.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import re
from collections.abc import Iterator

import tensorflow as tf

from preprocessing.folk_collections import FOLK_CORPUS, FOLK_FOLDERS, id_corpus, repeats
from preprocessing.melody.abc_text import split_abc_tunes
from preprocessing.melody.music21_reader import FORMAT_BY_EXTENSION
from preprocessing.records import ENCODING_TUNE, DeadLetter, RawTune, Source, make_excerpt

DIR_PREFIX = "dir:"
IRISHMAN_PREFIX = "irishman:"
IRISHMAN_CORPUS = "irishman"
IRISHMAN_EXTENSIONS = (".json", ".jsonl")

# Formats whose files must be text (the others may be binary: .mxl is a zip, MIDI is binary).
_TEXT_EXTENSIONS = (".abc", ".krn", ".xml", ".musicxml", ".json", ".jsonl")

ONEILLS_FOLDER = "oneills1850"
_ESSEN = "essenFolksong"
# name -> ((folder inside music21's corpus, file-name regex), ...)
NAMED_CORPORA: dict[str, tuple[tuple[str, str], ...]] = {
    "erk": ((_ESSEN, r"erk\d+\.abc"),),
    "han": ((_ESSEN, r"han\d+\.abc"),),
    "kinder": ((_ESSEN, r"kinder\d*\.abc"),),
    "fink": ((_ESSEN, r"fink\d*\.abc"),),
    "essen": ((_ESSEN, r"(?!test).*\.abc"),),
    "oneills": ((ONEILLS_FOLDER, r".*\.abc"),),
    "ryans": (("ryansMammoth", r".*\.abc"),),
    "irish": ((ONEILLS_FOLDER, r".*\.abc"), ("ryansMammoth", r".*\.abc")),
    "airds": (("airdsAirs", r".*\.abc"),),
    "miscfolk": (("miscFolk", r".*\.abc"),),
    FOLK_CORPUS: tuple((folder, r".*\.abc") for folder in FOLK_FOLDERS),
}

_LOG = logging.getLogger(__name__)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x19\x1b-\x1f]")


def corpus_names() -> list[str]:
    """The named corpora, sorted."""
    return sorted(NAMED_CORPORA)


def music21_corpus_root() -> str:
    """The folder of music21's bundled corpus (imported lazily: music21 is slow to import)."""
    import music21.corpus  # pylint: disable=import-outside-toplevel

    return os.path.dirname(music21.corpus.__file__)


def list_sources(corpus: str) -> list[Source]:
    """The files of ``corpus`` (a name, ``dir:PATH`` or ``irishman:PATH``), sorted by label."""
    if corpus.startswith(DIR_PREFIX):
        root = _existing_path(corpus, corpus[len(DIR_PREFIX):], want_dir=True)
        name = os.path.basename(root.rstrip("/"))
        return _walk(name, root, tuple(FORMAT_BY_EXTENSION))
    if corpus.startswith(IRISHMAN_PREFIX):
        path = _existing_path(corpus, corpus[len(IRISHMAN_PREFIX):], want_dir=False)
        if not tf.io.gfile.isdir(path):
            if not path.lower().endswith(IRISHMAN_EXTENSIONS):
                raise ValueError(f"corpus {corpus!r}: IrishMAN file {path!r} is not {' or '.join(IRISHMAN_EXTENSIONS)}")
            return [Source(IRISHMAN_CORPUS, path, os.path.basename(path))]
        return _walk(IRISHMAN_CORPUS, path, IRISHMAN_EXTENSIONS)
    if corpus not in NAMED_CORPORA:
        raise ValueError(
            f"unknown corpus {corpus!r}; expected one of {corpus_names()}, "
            f"'{DIR_PREFIX}PATH' or '{IRISHMAN_PREFIX}PATH'"
        )
    root = music21_corpus_root()
    sources = []
    for folder, pattern in NAMED_CORPORA[corpus]:
        regex = re.compile(pattern)
        for filename in sorted(os.listdir(os.path.join(root, folder))):
            if regex.fullmatch(filename):
                label = f"{folder}/{filename}"
                sources.append(Source(corpus, os.path.join(root, folder, filename), label))
    return sources


def read_source(source: Source) -> Iterator[RawTune | DeadLetter]:
    """Yields the raw tunes of one file, or dead letters for what cannot become a tune."""
    with tf.io.gfile.GFile(source.path, "rb") as handle:
        data = handle.read()
    extension = os.path.splitext(source.path)[1].lower()
    if not data.strip():
        yield _file_dead_letter(source, "empty_file", f"file {source.path!r} is empty", "")
        return
    if extension not in _TEXT_EXTENSIONS:
        yield RawTune(source.corpus, source.label, 0, FORMAT_BY_EXTENSION[extension], data)
        return
    text = decode_text(data, source.path)
    if text is None:
        yield _file_dead_letter(
            source, "not_text", f"file {source.path!r} holds binary bytes, not UTF-8 or Latin-1 text",
            make_excerpt(data[:80].decode("latin-1")),
        )
        return
    if extension in IRISHMAN_EXTENSIONS:
        yield from _irishman_records(source, text)
    elif extension == ".abc":
        yield from _abc_tunes(source, text)
    else:
        yield RawTune(source.corpus, source.label, 0, FORMAT_BY_EXTENSION[extension], text.encode("utf-8"))


def decode_text(data: bytes, name: str | None = None) -> str | None:
    """UTF-8 (else cp1252, else Latin-1) text, or None for binary bytes (NUL or control chars);
    with ``name``, text that is not UTF-8 is a warning naming the file and its first bad bytes."""
    for codec in ("utf-8", "cp1252", "latin-1"):
        try:
            text = data.decode(codec)
            break
        except UnicodeDecodeError as error:
            if codec == "utf-8" and name is not None:
                _LOG.warning("%s is not UTF-8 (byte %d: %r); read as cp1252 / Latin-1", name, error.start,
                             data[error.start:error.start + 4])
            continue
    text = text.lstrip("\ufeff")
    return None if _CONTROL_CHARS.search(text) else text


def _abc_tunes(source: Source, text: str) -> Iterator[RawTune | DeadLetter]:
    corpus = id_corpus(source.corpus, source.label)
    duplicates = _oneills_duplicates() if source.label.startswith(ONEILLS_FOLDER + "/") else {}
    folk = _folk_duplicates() if source.corpus == FOLK_CORPUS else {}
    for index, tune_text in enumerate(split_abc_tunes(text)):
        kept, repeated = duplicates.get((source.label, index)), folk.get((source.label, index))
        if kept is not None or repeated is not None:
            detail = (f"second transcription of O'Neill's X:{_abc_field(tune_text, 'X')}, kept as {corpus}/{kept[0]}#{kept[1]}"
                      if kept is not None else
                      f"repeats the notes of {id_corpus(FOLK_CORPUS, repeated[0])}/{repeated[0]}#{repeated[1]}, kept instead")
            yield DeadLetter(source.corpus, f"{corpus}/{source.label}#{index}", _abc_field(tune_text, "T"),
                             ENCODING_TUNE, "duplicate", detail, make_excerpt(tune_text))
            continue
        yield RawTune(corpus, source.label, index, "abc", tune_text.encode("utf-8"))


def _folder_tunes(folder: str) -> Iterator[tuple[str, int, str]]:
    """``(label, index, text)`` of every ABC tune in one music21 corpus folder, files by name."""
    path = os.path.join(music21_corpus_root(), folder)
    for filename in sorted(name for name in os.listdir(path) if name.endswith(".abc")):
        with open(os.path.join(path, filename), "rb") as handle:
            text = decode_text(handle.read()) or ""
        for index, tune_text in enumerate(split_abc_tunes(text)):
            yield f"{folder}/{filename}", index, tune_text


@functools.lru_cache(maxsize=1)
def _folk_duplicates() -> dict[tuple[str, int], tuple[str, int]]:
    """(label, index) of each tune ``folk_abc`` drops as a repeat -> (label, index) of the one kept."""
    oneills = _oneills_duplicates()
    tunes = (tune for folder in FOLK_FOLDERS for tune in _folder_tunes(folder) if tune[:2] not in oneills)
    return repeats(tunes)


@functools.lru_cache(maxsize=1)
def _oneills_duplicates() -> dict[tuple[str, int], tuple[str, int]]:
    """(label, index) of each repeated O'Neill's tune -> (label, index) of the one kept.

    Files are read in name order; a tune repeats an earlier one with the same ``X:`` number
    when their titles match (case, punctuation and "the" ignored) or when both files' names
    claim that number (``1556-1576`` and ``1556-1624`` both claim 1564).
    """
    earlier: dict[str, list[tuple[str, int, str, bool]]] = {}
    duplicates: dict[tuple[str, int], tuple[str, int]] = {}
    for label, index, tune_text in _folder_tunes(ONEILLS_FOLDER):
        number = _abc_field(tune_text, "X")
        title = _title_key(_abc_field(tune_text, "T"))
        claimed = _file_claims(label.split("/", 1)[1], number)
        match = next(
            (entry for entry in earlier.get(number, []) if entry[2] == title or (entry[3] and claimed)),
            None,
        )
        if match is None:
            earlier.setdefault(number, []).append((label, index, title, claimed))
        else:
            duplicates[(label, index)] = (match[0], match[1])
    return duplicates


def _file_claims(filename: str, number: str) -> bool:
    """Whether a file named ``"0732-0758_bs.abc"`` claims tune ``number`` by its range."""
    bounds = re.match(r"(\d+)-(\d+)", filename)
    return bool(bounds and number.isdigit() and int(bounds.group(1)) <= int(number) <= int(bounds.group(2)))


def _title_key(title: str) -> str:
    return " ".join(word for word in re.findall(r"[a-z0-9]+", title.lower()) if word != "the")


def _abc_field(tune_text: str, name: str) -> str:
    """The value of the first ``name:`` field line, stripped ("" when absent)."""
    match = re.search(rf"^{name}:(.*)$", tune_text, flags=re.MULTILINE)
    return match.group(1).strip() if match else ""


def _irishman_records(source: Source, text: str) -> Iterator[RawTune | DeadLetter]:
    try:
        parsed = json.loads(text)
        records = parsed if isinstance(parsed, list) else [parsed]
    except json.JSONDecodeError:
        records = None
    if records is None:  # JSON lines
        records = []
        for number, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                records.append(_BadRecord(f"line {number + 1} is not JSON: {error}", line))
    for index, record in enumerate(records):
        tune_id = f"{source.corpus}/{source.label}#{index}"
        if isinstance(record, _BadRecord):
            yield DeadLetter(source.corpus, tune_id, "", ENCODING_TUNE, "parse_error", record.detail,
                             make_excerpt(record.line))
        elif not isinstance(record, dict):
            yield DeadLetter(source.corpus, tune_id, "", ENCODING_TUNE, "parse_error",
                             f"record {index} is a {type(record).__name__}, not a JSON object",
                             make_excerpt(json.dumps(record)))
        else:
            content = json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8")
            yield RawTune(source.corpus, source.label, index, "irishman", content)


class _BadRecord:
    """A JSON line that did not parse, kept so that its dead letter keeps its index."""

    def __init__(self, detail: str, line: str) -> None:
        self.detail = detail
        self.line = line


def _file_dead_letter(source: Source, reason: str, detail: str, excerpt: str) -> DeadLetter:
    return DeadLetter(source.corpus, f"{source.corpus}/{source.label}", "", ENCODING_TUNE, reason, detail, excerpt)


def _existing_path(corpus: str, path: str, want_dir: bool) -> str:
    if not path or not tf.io.gfile.exists(path) or (want_dir and not tf.io.gfile.isdir(path)):
        kind = "folder" if want_dir else "file or folder"
        raise ValueError(
            f"corpus {corpus!r}: {kind} {path!r} does not exist; known corpus names are "
            f"{corpus_names()} (or '{DIR_PREFIX}PATH', '{IRISHMAN_PREFIX}PATH')"
        )
    return path


def _walk(corpus: str, root: str, extensions: tuple[str, ...]) -> list[Source]:
    sources = []
    root = root.rstrip("/")
    for folder, subfolders, filenames in tf.io.gfile.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for filename in filenames:
            if filename.startswith(".") or os.path.splitext(filename)[1].lower() not in extensions:
                continue
            path = os.path.join(folder, filename)
            sources.append(Source(corpus, path, path[len(root):].lstrip("/")))
    return sorted(sources, key=lambda source: source.label)

"""The preprocessing output contract, shared by the Beam job, the trainer and the client.

Pure Python: no TensorFlow or Beam import, so every package may import it.

An output folder (``python -m preprocessing.run --output DIR``) holds:

- a TFDS dataset (``dataset_info.json``, ``features.json`` and sharded TFRecords named
  ``{DATASET_NAME}-{split}.tfrecord-NNNNN-of-MMMMM``), loadable with
  ``tfds.builder_from_directory(DIR)``; one example per kept tune, features below;
- ``VOCABULARY_FILE``: the ``timestep`` vocabulary from the training split, one ``symbol<TAB>count``
  line per symbol, in index order;
- ``ABC_VOCABULARY_FILE``: the ABC character vocabulary from the training split, same layout,
  characters written with ``escape_symbol``;
- ``STATS_FILE``: tunes read, kept and skipped (by reason and by encoding), steps, meters, keys;
- ``DEAD_LETTERS_FILE``: one JSON object per skipped tune or encoding (corpus, tune_id, title,
  encoding, reason, excerpt);
- ``COMPLETE_FILE``: the completion marker, written last (JSON: the job's arguments, its counts,
  when it finished, and ``files``: every file the job wrote). A folder without it is not a
  complete dataset (a run that did not finish, or one still moving its files into place).
"""
from __future__ import annotations

DATASET_NAME = "folk_melodies"
DATASET_VERSION = "1.0.0"
SPLITS = ("train", "validation", "test")
# Share of tunes per split, assigned by a stable hash of the tune id (see preprocessing.split).
SPLIT_PERCENTAGES = {"train": 80, "validation": 10, "test": 10}

VOCABULARY_FILE = "vocabulary.tsv"
ABC_VOCABULARY_FILE = "abc_vocabulary.tsv"
STATS_FILE = "stats.json"
DEAD_LETTERS_FILE = "dead_letters.jsonl"
COMPLETE_FILE = "_COMPLETE"

# Feature names of one example (one tune). An encoding that was skipped for a tune is empty
# (zero-length sequence or empty string) and has a dead letter naming the reason.
FEATURE_ID = "id"  # str: stable identity, "<corpus>/<source file>#<index in file>"
FEATURE_CORPUS = "corpus"  # str
FEATURE_TITLE = "title"  # str
FEATURE_TIMESTEP = "timestep"  # [steps] str: 38-symbol text of the seeds, transposed to C / Am
FEATURE_NOTES = "notes"  # [events] int32: pitch 50..97 (MIDI), rest 99, transposed
FEATURE_RHYTHMS = "rhythms"  # [events] int32: duration code 0..7
FEATURE_ABC = "abc"  # str: normalised ABC text (original key), for the character model
FEATURE_KEY = "key"  # str: declared (or analysed) tonic of the original, e.g. "D", "F#", "Bb"
FEATURE_MODE = "mode"  # str: "major" or "minor"
FEATURE_METER = "meter"  # str: e.g. "3/4"; "" when the tune declares none
FEATURE_TRANSPOSE = "transpose"  # int32: semitones added to reach C major / A minor
# int32: 16th-note steps the tune sounds before its first downbeat (0: it starts on one), from
# its first bar and meter; with the meter it gives every timestep's position in its bar. Folders
# written before it lack it (readers that need it say so).
FEATURE_PICKUP = "pickup"


def escape_symbol(symbol: str) -> str:
    """Writes a vocabulary symbol on one TSV line (newline, tab and backslash escaped)."""
    return symbol.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def unescape_symbol(text: str) -> str:
    """Inverse of ``escape_symbol``."""
    out, chars = [], iter(text)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        nxt = next(chars, "")
        out.append({"n": "\n", "t": "\t", "\\": "\\"}.get(nxt, "\\" + nxt))
    return "".join(out)


def parse_vocabulary(text: str, where: str) -> list[tuple[str, int]]:
    """Parses a vocabulary TSV's text into ``[(symbol, count), ...]`` in index order.

    ``where`` names the file in errors (the reading is the caller's: ``tf.io.gfile`` or Beam's
    FileSystems, so that the file may live under a URL).
    """
    entries = []
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        symbol, sep, count = line.rpartition("\t")
        if not sep or not count.isdigit():
            raise ValueError(f"{where}:{line_number}: expected 'symbol<TAB>count', got {line!r}")
        entries.append((unescape_symbol(symbol), int(count)))
    return entries


def format_vocabulary(entries: list[tuple[str, int]]) -> str:
    """The vocabulary TSV text of ``[(symbol, count), ...]``, in the given order."""
    return "".join(f"{escape_symbol(symbol)}\t{count}\n" for symbol, count in entries)

"""Data types passed between the corpus readers, the per-tune processing and the Beam pipeline.

Pure Python and picklable (frozen dataclasses), so Beam can ship them between workers.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

TUNE_FORMATS = ("abc", "kern", "musicxml", "midi", "irishman")

# DeadLetter.encoding values.
ENCODING_TUNE = "tune"  # the whole tune was skipped
ENCODING_TIMESTEP = "timestep"
ENCODING_VAE = "vae"
ENCODING_ABC = "abc"

EXCERPT_CHARS = 80


@dataclass(frozen=True)
class Source:
    """One file of a corpus; ``label`` is its path relative to the corpus root."""

    corpus: str
    path: str
    label: str


@dataclass(frozen=True)
class RawTune:
    """One tune's own bytes, before parsing.

    ``fmt`` is one of ``TUNE_FORMATS``. ``content`` is one ABC tune including the file-level
    header lines it inherits, a whole kern / MusicXML / MIDI file, or one IrishMAN record
    serialised as JSON.
    """

    corpus: str
    source: str
    index: int
    fmt: str
    content: bytes

    def __post_init__(self) -> None:
        if self.fmt not in TUNE_FORMATS:
            raise ValueError(f"unknown tune format {self.fmt!r}; expected one of {TUNE_FORMATS}")

    @property
    def tune_id(self) -> str:
        """Stable identity ``"<corpus>/<source>#<index>"``."""
        return f"{self.corpus}/{self.source}#{self.index}"


@dataclass(frozen=True)
class DeadLetter:
    """A skipped tune (``encoding == "tune"``) or one skipped encoding of a kept tune.

    ``reason`` is a short stable code (``"empty_file"``, ``"not_text"``, ``"parse_error"``,
    ``"no_notes"``, ``"chord"``, ``"unacceptable_duration"``, ``"pitch_out_of_range"``,
    ``"missing_abc_notation"``, ...); ``detail`` names the bad value; ``excerpt`` holds at most
    ``EXCERPT_CHARS`` characters of the source.
    """

    corpus: str
    tune_id: str
    title: str
    encoding: str
    reason: str
    detail: str
    excerpt: str

    def to_json(self) -> dict:
        """A JSON-ready dict (one line of the dead-letter file)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TuneResult:
    """The outcome of processing one raw tune.

    ``example`` maps the feature names of ``preprocessing.schema`` to str, list[str], list[int]
    or int values; it is None when the whole tune was skipped.
    """

    example: dict[str, object] | None
    dead_letters: tuple[DeadLetter, ...]


def make_excerpt(text: str) -> str:
    """At most ``EXCERPT_CHARS`` characters of ``text``, whitespace runs collapsed to one space."""
    return " ".join(text.split())[:EXCERPT_CHARS]

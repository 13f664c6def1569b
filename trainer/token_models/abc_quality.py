"""How playable a generated ABC tune is: does music21 parse it, and do its bars fill the meter?

A bar is *full* when its length equals the meter's. Folk tunes have short bars on purpose: the
pickup before a section and the bar that closes a section (they add up to one bar), so a short
bar is *exempt* (counted in neither share) when it is the tune's first or last bar, ends at a
section line (``:|``, ``||``, ``|]``) or follows one. Longer-than-meter bars are never exempt.
``strict`` shares count every bar.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from preprocessing.melody.abc_text import check_abc_note_lengths
from preprocessing.melody.music21_reader import abc_token_quarters

logger = logging.getLogger(__name__)

_TOLERANCE = 1e-6


@dataclass(frozen=True)
class TuneQuality:
    """One tune's verdict; ``error`` says why it did not parse ("" when it did)."""

    parsed: bool
    error: str = ""
    has_meter: bool = False  # bars are counted only under a declared meter
    bars: int = 0
    full_bars: int = 0
    exempt_bars: int = 0


@dataclass(frozen=True)
class QualitySummary:
    """Shares over many tunes; bar shares only over tunes that parsed and declare a meter."""

    tunes: int
    parsed: int
    bars: int
    full_bars: int
    exempt_bars: int

    @property
    def parse_share(self) -> float:
        return self.parsed / self.tunes if self.tunes else 0.0

    @property
    def full_bar_share(self) -> float:
        """Full bars over the bars not exempt (the pickup/section rule of the module docstring)."""
        counted = self.bars - self.exempt_bars
        return self.full_bars / counted if counted else 0.0

    @property
    def strict_full_bar_share(self) -> float:
        return self.full_bars / self.bars if self.bars else 0.0

    def to_json(self) -> dict:
        return {
            "tunes": self.tunes, "parsed": self.parsed, "parse_share": round(self.parse_share, 4),
            "bars": self.bars, "full_bars": self.full_bars, "exempt_bars": self.exempt_bars,
            "full_bar_share": round(self.full_bar_share, 4),
            "strict_full_bar_share": round(self.strict_full_bar_share, 4),
        }


def score_tune(text: str) -> TuneQuality:
    """Parses one ABC tune with music21 and counts its full, short and exempt bars.

    The bars are read from the tune's own bar lines (music21's ABC tokens), not from the parsed
    Score, which re-bars an overfull bar into a full one and a remainder.
    """
    from music21 import abcFormat, converter, stream  # pylint: disable=import-outside-toplevel

    try:
        check_abc_note_lengths(text)
        score = converter.parse(text, format="abc")
        parts = list(score.parts) if isinstance(score, stream.Score) else [score]
        if not parts or not any(part.recurse().notes for part in parts):
            return TuneQuality(False, "no notes")
        bars = _bars(abcFormat.ABCFile().readstr(text).tokens)
    except Exception as error:  # noqa: BLE001 (music21 raises many kinds on bad ABC)
        return TuneQuality(False, f"{type(error).__name__}: {error}")
    if not bars:
        return TuneQuality(True)
    full = exempt = 0
    for index, bar in enumerate(bars):
        if abs(bar.length - bar.expected) <= _TOLERANCE:
            full += 1
        elif bar.length < bar.expected and (index in (0, len(bars) - 1) or bar.at_section_line):
            exempt += 1
    return TuneQuality(True, has_meter=True, bars=len(bars), full_bars=full, exempt_bars=exempt)


@dataclass(frozen=True)
class _Bar:
    length: float  # quarter notes
    expected: float  # the meter's bar, quarter notes
    at_section_line: bool  # a section line (anything but a plain "|") on either side


def _bars(tokens: list) -> list[_Bar]:
    """The bars of a tokenised tune that has a meter; empty when it declares none."""
    from music21 import abcFormat  # pylint: disable=import-outside-toplevel

    bars: list[_Bar] = []
    expected, length, section_before = 0.0, 0.0, False
    for token in tokens:
        if isinstance(token, abcFormat.ABCMetadata) and token.isMeter():
            signature = token.getTimeSignatureObject()
            expected = float(signature.barDuration.quarterLength) if signature is not None else 0.0
        elif isinstance(token, abcFormat.ABCNote) and not token.inGrace:
            length += abc_token_quarters(token)
        elif isinstance(token, abcFormat.ABCBar):
            section_line = token.src.strip() != "|"
            if length > _TOLERANCE and expected > 0:
                bars.append(_Bar(length, expected, section_before or section_line))
                section_before = section_line
            else:  # bar lines with nothing between them ("|" then "[1") act as one
                section_before = section_before or section_line
            length = 0.0
    if length > _TOLERANCE and expected > 0:
        bars.append(_Bar(length, expected, section_before))
    return bars


def summarise(qualities: Iterable[TuneQuality]) -> QualitySummary:
    """Adds up per-tune verdicts."""
    qualities = list(qualities)
    return QualitySummary(
        tunes=len(qualities),
        parsed=sum(quality.parsed for quality in qualities),
        bars=sum(quality.bars for quality in qualities),
        full_bars=sum(quality.full_bars for quality in qualities),
        exempt_bars=sum(quality.exempt_bars for quality in qualities),
    )

"""The output settings every generation shares: the file formats and the tempo, checked once."""
from __future__ import annotations

from collections.abc import Sequence

from serving.music import render


def check_output(formats: Sequence[str], tempo_bpm: float) -> None:
    """ValueError naming an unknown format (or none given) or a tempo that is not > 0."""
    unknown = [name for name in formats if name not in render.FORMATS]
    if unknown or not formats:
        raise ValueError(f"unknown format {(unknown or [''])[0]!r}; expected some of {', '.join(render.FORMATS)}")
    if tempo_bpm <= 0:
        raise ValueError(f"tempo must be > 0, got {tempo_bpm!r}")

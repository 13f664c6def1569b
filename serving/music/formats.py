"""The output formats and the default tempo: names the CLI's flags need without loading the renderers."""
from __future__ import annotations

FORMATS = ("mid", "musicxml", "abc", "svg", "wav", "png")
# What is written when no format is named: everything but the piano roll (PNG).
DEFAULT_FORMATS = FORMATS[:-1]
DEFAULT_TEMPO_BPM = 120.0

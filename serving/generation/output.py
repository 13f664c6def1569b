"""The output settings every generation shares: the file formats, the tempo and the folder, checked
before anything is sampled (so no sampled melody is lost to a folder that cannot be written)."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence

from serving.music import render


def check_output(formats: Sequence[str], tempo_bpm: float) -> None:
    """ValueError naming an unknown format (or none given) or a tempo that is not > 0."""
    unknown = [name for name in formats if name not in render.FORMATS]
    if unknown or not formats:
        raise ValueError(f"unknown format {(unknown or [''])[0]!r}; expected some of {', '.join(render.FORMATS)}")
    if tempo_bpm <= 0:
        raise ValueError(f"tempo must be > 0, got {tempo_bpm!r}")


def prepare_out_dir(out_dir: str) -> None:
    """Creates ``out_dir`` and checks a file can be written there; ValueError naming it otherwise."""
    try:
        os.makedirs(out_dir, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".folkgen-probe-"):
            pass
    except OSError as error:
        raise ValueError(f"cannot write to the output folder {out_dir!r}: {error.strerror or error}") from None

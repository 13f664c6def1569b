"""What the page shows of a tune: its ABC (engraved by abcjs), seed, novelty line, bars and download links."""
from __future__ import annotations

from serving.page.studio import Tune


def tune_json(tune: Tune) -> dict:
    """The tune as the page's JSON: ``abc`` (the downloadable ABC file's text), ``files`` (format -> URL, those
    written so far; ``files_pending`` while the others are being written);
    ``seed`` the one Generate took (a varied tune's too: Vary on the same bars makes it again).
    The ABC text and the bar count are the tune's own, read once (``Tune.abc``, ``Tune.bars``)."""
    melody = tune.result.melody
    assert melody is not None  # the studio keeps rendered tunes only
    return {
        "id": tune.id, "model": tune.model, "seed": tune.config.seed, "candidate_seed": tune.result.seed,
        "abc": tune.abc, "title": melody.title,
        "key": melody.key.name, "meter": str(melody.meter), "novelty": tune.result.novelty,
        "notes": melody.notes, "bars": tune.bars, "tempo": tune.config.tempo_bpm,
        "files": {fmt: f"/api/tunes/{tune.id}/{fmt}" for fmt in list(tune.files)},
        "files_pending": tune.files_pending, "files_error": "; ".join(tune.files_error),
        "parent": tune.parent, "varied": list(tune.varied), "log_p": tune.log_p,
    }

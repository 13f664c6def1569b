"""What the page shows of a tune: its ABC (engraved by abcjs), seed, novelty line, bars and download links."""
from __future__ import annotations

from serving.generation.vary import bar_spans
from serving.page.studio import Tune


def bar_count(tune: Tune) -> int:
    """The score's bars as Vary numbers them (``vary.bar_spans``: a pickup is bar 0, an ending a bar)."""
    return len(bar_spans(tune.result))


def tune_json(tune: Tune) -> dict:
    """The tune as the page's JSON: ``abc`` (the downloadable ABC file's text), ``files`` (format -> URL, those
    written so far; ``files_pending`` while the others are being written);
    ``seed`` the one Generate took (a varied tune's too: Vary on the same bars makes it again)."""
    melody = tune.result.melody
    assert melody is not None  # the studio keeps rendered tunes only
    with open(tune.result.paths["abc"], encoding="utf-8") as handle:
        abc = handle.read()
    return {
        "id": tune.id, "model": tune.model, "seed": tune.config.seed, "candidate_seed": tune.result.seed, "abc": abc, "title": melody.title,
        "key": melody.key.name, "meter": str(melody.meter), "novelty": tune.result.novelty,
        "notes": melody.notes, "bars": bar_count(tune), "tempo": tune.config.tempo_bpm,
        "files": {fmt: f"/api/tunes/{tune.id}/{fmt}" for fmt in list(tune.files)},
        "files_pending": tune.files_pending, "files_error": "; ".join(tune.files_error),
        "parent": tune.parent, "varied": list(tune.varied), "log_p": tune.log_p,
    }

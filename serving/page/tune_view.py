"""What the page shows of a tune: its ABC (engraved by abcjs), seed, novelty line, bars and download links."""
from __future__ import annotations

from serving.music.abc_score import read_abc_score
from serving.music.notation import layout_bars
from serving.page.studio import Tune


def bar_count(tune: Tune) -> int:
    """The score's bars: a timestep tune's laid out by its meter, a character model's as its ABC bars them."""
    melody = tune.result.melody
    assert melody is not None
    if melody.abc_text is None:
        return len(layout_bars(list(melody.events), melody.key, melody.meter))
    return len(read_abc_score(melody.abc_text).parts[0].getElementsByClass("Measure"))


def tune_json(tune: Tune) -> dict:
    """The tune as the page's JSON: ``abc`` (the downloadable ABC file's text), ``files`` (format -> URL)."""
    melody = tune.result.melody
    assert melody is not None  # the studio keeps rendered tunes only
    with open(tune.result.paths["abc"], encoding="utf-8") as handle:
        abc = handle.read()
    return {
        "id": tune.id, "model": tune.model, "seed": tune.result.seed, "abc": abc, "title": melody.title,
        "key": melody.key.name, "meter": str(melody.meter), "novelty": tune.result.novelty,
        "notes": melody.notes, "bars": bar_count(tune), "tempo": tune.config.tempo_bpm,
        "files": {fmt: f"/api/tunes/{tune.id}/{fmt}" for fmt in tune.result.paths if fmt != "tokens"},
        "parent": tune.parent, "varied": list(tune.varied), "log_p": tune.log_p,
    }

"""Scores an exported character-level ABC model: generated tunes and loss per character.

Samples ``draw.tunes`` tunes through the SavedModel's ``generate`` signature (in process, the
same graph TF Serving runs), cuts each at the end of its first tune, and reports the share that
music21 parses and the share of full bars (``trainer.token_models.abc_quality``); the same bar
shares of the split's real tunes are given beside them as the reference. With a data folder it
also scores the split tune by tune through ``step`` from the zero state: nats per character, each
tune's closing newline included (the training stream's targets); and it compares the generated
tunes with the training split's (whole tunes and music lines reproduced verbatim).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from preprocessing.melody.abc_text import first_abc_tune
from serving.contract import signatures as sig
from serving.contract.bar_rules import rule_inputs
from serving.contract.sampling import SamplingSettings
from serving.contract.versions import latest_version_dir
from trainer.files import write_text
from trainer.token_models import abc_quality, data
from trainer.token_models.scoring import StepScorer, require_kind

logger = logging.getLogger(__name__)

DEFAULT_PRIMER = "X:1\n"


@dataclass(frozen=True)
class TuneDraw:
    """How many tunes to draw and how: ``settings`` per token (the client's sampler settings),
    at most ``steps`` characters per tune, seeds ``seed, seed + 1, ...``, ``batch_size`` tunes
    per ``generate`` call."""

    tunes: int = 200
    steps: int = 1500
    settings: SamplingSettings = SamplingSettings()
    seed: int = 0
    batch_size: int = 100

    def __post_init__(self) -> None:
        for name in ("tunes", "steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")

    def to_json(self) -> dict:
        return {"tunes": self.tunes, "steps": self.steps, "seed": self.seed, **dataclasses.asdict(self.settings)}


def encode_primer(primer: str, symbols: Sequence[str]) -> list[int]:
    """Primer text -> character ids; ValueError naming every character outside the vocabulary."""
    if not primer:
        raise ValueError("the primer is empty; give at least one character, e.g. 'X:1\\n'")
    index = {symbol: position for position, symbol in enumerate(symbols)}
    unknown = sorted({char for char in primer if char not in index})
    if unknown:
        raise ValueError(f"primer characters {unknown} are not in the model's vocabulary")
    return [index[char] for char in primer]


def generate_tunes(model_dir: str | os.PathLike, primer: str, draw: TuneDraw) -> list[tuple[str, bool]]:
    """``draw.tunes`` generations as (first tune's text, whether it ended within the steps)."""
    loaded = tf.saved_model.load(os.fspath(model_dir))
    generate = loaded.signatures[sig.GENERATE]
    symbols = [symbol.decode("utf-8") for symbol in loaded.signatures[sig.VOCABULARY]()[sig.SYMBOLS].numpy()]
    require_kind(loaded, model_dir, sig.TOKEN_CHARACTERS, "trainer.abc_eval samples character-level ABC models")
    primer_ids = encode_primer(primer, symbols)
    tunes = []
    settings = draw.settings
    for start in range(0, draw.tunes, draw.batch_size):
        rows = min(draw.batch_size, draw.tunes - start)
        out = generate(**{
            sig.PRIMER: tf.constant([primer_ids] * rows, tf.int32),
            sig.PRIMER_LENGTH: tf.fill([rows], len(primer_ids)),
            sig.STEPS: tf.fill([rows], draw.steps),
            sig.TEMPERATURE: tf.fill([rows], np.float32(settings.temperature)),
            sig.TOP_K: tf.fill([rows], settings.top_k),
            sig.TOP_P: tf.fill([rows], np.float32(settings.top_p)),
            sig.SEED: tf.range(draw.seed + start, draw.seed + start + rows, dtype=tf.int32),
            **{name: tf.constant(value) for name, value in rule_inputs([None] * rows, len(symbols)).items()},
        })
        for row in out[sig.TOKENS].numpy():
            text = primer + "".join(symbols[token] for token in row if token >= 0)
            tunes.append(first_abc_tune(text))
        logger.info("generated %d / %d tunes", len(tunes), draw.tunes)
    return tunes


def loss_per_character(model_dir: str | os.PathLike, data_dir: str, split: str, batch_size: int = 128) -> dict:
    """Nats per character of ``split``'s tunes (closing newline included), tune by tune from zero state."""
    scorer = StepScorer(model_dir)
    vocabulary = data.Vocabulary(scorer.symbols, (0,) * len(scorer.symbols), "abc")
    songs, dropped = data.load_song_arrays(data_dir, split, vocabulary)
    if not songs:
        raise ValueError(f"split {split!r} of {data_dir!r} has no ABC tunes the model's vocabulary can encode")
    framed = [np.append(song, vocabulary.delimiter_id).astype(np.int32) for song in songs]
    total_nats, characters = 0.0, 0
    for start in range(0, len(framed), batch_size):
        chunk = framed[start : start + batch_size]
        for song, probs in zip(chunk, scorer.song_probs(chunk, vocabulary.delimiter_id)):
            total_nats -= float(np.log(np.maximum(probs[np.arange(len(song)), song], 1e-300)).sum())
            characters += len(song)
    return {"split": split, "tunes": len(songs), "tunes_dropped_unknown_characters": dropped,
            "characters": characters, "nats_per_character": total_nats / characters,
            "bits_per_character": total_nats / characters / math.log(2)}


def split_texts(data_dir: str, split: str) -> list[str]:
    """The normalised ABC text of every tune of ``split``."""
    songs = data.song_symbols(data_dir, split, feature="abc").as_numpy_iterator()
    return [b"".join(chars).decode("utf-8") for chars in songs]


def novelty(generated: Sequence[str], training: Sequence[str], min_line_length: int = 10) -> dict:
    """How much of the generated text is new: distinct tunes, whole training tunes reproduced, and
    the share of music lines (``min_line_length`` characters or more) found verbatim in training."""
    training_lines = {line for text in training for line in text.splitlines()}
    lines = [line for text in generated for line in text.splitlines()
             if len(line) >= min_line_length and not line[:2].rstrip().endswith(":")]
    return {
        "distinct_tunes": len(set(generated)),
        "training_tunes_reproduced": len(set(generated) & set(training)),
        "music_lines": len(lines),
        "music_lines_copied_share": round(sum(line in training_lines for line in lines) / len(lines), 4) if lines else 0.0,
    }


def evaluate(model_path: str, primer: str, draw: TuneDraw, data_dir: str | None = None,
             split: str = "validation", samples_path: str | None = None) -> dict:
    """The whole report as a JSON-ready dict; writes the generated tunes to ``samples_path`` if given."""
    model_dir = latest_version_dir(model_path)
    tunes = generate_tunes(model_dir, primer, draw)
    qualities = [abc_quality.score_tune(text) for text, _ in tunes]
    errors = [quality.error for quality in qualities if not quality.parsed]
    report = {
        "model": model_dir,
        "primer": primer,
        "sampling": draw.to_json(),
        "generated": abc_quality.summarise(qualities).to_json(),
        "unfinished_tunes": sum(not ended for _, ended in tunes),
        "parse_errors": errors[:10],
    }
    if data_dir is not None:
        report["loss"] = loss_per_character(model_dir, data_dir, split)
        real = [abc_quality.score_tune(text) for text in split_texts(data_dir, split)]
        report["real_tunes"] = {"split": split, **abc_quality.summarise(real).to_json()}
        report["novelty"] = novelty([text for text, _ in tunes], split_texts(data_dir, "train"))
    if samples_path:
        write_text(samples_path, "\n".join(_numbered(text, number) for number, (text, _) in enumerate(tunes, start=1)))
    return report


def _numbered(text: str, number: int) -> str:
    """One tune for a multi-tune ABC file: its ``X:`` line set to ``number``, ending in a newline."""
    first, newline, rest = text.partition("\n")
    tune = f"X:{number}{newline}{rest}" if first.startswith("X:") else f"X:{number}\n{text}"
    return tune if tune.endswith("\n") else tune + "\n"

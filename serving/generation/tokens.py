"""Generate melodies from a served model and write them: primer -> tokens -> Melody -> files.

The library side of ``folkgen generate`` and of the demo.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from preprocessing.melody.abc_text import first_abc_tune
from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, Key, Meter
from serving.client import ModelClient, sample_melodies
from serving.contract.sampling import SamplingSettings
from serving.generation import primers
from serving.generation.primers import PrimerSource
from serving.music import render

logger = logging.getLogger(__name__)

SAMPLING_MODES = ("client", "server")


# Tokens sampled per melody when the config names none: 16 bars of 4/4 for a timestep model;
# for a character model, room for a whole tune (the Irish corpus's average about 260 characters).
DEFAULT_STEPS = 256
DEFAULT_CHARACTER_STEPS = 800


@dataclass(frozen=True)
class GenerationConfig:
    """What to generate: ``num`` melodies of ``steps`` tokens (None: the model kind's default) from
    one primer, seeds ``seed .. seed + num - 1``, written in ``formats`` under ``out_dir``."""

    primer: PrimerSource
    steps: int | None = None
    num: int = 1
    settings: SamplingSettings = SamplingSettings()
    seed: int = 0
    key: Key | None = None
    meter: Meter | None = None
    formats: tuple[str, ...] = render.FORMATS
    out_dir: str = "out"
    sampling: str = "client"
    tempo_bpm: float = render.DEFAULT_TEMPO_BPM

    def __post_init__(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps!r}")
        if self.num < 1:
            raise ValueError(f"num must be >= 1, got {self.num!r}")
        if self.sampling not in SAMPLING_MODES:
            raise ValueError(f"unknown sampling {self.sampling!r}; expected one of {SAMPLING_MODES}")
        if not -2**31 <= self.seed <= 2**31 - self.num:
            raise ValueError(f"seed must fit in int32, got {self.seed!r}")
        unknown = [name for name in self.formats if name not in render.FORMATS]
        if unknown:
            raise ValueError(f"unknown format {unknown[0]!r}; expected some of {', '.join(render.FORMATS)}")
        if self.tempo_bpm <= 0:
            raise ValueError(f"tempo must be > 0, got {self.tempo_bpm!r}")


@dataclass(frozen=True)
class GeneratedMelody:
    """One written melody: its seed, tokens (primer + sampled), files, or why it could not be rendered."""

    seed: int
    tokens: tuple[str, ...]
    primer_length: int
    paths: dict[str, str]
    melody: render.Melody | None
    error: str = ""


def generate(client: ModelClient, config: GenerationConfig, name: str,
             on_step: Callable[[int, int], None] | None = None) -> list[GeneratedMelody]:
    """Samples ``config.num`` melodies from ``client``'s model and writes them as ``name_seedN.*``."""
    vocabulary = client.symbols
    characters = primers.is_character_vocabulary(vocabulary)
    primer = primers.primer_symbols(config.primer, vocabulary)
    primer_ids = primers.encode(primer, vocabulary)
    seeds = [config.seed + offset for offset in range(config.num)]
    steps = config.steps or (DEFAULT_CHARACTER_STEPS if characters else DEFAULT_STEPS)
    if config.sampling == "client":
        sampled = sample_melodies(client, [primer_ids] * config.num, steps, config.settings, seeds, on_step)
    else:
        sampled = _sample_on_server(client, primer_ids, steps, config.settings, seeds)
        if on_step is not None:
            on_step(1, 1)
    results = []
    for seed, ids in zip(seeds, sampled):
        tokens = primer + [vocabulary[index] for index in ids]
        results.append(_write(tokens, len(primer), seed, config, f"{name}_seed{seed}", characters))
    return results


def _sample_on_server(client: ModelClient, primer_ids: list[int], steps: int, settings: SamplingSettings,
                      seeds: Sequence[int]) -> list[list[int]]:
    rows = len(seeds)
    tokens = client.generate(
        primer=np.tile(np.asarray(primer_ids, np.int32), (rows, 1)),
        primer_length=np.full(rows, len(primer_ids)), steps=np.full(rows, steps),
        temperature=np.full(rows, settings.temperature), top_k=np.full(rows, settings.top_k),
        top_p=np.full(rows, settings.top_p), seed=np.asarray(seeds))
    return [[int(token) for token in row if token >= 0] for row in tokens]


def _write(tokens: list[str], primer_length: int, seed: int, config: GenerationConfig, stem: str,
           characters: bool) -> GeneratedMelody:
    """Renders one melody; a melody that cannot be rendered keeps its tokens (as text) and the error."""
    try:
        if characters:
            primer_text = "".join(tokens[:primer_length])
            text, _ = first_abc_tune(primer_text + "".join(tokens[primer_length:]), search_from=len(primer_text))
            melody = render.melody_from_abc(text, config.key, config.meter, title=stem)
        else:
            melody = render.melody_from_timesteps(tokens, primer_length, config.key or C_MAJOR,
                                                  config.meter or COMMON_TIME, title=stem)
        paths = render.write_formats(melody, config.formats, config.out_dir, stem, config.tempo_bpm)
        return GeneratedMelody(seed, tuple(tokens), primer_length, paths, melody)
    except ValueError as error:
        path = _save_tokens(tokens, characters, config.out_dir, stem)
        logger.warning("melody %s not rendered (%s); its tokens are in %s", stem, error, path)
        return GeneratedMelody(seed, tuple(tokens), primer_length, {"tokens": path}, None, str(error))


def _save_tokens(tokens: list[str], characters: bool, out_dir: str, stem: str) -> str:
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{stem}.tokens.txt")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("".join(tokens) if characters else " ".join(tokens))
    return path

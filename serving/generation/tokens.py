"""Generate melodies from a served token model and write them: primer -> tokens -> Melody -> files.

The library side of ``folkgen generate`` and of the demo: ``generate`` reads the model's stated
kind once, takes that kind's codec (``serving.generation.codecs``), samples on the client
(``sample_melodies``, the loop of ``serving/README.md`` over ``step``) or on the server
(``generate``), and writes the files.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, Key, Meter
from preprocessing.melody.novelty import SharedRun, TrainingIndex
from preprocessing.melody.timestep import DELIMITER
from serving.client import ModelClient
from serving.contract import bar_rules
from serving.contract import signatures as sig
from serving.contract.sampling import SamplingSettings, choose, uniform
from serving.generation.abc_start import AbcStart, abc_start
from serving.generation.codecs import TokenCodec, model_codec
from serving.generation.constrained_rows import ABC_CHARACTERS_PER_BAR, AbcRows, RowRules, TimestepRows, abc_rows
from serving.generation.output import check_output, prepare_out_dir
from serving.generation.primers import PrimerSource, encode
from serving.generation.repeated_bars import RepeatedBars
from serving.generation.request_defaults import DEFAULT_CONDITIONED_PRIMER
from serving.generation.timestep_constraints import steps_per_bar
from serving.generation.timestep_plan import TimestepPlan, plan_rows, timestep_rules
from serving.generation.token_model import TokenModel
from serving.generation.tune_frame import CountedSteps, TuneFrame, tune_frame, usual_meter
from serving.generation.tune_request import TuneRequest
from serving.music import render

logger = logging.getLogger(__name__)

SAMPLING_MODES = ("client", "server")


@dataclass(frozen=True)
class GenerationConfig:
    """What to generate: ``num`` melodies of ``steps`` tokens (None: the model kind's default) from
    one primer (None: the model kind's default), seeds ``seed .. seed + num - 1``, written in
    ``formats`` under ``out_dir``."""

    primer: PrimerSource | None = None
    steps: int | None = None
    num: int = 1
    settings: SamplingSettings = SamplingSettings()
    seed: int = 0
    key: Key | None = None
    meter: Meter | None = None
    formats: tuple[str, ...] = render.DEFAULT_FORMATS
    out_dir: str = "out"
    sampling: str = "client"
    tempo_bpm: float = render.DEFAULT_TEMPO_BPM
    constraints: TuneRequest | None = None

    def __post_init__(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps!r}")
        if self.num < 1:
            raise ValueError(f"num must be >= 1, got {self.num!r}")
        if self.sampling not in SAMPLING_MODES:
            raise ValueError(f"unknown sampling {self.sampling!r}; expected one of {SAMPLING_MODES}")
        if not -2**31 <= self.seed <= 2**31 - self.num:
            raise ValueError(f"seed must fit in int32, got {self.seed!r}")
        check_output(self.formats, self.tempo_bpm)


@dataclass(frozen=True)
class GeneratedMelody:
    """One written melody: its seed, tokens (primer + sampled), files, or why it could not be rendered;
    ``shared``: its longest run of new notes found in a training tune (None: the export ships no index)."""

    seed: int
    tokens: tuple[str, ...]
    primer_length: int
    paths: dict[str, str]
    melody: render.Melody | None
    error: str = ""
    shared: SharedRun | None = None
    frame: TuneFrame | None = None  # a meter-aware model's: the tune frame it was sampled in

    @property
    def novelty(self) -> str:
        """One short line: the longest run shared with a training tune, or why there is none."""
        return "n/a (the export ships no training index)" if self.shared is None else self.shared.short()


def generate(client: ModelClient, config: GenerationConfig, name: str,
             on_step: Callable[[int, int], None] | None = None) -> list[GeneratedMelody]:
    """Samples ``config.num`` melodies from ``client``'s model and writes them as ``name_seedN.*``.

    ``on_step(done, total)`` reports progress. MissingModelKindError when the export states no kind.
    """
    model = TokenModel(client)
    codec = model_codec(model)
    vocabulary = model.symbols
    request = _request(config)
    key, meter = (request.key, request.meter) if request is not None else (config.key, config.meter)
    abc_rules, pickup = None, 0
    if codec.kind == sig.TOKEN_CHARACTERS:
        if request is not None:
            abc_rules, start = _abc_request(request, config, codec, vocabulary)
            primer, request, key, meter = list(start.text), start.request, start.request.key, start.request.meter
        else:
            primer = codec.primer_symbols(config.primer)
    else:
        default = PrimerSource(symbols=DEFAULT_CONDITIONED_PRIMER) if model.conditioning else None
        stated = codec.primer(config.primer or default)
        meter = meter or stated.meter or usual_meter(model.tune_frames)
        primer, key, pickup = stated.symbols, key or stated.key, stated.pickup
        request = request.filled(key, meter) if request is not None else None
        if pickup >= steps_per_bar(meter or COMMON_TIME):
            raise ValueError(f"the primer's upbeat of {pickup} 16ths does not fit in a bar of {meter or COMMON_TIME}")
    primer_ids = encode(primer, vocabulary)
    seeds = [config.seed + offset for offset in range(config.num)]
    if request is not None and request.form is not None and abc_rules is None:
        raise ValueError(f"--form applies to ABC models; {name!r} is a {codec.kind} model")
    if abc_rules is None and (request is not None or model.conditioning):
        if request is not None and pickup and config.sampling == "server":
            raise ValueError(f"the primer has a {pickup}-step upbeat, and the {sig.GENERATE!r} signature of {name!r} "
                             "counts bars from the tune's first step (it takes no pickup): use --sampling client")
        plan = plan_rows(model, request, key, meter, primer_ids, pickup, seeds, config.steps, codec.default_steps,
                         draw_pickup=config.sampling == "client")
    else:
        steps = config.steps or codec.default_steps
        if abc_rules is not None and config.steps is None and request.bars is not None:
            steps = max(steps, ABC_CHARACTERS_PER_BAR * request.bars)
        plan = TimestepPlan(None, None, steps)
    prepare_out_dir(config.out_dir)  # after every refusal, before anything is sampled
    if config.sampling == "client":
        rules = abc_rules or (_timestep_rows(plan, [primer_ids] * config.num, vocabulary)
                              if plan.constraints else None)
        sampled = sample_melodies(model, [primer_ids] * config.num, plan.steps, config.settings, seeds, on_step, rules,
                                  plan.frames)
        if isinstance(rules, RepeatedBars):
            logger.info("bar repeats: %d of %d steps in repeated bars repeat their bar", rules.followed, rules.asked)
        if rules is not None:
            for row, seed in enumerate(seeds):
                if not rules.ended(row):
                    logger.warning("tune with seed %d did not finish within %d steps: raise --steps", seed, plan.steps)
    else:
        sampled = _sample_on_server(model, primer_ids, config.settings, seeds, plan)
        if on_step is not None:
            on_step(1, 1)
    frames = plan.frames or [None] * config.num
    return [write_melody(primer + [vocabulary[index] for index in ids], len(primer), seed, config, name, codec, key,
                         meter, model.training_index, frame.pickup if frame else pickup, frame)
            for seed, ids, frame in zip(seeds, sampled, frames)]


def _timestep_rows(plan: TimestepPlan, primers: list[list[int]], vocabulary: Sequence[str]) -> RowRules:
    """The plan's bar rules per row, following the rows' bar repeats where their frames have any."""
    rows = TimestepRows(plan.constraints, primers, plan.steps)
    return RepeatedBars(rows, plan.frames, primers, vocabulary.index(DELIMITER)) if plan.has_forms else rows


def _request(config: GenerationConfig) -> TuneRequest | None:
    """The constraints with the config's key and meter (ValueError when the two name different ones)."""
    request = config.constraints
    if request is None:
        return None
    for field in ("key", "meter"):
        ours, theirs = getattr(config, field), getattr(request, field)
        if ours is not None and theirs is not None and ours != theirs:
            raise ValueError(f"the {field} to write in ({ours}) differs from the constraints' {field} ({theirs})")
    return request.filled(config.key, config.meter)


def _abc_request(request: TuneRequest, config: GenerationConfig, codec: TokenCodec,
                 vocabulary: Sequence[str]) -> tuple[AbcRows, AbcStart]:
    """The ABC state machine's rows, fed the primer's body, and where the tune starts (the header
    the primer and the request state, then the body; client-side only)."""
    if config.sampling != "client":
        raise ValueError("the ABC state machine runs on the client over step: use --sampling client "
                         "(or --free to sample on the server without constraints)")
    text = "".join(codec.primer_symbols(config.primer, request.key or C_MAJOR, request.meter or COMMON_TIME))
    start = abc_start(request, text)
    return abc_rows(start, vocabulary, config.num), start


def sample_melodies(model: TokenModel, primers: Sequence[Sequence[int]], steps: int,
                    settings: SamplingSettings, seeds: Sequence[int],
                    on_step: Callable[[int, int], None] | None = None,
                    rules: RowRules | None = None,
                    frames: TuneFrame | Sequence[TuneFrame] | None = None) -> list[list[int]]:
    """Client-side sampling over `step`: every melody's rows go in one `step` call per time step.

    Each row feeds its primer from the zero state, then samples up to `steps` tokens with
    ``uniform(seed, i)`` (without constraints, the same tokens as `generate` for the same seed).
    With ``rules`` each draw is renormalised over the tokens they allow, and a row stops when its
    tune is complete (a timestep row's end symbol is kept as its last token). ``on_step(done, total)`` reports progress.
    A meter-aware model is told each predicted step's place in its row's tune frame (``frames``: one
    for every row or one per row; None: 4/4, major, no length), counted from each row's last end symbol. Returns the sampled tokens per melody
    (primer excluded).
    """
    if len(primers) != len(seeds):
        raise ValueError(f"{len(primers)} primers but {len(seeds)} seeds")
    if any(len(primer) < 1 for primer in primers):
        raise ValueError("every primer needs at least one token")
    rows = len(primers)
    lengths = [len(primer) for primer in primers]
    logits = np.zeros((rows, len(model.symbols)), np.float32)
    state = np.zeros((rows, model.state_size), np.float32)
    sampled: list[list[int]] = [[] for _ in range(rows)]
    total = max(lengths) + steps
    step = CountedSteps(model, frames or tune_frame(None, None, None), rows)
    for t in range(total):
        fed = np.zeros(rows, np.int32)
        for row in range(rows):
            index = t - lengths[row]
            if index < 0:
                fed[row] = primers[row][t]
            elif index < steps and not (rules and rules.ended(row)):
                fed[row] = choose(logits[row], settings.temperature, settings.top_k, settings.top_p,
                                  uniform(seeds[row], index), rules.allowed(row) if rules else None)
                sampled[row].append(int(fed[row]))
                if rules:
                    rules.advance(row, int(fed[row]))
        # A row needs the model while it still has a token to sample after this one.
        active = np.array([t - lengths[row] < steps - 1 and not (rules and rules.ended(row)) for row in range(rows)])
        if active.any():
            logits[active], state[active] = step(np.flatnonzero(active), fed[active], state[active])
        if on_step is not None:
            on_step(t + 1, total)
        if rules and all(rules.ended(row) for row in range(rows)):
            break
    return sampled


def _sample_on_server(model: TokenModel, primer_ids: list[int], settings: SamplingSettings, seeds: Sequence[int],
                      plan: TimestepPlan) -> list[list[int]]:
    """Server-side sampling over `generate`: one request, one row per seed, each with its row's
    rules and (for a meter-aware model) its tune frame."""
    rows, steps = len(seeds), plan.steps
    if plan.has_forms:
        logger.info("the drawn tunes' bar repeats are followed on the client only (--sampling client)")
    rules = None
    if plan.constraints is not None:
        rules = bar_rules.rule_inputs([timestep_rules(row, primer_ids, steps) for row in plan.constraints],
                                      len(model.symbols))
    frame = None
    if model.conditioning:
        frames = plan.frames or [tune_frame(None, None, None)] * rows
        inputs = [row.generate_inputs(1) for row in frames]
        frame = {name: np.concatenate([row[name] for row in inputs]) for name in inputs[0]}
    tokens = model.generate(
        primer=np.tile(np.asarray(primer_ids, np.int32), (rows, 1)),
        primer_length=np.full(rows, len(primer_ids)), steps=np.full(rows, steps),
        temperature=np.full(rows, settings.temperature), top_k=np.full(rows, settings.top_k),
        top_p=np.full(rows, settings.top_p), seed=np.asarray(seeds), rules=rules, frame=frame)
    return [[int(token) for token in row if token >= 0] for row in tokens]


def write_melody(tokens: list[str], primer_length: int, seed: int, config: GenerationConfig, name: str,
                 codec: TokenCodec, key: Key | None, meter: Meter | None,
                 index: TrainingIndex | None, pickup: int = 0, frame: TuneFrame | None = None) -> GeneratedMelody:
    """Renders one melody in ``key`` and ``meter`` (None: the codec's default), its first bar the
    primer's ``pickup`` (16th steps; a timestep tune's), as ``name_seedN.*``,
    its scores credited to the model and seed and, with the training ``index``, stating its novelty,
    keeping its tune ``frame``; a melody that cannot be rendered keeps its tokens (as text) and the error."""
    stem = f"{name}_seed{seed}"
    shared = index.longest_shared_run(codec.new_note_keys(tokens, primer_length)) if index is not None else None
    try:
        melody = replace(codec.melody(tokens, primer_length, key, meter, title=stem),
                         creator=f"Folkgen model {name}, seed {seed}", novelty=shared.describe() if shared else "")
        melody = replace(melody, pickup=render.steps_to_quarters(pickup)) if pickup else melody
        paths = render.write_formats(melody, config.formats, config.out_dir, stem, config.tempo_bpm)
        return GeneratedMelody(seed, tuple(tokens), primer_length, paths, melody, shared=shared, frame=frame)
    except ValueError as error:
        path = _save_tokens(codec.tokens_text(tokens), config.out_dir, stem)
        logger.warning("melody %s not rendered (%s); its tokens are in %s", stem, error, path)
        return GeneratedMelody(seed, tuple(tokens), primer_length, {"tokens": path}, None, str(error), shared, frame)


def _save_tokens(text: str, out_dir: str, stem: str) -> str:
    """Writes ``OUT/<stem>.tokens.txt``; returns its path."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{stem}.tokens.txt")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path

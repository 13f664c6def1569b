"""Vary (issue 14): regenerate chosen bars of a generated tune, keep every other token, and pick the
new bars among sampled candidates by the model's likelihood of the whole tune.

Bars are numbered from 0 in the order the engraved score shows them: a pickup, when the tune has
one, is bar 0; an ABC tune's first and second endings are a bar each; a timestep tune's bars are
cut by its meter after its primer's pickup (``bar_spans``: each bar's token range, to map a clicked measure).

``vary`` samples ``candidates`` tunes in one batch over `step`: the tokens before the first varied
bar are fed once, then each candidate draws the varied bars' tokens (all the varied bars of one
call in one left-to-right pass, a later bar conditioned on the earlier new ones) under the tune's
constraints and the bar goals of ``serving.generation.bar_goals`` (steered off the original's
tokens where another bar is possible: a varied bar differs unless the constraints force it), and
is fed every kept token verbatim. That pass is the candidate's teacher-forced score: the log p (nats,
temperature 1, no mask) of every token after the tune's first. Every candidate is replayed through the
constraint machine before the most likely is written like ``generate`` writes a tune; a meter-aware
model is told each step's place in the tune (``tune_frame.CountedSteps``).
"""
from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from serving.client import ModelClient
from serving.contract import signatures as sig
from serving.contract.bar_rules import advance, allowed_tokens, tune_start
from serving.contract.sampling import SamplingSettings, choose, log_softmax, uniform
from serving.generation.abc_start import abc_start
from serving.generation.bar_goals import AbcBar, TimestepRun, abc_bars, after_close, timestep_bars
from serving.generation.codecs import model_codec
from serving.generation.constrained_rows import abc_rows
from serving.generation.output import prepare_out_dir
from serving.generation.primers import encode
from serving.generation.timestep_constraints import TimestepConstraints, steps_per_bar
from serving.generation.timestep_plan import timestep_rules, timestep_steps
from serving.generation.token_model import TokenModel
from serving.generation.tokens import GeneratedMelody, GenerationConfig, write_melody
from serving.generation.tune_frame import CountedSteps, TuneFrame, tune_frame

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class VariedMelody:
    """The written tune with its new bars, the bar indices regenerated, its log-likelihood (nats,
    whole tune) and every candidate's (the chosen one among them)."""

    melody: GeneratedMelody
    bars: tuple[int, ...]
    log_p: float
    candidate_log_ps: tuple[float, ...]


@dataclass(frozen=True)
class _Piece:
    """Tokens regenerated from index ``start`` of the original under ``goal``; once the goal is met
    the original's tokens are kept again from ``resume``. ``original``: what the original drew
    there; ``diverges[k]``: whether a candidate that drew its first k tokens can still end unlike it."""

    start: int
    resume: int
    goal: TimestepRun | AbcBar
    original: tuple[int, ...]
    diverges: tuple[bool, ...]


def _piece(start: int, resume: int, goal: TimestepRun | AbcBar, ids: Sequence[int], states: Sequence) -> _Piece:
    """The piece, with where a candidate can still leave the original's tokens (``states[k]``: the
    original's state after its first k tokens there)."""
    original = tuple(ids[start:resume])
    diverges = [False] * (len(original) + 1)
    for k in range(len(original) - 1, -1, -1):
        mask = goal.mask(states[k])
        mask[original[k]] = False
        diverges[k] = bool(mask.any()) or diverges[k + 1]
    return _Piece(start, resume, goal, original, tuple(diverges))


@dataclass(frozen=True)
class _Plan:
    """One vary call: the original token indices, the pieces in order, the constraint state before
    the first piece, how a token moves the state, and the replay that checks a whole tune."""

    ids: list[int]
    pieces: list[_Piece]
    state: object
    advance: Callable[[object, int], object]
    check: Callable[[list[int]], str]


def bar_spans(melody: GeneratedMelody) -> list[tuple[int, int]]:
    """``[start, end)`` token indices of each bar of ``melody.tokens``, in score order (an ABC bar
    from its first character after the bar line and blank space before it, through its closing
    bar line; a timestep bar its steps). ValueError for a tune that was not rendered or is unfinished."""
    if melody.melody is None:
        raise ValueError(f"the tune with seed {melody.seed} was not rendered ({melody.error}): it has no bars")
    if melody.melody.abc_text is not None:
        return [(start, end) for start, _, end in abc_bars("".join(melody.tokens))]
    written = melody.melody
    return timestep_bars(melody.tokens, melody.primer_length, steps_per_bar(written.meter), written.pickup_steps)


def vary(client: ModelClient, melody: GeneratedMelody, bars: Sequence[int], config: GenerationConfig,
         name: str, candidates: int = 8) -> VariedMelody:
    """Regenerates ``bars`` (0-based, score order) of ``melody`` (what ``generate(client, config,
    name)`` returned) under ``config``'s constraints and settings; ``candidates`` tunes are sampled
    with seeds derived from ``config.seed``, the tune's seed and the bars (the same call gives the
    same tune) and the most likely is written as ``name_seedN.*`` under ``config.out_dir`` (N: its
    seed). ValueError naming a bar index outside the tune, or a tune or config it cannot vary."""
    if candidates < 1:
        raise ValueError(f"candidates must be >= 1, got {candidates!r}")
    if config.constraints is None:
        raise ValueError("vary keeps the tune's constraints: the config has none (a --free tune cannot be varied)")
    spans = bar_spans(melody)
    for index in bars:
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool) or not 0 <= index < len(spans):
            raise ValueError(f"bar {index!r} is not a bar of this tune: it has {len(spans)} bars, 0..{len(spans) - 1}")
    if not (chosen := sorted({int(index) for index in bars})):
        raise ValueError("name at least one bar to vary")
    if melody.frame is not None and melody.frame.bars is not None:  # the length it was sampled in, drawn or asked
        config = replace(config, constraints=replace(config.constraints, bars=melody.frame.bars))
    model = TokenModel(client)
    codec, vocabulary = model_codec(model), model.symbols
    plan = _abc_plan(melody, chosen, config, vocabulary) if codec.kind == sig.TOKEN_CHARACTERS \
        else _timestep_plan(melody, chosen, config, vocabulary, codec.default_steps)
    prepare_out_dir(config.out_dir)
    # Stable int32 seeds per candidate (crc32, never Python's hash()).
    seeds = [zlib.crc32(f"vary/{config.seed}/{melody.seed}/{chosen}/{number}".encode()) & 0x7FFFFFFF
             for number in range(candidates)]
    old = melody.melody
    frame = melody.frame or tune_frame(old.meter, old.key, config.constraints.bars, old.pickup_steps)
    tunes, log_ps = _sample(model, plan, seeds, config.settings, frame)
    for seed, tune in zip(seeds, tunes):
        if broken := plan.check(tune):
            raise RuntimeError(f"vary candidate with seed {seed} breaks the constraints ({broken}): a bug")
    best = int(np.argmax(log_ps))
    primer_length = min(melody.primer_length, plan.pieces[0].start)
    written = write_melody([vocabulary[token] for token in tunes[best]], primer_length, seeds[best], config, name,
                           codec, old.key, old.meter, model.training_index, old.pickup_steps, melody.frame)
    logger.info("varied bars %s of seed %d: candidate seeds %s, log p %s", chosen, melody.seed, seeds,
                [round(value, 2) for value in log_ps])
    return VariedMelody(written, tuple(chosen), log_ps[best], tuple(log_ps))


def _timestep_plan(melody: GeneratedMelody, chosen: list[int], config: GenerationConfig,
                   vocabulary: Sequence[str], default_steps: int) -> _Plan:
    """Runs of adjacent chosen bars, each a ``TimestepRun`` under the bar rules ``generate`` used."""
    request = config.constraints.filled(melody.melody.key, melody.melody.meter)
    constraints = TimestepConstraints(request, vocabulary, melody.melody.pickup_steps)
    ids = encode(list(melody.tokens), vocabulary)
    primer = ids[:melody.primer_length]
    rules = timestep_rules(constraints, primer, timestep_steps(constraints, primer, config.steps, default_steps))
    spans = bar_spans(melody)
    runs: list[list[int]] = []
    for index in chosen:
        if runs and runs[-1][-1] + 1 == index:
            runs[-1].append(index)
        else:
            runs.append([index])
    first = spans[runs[0][0]][0]
    if first == 0:
        raise ValueError("bar 0 starts the token sequence: the model has nothing to draw it from")
    sampled_from = min(melody.primer_length, first)
    states = [tune_start(rules)]
    for index, token in enumerate(ids):
        states.append(advance(rules, states[-1], token, sampled=index >= sampled_from))
    pieces: list[_Piece] = []
    following = None
    for number in range(len(runs) - 1, -1, -1):
        start, end = spans[runs[number][0]][0], spans[runs[number][-1]][1]
        stop = pieces[0].start if pieces else len(ids)
        held = (states[end].sounding, states[end].is_note) if ids[end] == rules.hold else None
        following = TimestepRun(rules, states[end].position, ids[end:stop], held, following)
        pieces.insert(0, _piece(start, end, following, ids, states[start:end]))

    def check(tune: list[int]) -> str:
        state = tune_start(rules)
        for index, token in enumerate(tune):
            if index >= sampled_from and (state.ended or not allowed_tokens(rules, state)[token]):
                return f"token {index} ({vocabulary[token]!r}) is not allowed there"
            state = advance(rules, state, token, sampled=index >= sampled_from)
        return "" if state.ended else "the tune does not end"

    if check(ids):
        raise ValueError(f"the tune does not meet the config's constraints ({check(ids)}): vary it with its own config")
    return _Plan(ids, pieces, states[first], lambda state, token: advance(rules, state, token), check)


def _abc_plan(melody: GeneratedMelody, chosen: list[int], config: GenerationConfig, vocabulary: Sequence[str]) -> _Plan:
    """One ``AbcBar`` per chosen bar, under the ABC machine ``generate`` used."""
    text = "".join(melody.tokens)
    header = text[:text.index("\n", text.index("\nK:") + 1) + 1] if "\nK:" in text else ""
    start = abc_start(config.constraints.filled(melody.melody.key, melody.melody.meter), header)
    if start.text != header:  # the body is replayed whole below, the primer's part (if any) included
        raise ValueError("the tune's header is not the one these constraints write: vary it with its own config")
    machine = abc_rows(start, vocabulary, 1).machine
    body = len(start.header)
    states = [machine.start()]
    for position, char in enumerate(text[body:]):
        try:
            states.append(machine.advance(states[-1], char))
        except ValueError as error:
            raise ValueError(f"the tune breaks the config's constraints at its character {body + position}: "
                             f"{error}") from None
    if not machine.is_complete(states[-1]):
        raise ValueError("the ABC tune does not end with its final bar line: it is unfinished")
    at = lambda index: states[index - body]  # noqa: E731 (the state before text[index])
    bars = abc_bars(text)
    ids, pieces = encode(list(melody.tokens), vocabulary), []
    for index in chosen:
        begin, close, end = bars[index]
        goal = AbcBar(machine, vocabulary, text[close:end], after_close(machine, at(end)),
                      machine.token_closed(at(close)).pos, at(close).bars)
        pieces.append(_piece(begin, close + 1, goal, ids, states[begin - body:close + 1 - body]))

    def check(tune: list[int]) -> str:
        state = machine.start()
        for position, token in enumerate(tune[body:]):
            try:
                state = machine.advance(state, vocabulary[token])
            except ValueError as error:
                return f"character {body + position}: {error}"
        return "" if machine.is_complete(state) else "the tune does not end"

    return _Plan(ids, pieces, at(pieces[0].start),
                 lambda state, token: machine.step(state, vocabulary[token]), check)


class _Row:
    """One candidate: what it feeds next (a kept token, or a draw under its piece's goal)."""

    def __init__(self, plan: _Plan, seed: int, settings: SamplingSettings) -> None:
        self.plan, self.seed, self.settings, self.state = plan, seed, settings, plan.state
        self.piece, self.index, self.draws, self.matched = 0, plan.pieces[0].start, 0, 0
        self.sampling = True
        self.tokens: list[int] = []
        self.log_p = 0.0

    @property
    def done(self) -> bool:
        return not self.sampling and self.index >= len(self.plan.ids)

    def feed(self, logits: np.ndarray, log_p: np.ndarray) -> int:
        """The next token (a draw from ``logits`` `[V]` or the kept one), its log p (from ``log_p``,
        ``log_softmax(logits)`` `[V]`) counted."""
        if self.sampling:
            goal = self.plan.pieces[self.piece].goal
            piece = self.plan.pieces[self.piece]
            mask = goal.mask(self.state)
            if not mask.any():
                raise RuntimeError(f"vary: no token can continue bar piece {self.piece} after {self.tokens[-8:]} "
                                   f"(seed {self.seed}): a bug in the bar goals")
            if self.matched is not None:  # still the original's bar: leave it while another bar is possible
                same = piece.original[self.matched]
                if mask[same] and not piece.diverges[self.matched + 1] and mask.sum() > 1:
                    mask[same] = False
            token = choose(logits, self.settings.temperature, self.settings.top_k, self.settings.top_p,
                           uniform(self.seed, self.draws), mask)
            self.draws += 1
            matched = self.matched is not None and token == piece.original[self.matched]
            self.matched = self.matched + 1 if matched else None
            self.state = self.plan.advance(self.state, token)
            if goal.finished(self.state, token):
                self.sampling, self.index = False, self.plan.pieces[self.piece].resume
                self.piece += 1
        else:
            token = self.plan.ids[self.index]
            self.index += 1
            self.state = self.plan.advance(self.state, token)
        if not self.sampling and self.piece < len(self.plan.pieces) and self.index == self.plan.pieces[self.piece].start:
            self.sampling, self.matched = True, 0
        self.tokens.append(token)
        self.log_p += float(log_p[token])
        return token


def _sample(model: TokenModel, plan: _Plan, seeds: Sequence[int], settings: SamplingSettings,
            frame: TuneFrame) -> tuple[list[list[int]], list[float]]:
    """Every candidate's whole tune (token indices) and log p: the prefix fed once, then one `step`
    per time step for the rows still going."""
    prefix = plan.ids[:plan.pieces[0].start]
    logits, state = np.zeros((1, len(model.symbols)), np.float32), np.zeros((1, model.state_size), np.float32)
    prefix_log_p, step = 0.0, CountedSteps(model, frame, 1)
    for position, token in enumerate(prefix):
        if position:
            prefix_log_p += float(log_softmax(logits[0])[token])
        logits, state = step([0], np.array([token], np.int32), state)
    rows, step = [_Row(plan, seed, settings) for seed in seeds], step.repeated(len(seeds))
    logits, state = np.repeat(logits, len(rows), axis=0), np.repeat(state, len(rows), axis=0)
    while not all(row.done for row in rows):
        going = [number for number, row in enumerate(rows) if not row.done]
        log_p = log_softmax(logits[going])
        fed = np.array([rows[number].feed(logits[number], log_p[slot]) for slot, number in enumerate(going)], np.int32)
        stepping = [slot for slot, number in enumerate(going) if not rows[number].done]
        if stepping:
            chosen = np.array([going[slot] for slot in stepping])
            logits[chosen], state[chosen] = step(chosen, fed[stepping], state[chosen])
    return [prefix + row.tokens for row in rows], [prefix_log_p + row.log_p for row in rows]

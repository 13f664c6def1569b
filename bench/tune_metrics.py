"""The metrics of ``bench/tune_constraints.py``: tunes read by parsers that are not the constraint
state machines, then shares and statistics over many tunes (and ``mean_log_prob``: what the model
thinks of the sampled tokens).

A tune becomes ``TuneFacts``. Timestep tunes are decoded by ``serving.music.render`` (in model space,
C major / A minor, where a request's key has a white-key tonic) and their bars are cut from the
tune's first step: every bar but the last is full by construction, the last is full when the
length in 16th-note steps is a multiple of the bar. ABC tunes are read by music21: the notes and
the ``K:`` key from its ABC tokens (a chord's top note), the written length from its bar tokens
(a first ending's bars left out, as the second ending replaces them), and the full bars by
``trainer.token_models.abc_quality``, which exempts a short first or last bar and a short bar at a
section line (a pickup and the bar that completes it); the written length must still be whole.
"""
from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from preprocessing.melody import music21_reader
from preprocessing.melody.abc_text import first_abc_tune
from preprocessing.melody.events import Event
from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, Key, Meter, parse_key, tonic_pitch_class
from preprocessing.melody.timestep import DELIMITER, STEP_QUARTERS, decode_timestep
from serving.contract import signatures as sig
from serving.generation.token_model import TokenModel
from serving.generation.tune_request import TuneRequest
from serving.music.render import melody_from_timesteps
from trainer.token_models import abc_quality

COPY_RUN = 8  # notes in a pitch run that counts as copied
STRUCTURAL = ("new_note", "exact_bars", "full_bars", "tonic")  # the targets under constraints (and scale for timestep)
MAX_SLOWDOWN = 1.5
WHITE_KEYS = frozenset({0, 2, 4, 5, 7, 9, 11})
_TOLERANCE = 1e-6


@dataclass(frozen=True)
class TuneFacts:
    """One tune: ``notes`` (pitch, quarters) in order, the first ``primer_notes`` of them the
    primer's; ``tonic`` and ``scale`` (pitch classes) in the notes' space; ``bars``: the written
    length in bars of the meter; ``bar_count`` / ``full_bars``: bars as the parser cuts them (less
    those abc_quality exempts) and how many fill the meter (both 0 for corpus tunes, not measured)."""

    ended: bool
    notes: tuple[tuple[int, float], ...]
    primer_notes: int
    tonic: int
    scale: frozenset[int]
    bars: float = 0.0
    bar_count: int = 0
    full_bars: int = 0

    @property
    def new_notes(self) -> tuple[tuple[int, float], ...]:
        return self.notes[self.primer_notes:]


def scale_of(key: Key) -> frozenset[int]:
    """The pitch classes of ``key``'s signature (its diatonic scale, whatever the mode)."""
    return frozenset((pitch_class + key.semitones_from_c()) % 12 for pitch_class in WHITE_KEYS)


def model_space_tonic(key: Key) -> int:
    """The pitch class that ``key``'s tonic takes when its signature is moved to C major / A minor."""
    return (tonic_pitch_class(key.tonic) - key.semitones_from_c()) % 12


def _notes(events: Iterable[Event]) -> tuple[tuple[int, float], ...]:
    return tuple((event.pitch, event.quarters) for event in events if event.pitch is not None)


def timestep_facts(symbols: Sequence[str], primer_length: int, key: Key, meter: Meter) -> TuneFacts:
    """Primer + sampled timestep symbols `[T]` (model space), cut at the first sampled ``/``; ``key``: the
    request's, whose tonic is moved to model space."""
    melody = melody_from_timesteps(symbols, primer_length, C_MAJOR, meter)
    primer_quarters = sum(STEP_QUARTERS for symbol in symbols[:primer_length] if symbol != DELIMITER)
    onset, primer_notes = 0.0, 0
    for event in melody.events:
        primer_notes += event.pitch is not None and onset < primer_quarters - _TOLERANCE
        onset += event.quarters
    steps = round(melody.quarters / STEP_QUARTERS)
    bar = round(meter.bar_quarters / STEP_QUARTERS)
    return TuneFacts(ended=DELIMITER in symbols[primer_length:], notes=_notes(melody.events), primer_notes=primer_notes,
                     tonic=model_space_tonic(key), scale=WHITE_KEYS, bars=steps / bar, bar_count=-(-steps // bar),
                     full_bars=steps // bar)


def corpus_timestep_facts(symbols: Sequence[str], tonic: int) -> TuneFacts:
    """A corpus song's timestep symbols `[T]` (model space) and its tonic there."""
    return TuneFacts(ended=True, notes=_notes(decode_timestep(symbols)), primer_notes=0, tonic=tonic,
                     scale=WHITE_KEYS)


def abc_facts(text: str, ended: bool, quality: abc_quality.TuneQuality | None = None) -> TuneFacts:
    """One ABC tune (header included); ``quality`` (``abc_quality.score_tune``) gives the full bars.
    A tune music21 cannot read has no notes."""
    try:
        events, key = _abc_events(text)
    except Exception:  # noqa: BLE001 (music21 raises many kinds on bad ABC)
        return TuneFacts(ended=ended, notes=(), primer_notes=0, tonic=-1, scale=frozenset())
    bars = 0.0
    if quality is not None and quality.has_meter:
        bars = written_bars(text)
    return TuneFacts(ended=ended, notes=_notes(events), primer_notes=0, tonic=tonic_pitch_class(key.tonic),
                     scale=scale_of(key), bars=bars, bar_count=quality.bars - quality.exempt_bars if quality else 0,
                     full_bars=quality.full_bars if quality else 0)


def _abc_events(text: str) -> tuple[list[Event], Key]:
    """Events and the declared key, from music21's ABC tokens, or from its Score for chords."""
    try:
        melody = music21_reader.abc_melody(text, "tune")
        return list(melody.events), parse_key(f"{melody.tonic} {melody.mode}")
    except ValueError as error:
        if getattr(error, "reason", "") != "chord":
            raise
    score = music21_reader.parse_abc_text(text)
    return music21_reader.melody_events(score, "tune"), music21_reader.declared_key(score)


def written_bars(text: str) -> float:
    """The tune's written length in bars of its first ``M:`` (a first ending's bars left out)."""
    from music21 import abcFormat  # pylint: disable=import-outside-toplevel

    bar_quarters, quarters, in_first_ending = 0.0, 0.0, False
    for token in abcFormat.ABCFile().readstr(text).tokens:
        if isinstance(token, abcFormat.ABCMetadata) and token.isMeter() and not bar_quarters:
            signature = token.getTimeSignatureObject()
            bar_quarters = float(signature.barDuration.quarterLength) if signature is not None else 0.0
        elif isinstance(token, abcFormat.ABCBar):
            if token.repeatForm == "first":
                in_first_ending = True
            elif token.barType == "repeat" or token.repeatForm == "second":
                in_first_ending = False
        elif isinstance(token, abcFormat.ABCNote) and not token.inGrace and not in_first_ending:
            quarters += music21_reader.abc_token_quarters(token)
    return quarters / bar_quarters if bar_quarters else 0.0


def training_runs(tunes: Iterable[TuneFacts]) -> set[tuple[int, ...]]:
    """Every run of ``COPY_RUN`` consecutive note pitches in ``tunes``."""
    return {run for facts in tunes for run in _runs(facts)}


def _runs(facts: TuneFacts) -> Iterable[tuple[int, ...]]:
    """The runs of ``COPY_RUN`` consecutive new-note pitches of the tune (the primer's left out)."""
    pitches = [pitch for pitch, _ in facts.new_notes]
    return (tuple(pitches[i:i + COPY_RUN]) for i in range(len(pitches) - COPY_RUN + 1))


def copies(facts: TuneFacts, runs: set[tuple[int, ...]]) -> bool:
    """Whether the tune's new notes hold a run of ``runs``."""
    return any(run in runs for run in _runs(facts))


def copied_run_share(tunes: Sequence[TuneFacts], runs: set[tuple[int, ...]]) -> float | None:
    """The share of the tunes' runs (all tunes' pooled) found in ``runs``; None for no run."""
    found = [run in runs for facts in tunes for run in _runs(facts)]
    return _share(found)


def self_repeat_share(tunes: Sequence[TuneFacts]) -> float | None:
    """The share of the tunes' runs (pooled) that repeat an earlier run of their own tune; None for no run."""
    runs = [list(_runs(facts)) for facts in tunes]
    return _share([run in tune[:index] for tune in runs for index, run in enumerate(tune)])


def exact_bars(facts: TuneFacts, asked: int | None) -> bool:
    """Ended at exactly ``asked`` bars; without a request, ended at a whole bar."""
    whole = facts.bars > _TOLERANCE and abs(facts.bars - round(facts.bars)) < _TOLERANCE
    return facts.ended and whole and (asked is None or round(facts.bars) == asked)


def ends_on_tonic(facts: TuneFacts) -> bool:
    return bool(facts.notes) and facts.notes[-1][0] % 12 == facts.tonic


def failed_checks(facts: TuneFacts, asked: int | None) -> list[str]:
    """The structural checks a constrained tune fails (empty when it meets them all)."""
    checks = {"new_note": bool(facts.new_notes), "exact_bars": exact_bars(facts, asked),
              "full_bars": facts.bar_count > 0 and facts.full_bars == facts.bar_count, "tonic": ends_on_tonic(facts),
              "scale": all(pitch % 12 in facts.scale for pitch, _ in facts.new_notes)}
    return [name for name, met in checks.items() if not met]


def save_failures(folder: str, name: str, row: str, primer: list[str], bars: int | None, vocabulary: list[str],
                  tokens: list[list[int]], facts: list[TuneFacts]) -> int:
    """Writes every tune of a constrained row (model ``name``, row ``row``, seeds 0..) that fails a
    structural check at ``bars`` as ``folder/<name>_<row>_seed<N>.json``; returns how many."""
    failed = 0
    for seed, (sampled, tune) in enumerate(zip(tokens, facts)):
        checks = failed_checks(tune, bars)
        if checks:
            failed += 1
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, f"{name}_{row.replace('/', '-')}_seed{seed}.json")
            with open(path, "w", encoding="utf-8") as handle:
                json.dump({"model": name, "row": row, "seed": seed, "failed": checks, "primer": primer,
                           "sampled": [vocabulary[token] for token in sampled]}, handle, indent=1)
    return failed


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def pc_entropy_bits(pitches: Sequence[int]) -> float | None:
    """The entropy (bits) of the pitch classes of ``pitches``; None for no pitch."""
    classes = Counter(pitch % 12 for pitch in pitches)
    total = len(pitches)
    return -sum(n / total * math.log2(n / total) for n in classes.values()) if total else None


def summary(tunes: Sequence[TuneFacts], asked: int | None, runs: set[tuple[int, ...]] | None,
            measured_bars: bool = True) -> dict[str, float | None]:
    """Every tune metric over ``tunes`` (None where it cannot be measured): structural shares per
    tune, scale share, mean duration and pitch-class entropy over the new notes, copy share (tunes
    holding a training run) and copied-run share (of all the tunes' runs)."""
    new = [note for facts in tunes for note in facts.new_notes]
    bars = sum(facts.bar_count for facts in tunes)
    return {
        "new_note": _share([bool(facts.new_notes) for facts in tunes]),
        "exact_bars": _share([exact_bars(facts, asked) for facts in tunes]) if measured_bars else None,
        "full_bars": sum(facts.full_bars for facts in tunes) / bars if measured_bars and bars else None,
        "tonic": _share([ends_on_tonic(facts) for facts in tunes]),
        "in_scale": _share([pitch % 12 in facts.scale for facts in tunes for pitch, _ in facts.new_notes]),
        "mean_quarters": sum(quarters for _, quarters in new) / len(new) if new else None,
        "pc_entropy_bits": pc_entropy_bits([pitch for pitch, _ in new]),
        "copy": _share([copies(facts, runs) for facts in tunes]) if runs is not None else None,
        "copied_runs": copied_run_share(tunes, runs) if runs is not None else None,
    }


def read_tunes(kind: str, primer: list[str], request: TuneRequest | None, vocabulary: list[str],
               tokens: list[list[int]], ended: list[bool]) -> tuple[list[TuneFacts], list[list[int]], dict]:
    """Each tune's facts, its sampled tokens up to (and with) the one that ends it, and for ABC the
    parse share and the strict full-bar share. ``ended``: the rules ended the tune (constrained ABC)."""
    facts, scored, qualities = [], [], []
    for row, sampled in enumerate(tokens):
        symbols = [vocabulary[token] for token in sampled]
        if kind == sig.TOKEN_TIMESTEP:
            asked = (request or TuneRequest()).filled(C_MAJOR, COMMON_TIME)
            facts.append(timestep_facts(primer + symbols, len(primer), asked.key, asked.meter))
            cut = symbols.index(DELIMITER) + 1 if DELIMITER in symbols else len(symbols)
        else:
            text = "".join(primer + symbols)
            tune, done = first_abc_tune(text, len(primer)) if request is None else (text, ended[row])
            qualities.append(abc_quality.score_tune(tune))
            facts.append(abc_facts(tune, done, qualities[-1]))
            cut = min(len(symbols), len(tune) - len(primer) + 1)
        scored.append(sampled[:cut])
    if not qualities:
        return facts, scored, {}
    quality = abc_quality.summarise(qualities)
    return facts, scored, {"parsed": quality.parse_share, "strict_full_bars": quality.strict_full_bar_share}


def targets(models: dict) -> dict[str, bool]:
    """Each constrained row's targets: structural shares of 1.0, slowdown at most ``MAX_SLOWDOWN``."""
    met = {}
    for name, report in models.items():
        for row, result in report["rows"].items():
            if row == "unconstrained":
                continue
            shares = STRUCTURAL + ("in_scale",)
            met[f"{name} {row}: {', '.join(shares)} = 1.0"] = all(result[share] == 1.0 for share in shares)
            for side in ("client", "server"):
                if f"{side}_slowdown" in result:
                    met[f"{name} {row}: {side} tok/s within {MAX_SLOWDOWN}x"] = result[f"{side}_slowdown"] <= MAX_SLOWDOWN
    return met


def mean_log_prob(model: TokenModel, primer: list[int], sampled: list[list[int]], batch: int) -> float:
    """Mean log p (nats) over every row's sampled tokens `[n]`, the primer fed from the zero state."""
    total, count = 0.0, 0
    for start in range(0, len(sampled), batch):
        rows = [primer + tokens for tokens in sampled[start:start + batch]]
        lengths = np.array([len(row) for row in rows])
        padded = np.zeros((len(rows), lengths.max()), np.int32)
        for index, row in enumerate(rows):
            padded[index, :len(row)] = row
        state = np.zeros((len(rows), model.state_size), np.float32)
        for t in range(lengths.max() - 1):
            logits, state = model.step(padded[:, t], state)
            logits = logits.astype(np.float64)
            top = logits.max(axis=1, keepdims=True)
            log_p = logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
            scored = (t + 1 >= len(primer)) & (t + 1 < lengths)
            total += float(log_p[np.arange(len(rows)), padded[:, t + 1]][scored].sum())
            count += int(scored.sum())
    return total / count if count else float("nan")

"""Per-corpus statistics and vocabularies: per-tune facts, their Beam combiners, and summaries.

Pure Python (Beam's ``CombineFn`` only), so the combiners are easy to test on their own.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import apache_beam as beam

from preprocessing import schema
from preprocessing.melody import timestep
from preprocessing.records import ENCODING_TUNE, DeadLetter

# One statistic: (section, key, amount), e.g. ("meters", "3/4", 1). Sections below.
StatEvent = tuple[str, str, int]

READ = "tunes_read"
KEPT = "tunes_kept"
SKIPPED = "tunes_skipped"  # key: reason
SKIPPED_ENCODING_PREFIX = "skipped_encoding:"  # section per encoding, key: reason
STEPS = "timestep_steps"
METERS = "meters"
KEYS = "keys"
MODES = "modes"
SPLITS = "tunes_per_split"

INVARIANT = "tunes_read == tunes_kept + tunes_skipped"


def read_event() -> StatEvent:
    """The event of one item read from a source (a raw tune, or a file skipped whole)."""
    return (READ, "", 1)


def kept_events(example: Mapping[str, object], split: str) -> list[StatEvent]:
    """The events of one kept tune (``example`` holds the schema's features)."""
    meter = str(example.get(schema.FEATURE_METER, ""))
    key = str(example.get(schema.FEATURE_KEY, ""))
    mode = str(example.get(schema.FEATURE_MODE, ""))
    steps = len(example.get(schema.FEATURE_TIMESTEP, ()) or ())
    return [
        (KEPT, "", 1),
        (STEPS, "", steps),
        (METERS, meter or "none", 1),
        (KEYS, f"{key} {mode}".strip() or "none", 1),
        (MODES, mode or "none", 1),
        (SPLITS, split, 1),
    ]


def dead_letter_events(letter: DeadLetter) -> list[StatEvent]:
    """The events of one dead letter: a tune skipped whole, or one encoding of a kept tune."""
    if letter.encoding == ENCODING_TUNE:
        return [(SKIPPED, letter.reason, 1)]
    return [(SKIPPED_ENCODING_PREFIX + letter.encoding, letter.reason, 1)]


class StatsCombineFn(beam.CombineFn):
    """Sums ``StatEvent``s into ``{section: Counter({key: amount})}``."""

    def create_accumulator(self) -> dict[str, Counter]:
        return {}

    def add_input(self, accumulator: dict[str, Counter], event: StatEvent) -> dict[str, Counter]:
        section, key, amount = event
        accumulator.setdefault(section, Counter())[key] += amount
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[dict[str, Counter]]) -> dict[str, Counter]:
        merged: dict[str, Counter] = {}
        for accumulator in accumulators:
            for section, counts in accumulator.items():
                merged.setdefault(section, Counter()).update(counts)
        return merged

    def extract_output(self, accumulator: dict[str, Counter]) -> dict[str, Counter]:
        return accumulator


class CounterSumFn(beam.CombineFn):
    """Sums ``Counter``s (e.g. symbol counts of single tunes) into one ``Counter``."""

    def create_accumulator(self) -> Counter:
        return Counter()

    def add_input(self, accumulator: Counter, counts: Mapping[str, int]) -> Counter:
        accumulator.update(counts)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[Counter]) -> Counter:
        merged: Counter = Counter()
        for accumulator in accumulators:
            merged.update(accumulator)
        return merged

    def extract_output(self, accumulator: Counter) -> Counter:
        return accumulator


def timestep_vocabulary(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """``[(symbol, count)]`` in the index order of ``timestep.timestep_vocabulary_order``."""
    return [(symbol, counts.get(symbol, 0)) for symbol in timestep.timestep_vocabulary_order(counts)]


def abc_vocabulary(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """``[(character, count)]`` sorted by code point."""
    return sorted(counts.items(), key=lambda item: ord(item[0]))


def _sorted_counts(counts: Mapping[str, int] | None) -> dict[str, int]:
    return dict(sorted((counts or {}).items()))


def summarise(
    corpus: str,
    sections: Mapping[str, Mapping[str, int]],
    timestep_vocabulary_size: int,
    abc_vocabulary_size: int,
) -> dict[str, object]:
    """The ``stats.json`` document; states and checks ``INVARIANT``."""
    read = sum((sections.get(READ) or {}).values())
    kept = sum((sections.get(KEPT) or {}).values())
    skipped_by_reason = _sorted_counts(sections.get(SKIPPED))
    skipped = sum(skipped_by_reason.values())
    skipped_encodings = {
        section[len(SKIPPED_ENCODING_PREFIX):]: _sorted_counts(counts)
        for section, counts in sorted(sections.items())
        if section.startswith(SKIPPED_ENCODING_PREFIX)
    }
    per_split = sections.get(SPLITS) or {}
    return {
        "corpus": corpus,
        "tunes_read": read,
        "tunes_kept": kept,
        "tunes_skipped": skipped,
        "invariant": INVARIANT,
        "invariant_holds": read == kept + skipped,
        "skipped_by_reason": skipped_by_reason,
        "skipped_encodings_by_reason": skipped_encodings,
        "tunes_per_split": {split: per_split.get(split, 0) for split in schema.SPLITS},
        "timestep_steps": sum((sections.get(STEPS) or {}).values()),
        "timestep_vocabulary_size": timestep_vocabulary_size,
        "abc_vocabulary_size": abc_vocabulary_size,
        "meters": _sorted_counts(sections.get(METERS)),
        "keys": _sorted_counts(sections.get(KEYS)),
        "modes": _sorted_counts(sections.get(MODES)),
    }


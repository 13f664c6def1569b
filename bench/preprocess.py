"""Preprocessing throughput: the tutorial's serial loop vs the Beam job with 1 and 2 workers.

    .venv/bin/python bench/preprocess.py [--corpus erk] [--large]

The serial loop parses and encodes one tune after another (corpora + process_tune, no output
written); the Beam job does the same work plus splitting, serialisation and writing TFRecords,
vocabularies and stats, on the local FnApiRunner with worker processes. ``--large`` also times
``essen`` + ``irish`` (about 11,500 tunes) with 2 workers. Figures are printed side by side.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass

# Run from a checkout without installing: the repository root on the path, also for Beam's workers.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")]))

from preprocessing.corpora import list_sources, read_source  # noqa: E402
from preprocessing.job import run_preprocessing  # noqa: E402
from preprocessing.records import RawTune  # noqa: E402
from preprocessing.tunes import process_tune  # noqa: E402


@dataclass(frozen=True)
class Timing:
    name: str
    tunes: int
    kept: int
    seconds: float

    @property
    def tunes_per_second(self) -> float:
        return self.tunes / self.seconds


def time_serial(corpus: str) -> Timing:
    """The tutorial way: parse + encode every tune in one loop."""
    started = time.perf_counter()
    tunes = kept = 0
    for source in list_sources(corpus):
        for item in read_source(source):
            tunes += 1
            if isinstance(item, RawTune) and process_tune(item).example is not None:
                kept += 1
    return Timing(f"serial loop ({corpus})", tunes, kept, time.perf_counter() - started)


def time_beam(corpus: str, workers: int) -> Timing:
    """The Beam job on the local multi-process runner, output to a temporary folder."""
    with tempfile.TemporaryDirectory() as output:
        started = time.perf_counter()
        stats = run_preprocessing(
            corpus=corpus,
            output=output,
            beam_args=["--runner", "FnApiRunner", "--direct_num_workers", str(workers),
                       "--direct_running_mode", "multi_processing"],
        )
        seconds = time.perf_counter() - started
    return Timing(f"beam, {workers} worker(s) ({corpus})", stats["tunes_read"], stats["tunes_kept"], seconds)


def print_table(timings: list[Timing], baseline: Timing) -> None:
    print(f"{'run':<34} {'tunes':>6} {'kept':>6} {'seconds':>8} {'tunes/s':>8} {'vs serial':>9}")
    for timing in timings:
        ratio = timing.tunes_per_second / baseline.tunes_per_second
        print(f"{timing.name:<34} {timing.tunes:>6} {timing.kept:>6} {timing.seconds:>8.1f} "
              f"{timing.tunes_per_second:>8.1f} {ratio:>8.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="erk")
    parser.add_argument("--large", action="store_true", help="also time essen + irish with 2 workers")
    flags = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    serial = time_serial(flags.corpus)
    timings = [serial, time_beam(flags.corpus, 1), time_beam(flags.corpus, 2)]
    print_table(timings, serial)
    if flags.large:
        large = [time_beam(corpus, 2) for corpus in ("essen", "irish")]
        total = Timing("beam, 2 workers (essen + irish)", sum(t.tunes for t in large),
                       sum(t.kept for t in large), sum(t.seconds for t in large))
        print()
        print_table(large + [total], serial)
        print(f"essen + irish with 2 workers: {total.seconds / 60:.1f} minutes (target < 4)")


if __name__ == "__main__":
    main()

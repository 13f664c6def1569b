"""Runs the preprocessing job: ``python -m preprocessing.run --corpus erk --output data/erk [Beam flags]``.

Flags this entry point does not know are passed to Beam's PipelineOptions. Without ``--runner``
the job runs locally on Beam's FnApiRunner (the batch engine behind the DirectRunner, named
explicitly so Beam never tries to download its Prism runner) with one worker process per core.
A non-empty ``--output`` is refused unless ``--overwrite`` (see ``preprocessing.staging``).
On Dataflow: ``--runner DataflowRunner --setup_file ./setup.py --project P --region R
--temp_location gs://B/tmp --output gs://B/data/erk``.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from preprocessing.job import run_preprocessing

LOCAL_RUNNER = "FnApiRunner"
_LOCAL_RUNNERS = {"fnapirunner", "directrunner", "switchingdirectrunner", "bundlebaseddirectrunner"}


def parse_flags(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Our flags, and the remaining flags for Beam (with local-runner defaults added)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="erk, han, essen, irish, ..., dir:PATH or irishman:PATH")
    parser.add_argument("--output", required=True, help="output folder (local or gs://)")
    parser.add_argument("--num_shards", type=int, default=4, help="most TFRecord shards per split")
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace the preprocessing output in a non-empty --output (files it did not write are kept)",
    )
    flags, beam_args = parser.parse_known_args(list(argv))
    return flags, with_local_defaults(beam_args)


def _flag_value(beam_args: Sequence[str], name: str) -> str | None:
    for position, arg in enumerate(beam_args):
        if arg == name and position + 1 < len(beam_args):
            return beam_args[position + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def with_local_defaults(beam_args: Sequence[str]) -> list[str]:
    """Adds ``--runner FnApiRunner`` and multi-process worker flags unless given or non-local."""
    args = list(beam_args)
    runner = _flag_value(args, "--runner")
    if runner is None:
        args += ["--runner", LOCAL_RUNNER]
    elif runner.lower() not in _LOCAL_RUNNERS:
        return args
    if _flag_value(args, "--direct_num_workers") is None:
        args += ["--direct_num_workers", str(os.cpu_count() or 1)]
    if _flag_value(args, "--direct_running_mode") is None:
        args += ["--direct_running_mode", "multi_processing"]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    flags, beam_args = parse_flags(sys.argv[1:] if argv is None else argv)
    try:
        run_preprocessing(
            corpus=flags.corpus, output=flags.output, num_shards=flags.num_shards, overwrite=flags.overwrite,
            beam_args=beam_args,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

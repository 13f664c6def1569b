"""``folkgen``: generate folk melodies, with the SavedModels loaded in this process or through a model server.

    folkgen generate --model lstm_erk --primer twinkle --bars 16 --num 4 --temperature 0.8 \\
        --top-p 0.95 --seed 7 --key G --meter 3/4 --formats mid,musicxml,abc,svg,wav,png --out out/
    folkgen generate --server localhost:8500 ...    (the same, through TF Serving or serving.server)
    folkgen models [--server HOST:PORT]              (serving/models_cli.py)
    folkgen vae sample|reconstruct|interpolate ...   (serving/vae_cli.py)
    folkgen web --port 8080                           (serving/web.py: the page)

Each command parses its flags into typed settings and calls one library function of
``serving.generation``. Bad input ends with one line ``folkgen: error: ...`` and a non-zero exit status.
Building the parser imports only light modules: ``--help`` never loads TensorFlow or music21; a
command imports them when it runs (TensorFlow quietly, unless ``--verbose``). A new command is one
``add_*_parser`` call in ``build_parser`` and one entry in ``COMMANDS``.
"""
from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from preprocessing.melody.keys import Key, Meter, parse_key, parse_meter, parse_pitch
from serving import models_cli, vae_cli, web
from serving.cli_flags import add_model_flags, add_verbose_flag, client_from_args
from serving.generation.request_defaults import (
    DEFAULT_CHARACTER_STEPS,
    DEFAULT_CONDITIONED_PRIMER,
    DEFAULT_PRIMER,
    DEFAULT_STEPS,
    NAMED_PRIMERS,
)
from serving.music.formats import DEFAULT_FORMATS, DEFAULT_TEMPO_BPM, FORMATS
from serving.tf_quiet import import_tensorflow

if TYPE_CHECKING:
    from rich.table import Table

    from serving.generation.tokens import GeneratedMelody, GenerationConfig
    from serving.generation.tune_request import TuneRequest

EXIT_ERROR = 1
EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """Reports a usage error as one line (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"folkgen: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The flags of every ``folkgen`` command."""
    parser = OneLineParser(prog="folkgen", description="Generate folk melodies with the SavedModels in saved_models/ "
                           "(loaded in this process), or with a model server (--server).")
    add_verbose_flag(parser)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    add_generate_parser(commands, add_model_flags)
    models_cli.add_models_parser(commands, add_model_flags)
    vae_cli.add_vae_parser(commands, add_model_flags)
    web.add_web_parser(commands, add_model_flags)
    return parser


def add_generate_parser(commands: argparse._SubParsersAction,
                        add_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    """Registers ``generate`` on folkgen's subcommands."""
    gen = commands.add_parser("generate", help="sample melodies and write them as music files")
    gen.add_argument("--model", default="lstm_erk", help="model name (default lstm_erk)")
    gen.add_argument("--version", type=int, help="model version (default: the newest)")
    primer = gen.add_mutually_exclusive_group()
    primer.add_argument("--primer", help=f"a named primer ({', '.join(NAMED_PRIMERS)}) or symbols such as '60 _ _ _ 62 _' "
                        f"(default: {DEFAULT_PRIMER} for timestep models, the song start {DEFAULT_CONDITIONED_PRIMER} alone "
                        "for meter-aware ones, the header alone for ABC models)")
    primer.add_argument("--primer-abc", help="the primer as ABC text")
    primer.add_argument("--primer-file", help="the primer as an ABC, MIDI or MusicXML file")
    gen.add_argument("--tune", help="the X: number of the tune to take from a primer holding several "
                     "(default: refused, listing them)")
    gen.add_argument("--quantise", action="store_true", help="round primer notes a timestep model cannot hold "
                     "(triplets) to 16ths, with a warning (default: refused, naming the note and bar)")
    gen.add_argument("--steps", type=int, help=f"tokens to sample per melody (default {DEFAULT_STEPS}; "
                     f"{DEFAULT_CHARACTER_STEPS} characters for a character model)")
    gen.add_argument("--num", type=int, default=1, help="number of melodies")
    gen.add_argument("--temperature", type=float, default=1.0)
    gen.add_argument("--top-k", type=int, default=0, help="0 = off")
    gen.add_argument("--top-p", type=float, default=1.0, help="1.0 = off")
    gen.add_argument("--greedy", action="store_true", help="always the most probable symbol (top-k 1)")
    gen.add_argument("--seed", type=int, help="melody i uses seed + i (default: a new random seed each run; "
                     "the summary prints every melody's seed, so --seed makes it again)")
    gen.add_argument("--key", help="key to write in, e.g. G, Em, Bb, Ador (default: the primer's, else C)")
    gen.add_argument("--meter", help="meter, e.g. 3/4, 6/8 (default: the primer's, else the meter most of a "
                     "meter-aware model's training tunes are in, else 4/4)")
    rules = gen.add_argument_group(
        "hard constraints at decode time (on unless --free; with --key and --meter, by default the primer's, else C "
        "and --meter's default). Each draw is renormalised over the tokens that keep a valid tune possible. Timestep "
        "models take all but --form; the ABC model all but --range, sampled on the client. Refused before sampling, "
        "with the reason: a primer longer than --bars or one the constraints cannot continue, a range without a "
        "scale note (or tonic, for --end tonic), --bars 0, --form on a timestep model, --steps too few for --bars")
    rules.add_argument("--bars", type=int, help="the tune's exact length in bars of --meter (default: at least 8 bars, "
                       "ending at a bar line within --steps; a meter-aware model without --steps: the length, and "
                       "for a primer without notes the pickup, of a training tune in --meter drawn per seed)")
    rules.add_argument("--end", choices=("tonic", "any"), default="tonic", help="tonic (default): the final note is "
                       "--key's tonic, from the last beat, held to the final bar line (ABC: each strain's, at least one unit long); "
                       "any: no rule for the last note")
    rules.add_argument("--range", help="lowest-highest pitch written, e.g. D4-B5 or 62-83 (default: the model's)")
    rules.add_argument("--chromatic", action="store_true", help="allow pitches outside --key's scale "
                       "(default: masked; for ABC, accidentals)")
    rules.add_argument("--form", help="ABC models: the strains, e.g. AABB (8 bars each, repeats written |: :|; "
                       "default: one strain that may write its own repeats)")
    rules.add_argument("--free", action="store_true", help="no constraints: sample the model's own distribution "
                       "(tunes may be unfinished, or the primer alone)")
    gen.add_argument("--formats", default=",".join(DEFAULT_FORMATS),
                     help=f"comma-separated, of {','.join(FORMATS)} (default: all but png, the piano roll)")
    gen.add_argument("--tempo", type=float, default=DEFAULT_TEMPO_BPM, help="quarter notes per minute")
    gen.add_argument("--out", default="out", help="output folder")
    gen.add_argument("--sampling", default="client", help="client (default): loop over the step signature here; "
                     "server: the generate signature, the whole loop inside the model's graph")
    add_flags(gen)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``folkgen`` console script."""
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import_tensorflow(verbose)
    from preprocessing.melody.events import EncodingError
    from serving.client import ClientError

    try:
        return COMMANDS[args.command](args)
    except (ValueError, EncodingError, ClientError) as error:
        print(f"folkgen: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("folkgen: interrupted", file=sys.stderr)
        return EXIT_ERROR


def config_from_args(args: argparse.Namespace) -> GenerationConfig:
    """Validates the flags (ValueError naming a bad one) into a GenerationConfig."""
    from serving.contract.sampling import GREEDY, SamplingSettings
    from serving.generation.primers import PrimerSource
    from serving.generation.tokens import GenerationConfig

    settings = GREEDY if args.greedy else SamplingSettings(args.temperature, args.top_k, args.top_p)
    source: PrimerSource | None
    if args.primer_file is not None:
        source = PrimerSource(file=args.primer_file, tune=args.tune, quantise=args.quantise)
    elif args.primer_abc is not None:
        source = PrimerSource(abc=args.primer_abc, tune=args.tune, quantise=args.quantise)
    elif args.tune is not None or args.quantise:
        raise ValueError("--tune and --quantise apply to --primer-abc and --primer-file")
    elif args.primer is None:
        source = None
    elif args.primer in NAMED_PRIMERS:
        source = PrimerSource(name=args.primer)
    else:
        source = PrimerSource(symbols=args.primer)
    key = parse_key(args.key) if args.key else None
    meter = parse_meter(args.meter) if args.meter else None
    return GenerationConfig(
        primer=source, steps=args.steps, num=args.num, settings=settings,
        seed=args.seed if args.seed is not None else secrets.randbelow(2**31 - args.num), key=key, meter=meter,
        formats=tuple(name.strip() for name in args.formats.split(",") if name.strip()),
        out_dir=args.out, sampling=args.sampling, tempo_bpm=args.tempo, constraints=_constraints(args, key, meter))


def _constraints(args: argparse.Namespace, key: Key | None, meter: Meter | None) -> TuneRequest | None:
    """The constraint flags as a request, or None under --free (which takes no constraint flag)."""
    from serving.generation.tune_request import TuneRequest

    if args.free:
        given = [flag for flag, value in (("--bars", args.bars), ("--range", args.range), ("--form", args.form))
                 if value is not None] + (["--chromatic"] if args.chromatic else [])
        if given:
            raise ValueError(f"--free samples without constraints: drop {', '.join(given)}")
        return None
    low = high = None
    if args.range is not None:
        parts = args.range.split("-", 1) if not args.range.startswith("-") else []
        if len(parts) != 2:
            raise ValueError(f"--range {args.range!r}: expected LOW-HIGH, e.g. D4-B5 or 62-83")
        low, high = parse_pitch(parts[0]), parse_pitch(parts[1])
    return TuneRequest(meter=meter, key=key, bars=args.bars, low=low, high=high,
                       end_on_tonic=args.end == "tonic", chromatic=args.chromatic, form=args.form)


def run_generate(args: argparse.Namespace) -> int:
    """``folkgen generate``: the flags as a GenerationConfig, one ``generate`` call, a summary table."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from serving.generation.tokens import generate

    config = config_from_args(args)
    client = client_from_args(args, args.model, args.version)
    console = Console(stderr=True)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=console, transient=True) as progress:
            task = progress.add_task(f"{args.model}: {config.num} melodies ({config.sampling} sampling)", total=None)
            results = generate(client, config, args.model,
                               on_step=lambda done, total: progress.update(task, completed=done, total=total))
    finally:
        client.close()
    Console().print(_summary(results, config))
    failed = [result for result in results if result.error]
    for result in failed:
        print(f"folkgen: error: seed {result.seed}: {result.error} (tokens in {result.paths['tokens']})", file=sys.stderr)
    return EXIT_ERROR if len(failed) == len(results) else 0


def _summary(results: list[GeneratedMelody], config: GenerationConfig) -> Table:
    """One row per melody: seed, notes, quarters, bars, files (or why it was not rendered)."""
    from rich.table import Table

    from serving.music import audio

    wav = f"; WAV by {audio.synthesiser()}" if "wav" in config.formats else ""
    table = Table(title=f"{len(results)} melodies in {config.out_dir}{wav}")
    for column in ("seed", "notes", "quarters", "bars"):
        table.add_column(column)
    table.add_column("longest run in a training tune", overflow="fold")
    table.add_column("files", overflow="fold")
    for result in results:
        melody, shared = result.melody, result.novelty
        if melody is None:
            table.add_row(str(result.seed), "-", "-", "-", shared, f"not rendered: {result.error}")
            continue
        bars = melody.quarters / float(melody.meter.bar_quarters)
        table.add_row(str(result.seed), str(melody.notes), f"{melody.quarters:g}", f"{bars:.1f}", shared,
                      " ".join(os.path.basename(path) for path in result.paths.values()))
    return table


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "generate": run_generate, "models": models_cli.run, "vae": vae_cli.run, "web": web.run}


if __name__ == "__main__":
    sys.exit(main())

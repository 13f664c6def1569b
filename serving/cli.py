"""``folkgen``: generate folk melodies from a served model, or list the served models.

    folkgen generate --model lstm_erk --primer twinkle --bars 16 --num 4 --temperature 0.8 \\
        --top-p 0.95 --seed 7 --key G --meter 3/4 --formats mid,musicxml,abc,svg,wav,png --out out/
    folkgen models
    folkgen vae sample|reconstruct|interpolate ...   (see serving/vae_cli.py)

Each command parses its flags into typed settings and calls one library function of
``serving.generation``. Bad input ends with one line ``folkgen: error: ...`` and a non-zero exit status.
"""
from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from collections.abc import Sequence

from google.protobuf import text_format
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from tensorflow_serving.config import model_server_config_pb2

from preprocessing.melody.events import EncodingError
from preprocessing.melody.keys import Key, Meter, parse_key, parse_meter, parse_pitch
from serving import client as model_client
from serving import vae_cli
from serving.contract.sampling import GREEDY, SamplingSettings
from serving.generation.codecs import DEFAULT_CHARACTER_STEPS, DEFAULT_PRIMER, DEFAULT_STEPS, stated_kind
from serving.generation.primers import NAMED_PRIMERS, PrimerSource
from serving.generation.token_model import MissingModelKindError
from serving.generation.tokens import SAMPLING_MODES, GeneratedMelody, GenerationConfig, generate
from serving.generation.tune_request import TuneRequest
from serving.music import audio, render

DEFAULT_GRPC_SERVER = "localhost:8500"
DEFAULT_REST_SERVER = "localhost:8501"
DEFAULT_MODELS_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models.config")
EXIT_ERROR = 1
EXIT_USAGE = 2


class _OneLineParser(argparse.ArgumentParser):
    """Reports a usage error as one line (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"folkgen: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The flags of every ``folkgen`` command."""
    parser = _OneLineParser(prog="folkgen", description="Generate folk melodies with a served model.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)

    gen = commands.add_parser("generate", help="sample melodies and write them as music files")
    gen.add_argument("--model", default="lstm_erk", help="served model name (default lstm_erk)")
    gen.add_argument("--version", type=int, help="model version (default: the newest)")
    primer = gen.add_mutually_exclusive_group()
    primer.add_argument("--primer", help=f"a named primer ({', '.join(NAMED_PRIMERS)}) or symbols such as '60 _ _ _ 62 _' "
                        f"(default: {DEFAULT_PRIMER} for timestep models, the header alone for ABC models)")
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
    gen.add_argument("--meter", help="meter, e.g. 3/4, 6/8 (default: the primer's, else 4/4)")
    rules = gen.add_argument_group(
        "hard constraints at decode time (on unless --free; with --key and --meter, by default the primer's, else C "
        "and 4/4). Each draw is renormalised over the tokens that keep a valid tune possible. Timestep "
        "models take all but --form; the ABC model all but --range, sampled on the client. Refused before sampling, "
        "with the reason: a primer longer than --bars or one the constraints cannot continue, a range without a "
        "scale note (or tonic, for --end tonic), --bars 0, --form on a timestep model, --steps too few for --bars")
    rules.add_argument("--bars", type=int, help="the tune's exact length in bars of --meter (default: at least 8 bars, "
                       "ending at a bar line within --steps)")
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
    gen.add_argument("--formats", default=",".join(render.DEFAULT_FORMATS),
                     help=f"comma-separated, of {','.join(render.FORMATS)} (default: all but png, the piano roll)")
    gen.add_argument("--tempo", type=float, default=render.DEFAULT_TEMPO_BPM, help="quarter notes per minute")
    gen.add_argument("--out", default="out", help="output folder")
    gen.add_argument("--sampling", choices=SAMPLING_MODES, default="client",
                     help="client: loop over the step signature here; server: the generate signature")
    _add_server_flags(gen)

    models = commands.add_parser("models", help="list served models, their kinds, versions and signatures")
    models.add_argument("--model", action="append", help="model name (repeatable; default: those in --config)")
    models.add_argument("--config", default=DEFAULT_MODELS_CONFIG, help="a models.config naming the models")
    _add_server_flags(models)
    vae_cli.add_vae_parser(commands, _add_server_flags)
    return parser


def _add_server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", help=f"host:port (default {DEFAULT_GRPC_SERVER}, {DEFAULT_REST_SERVER} with --rest)")
    parser.add_argument("--rest", action="store_true", help="use the REST API instead of gRPC")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--retry-seconds", type=float, default=model_client.RetryPolicy.window_s,
                        help="how long to retry a server that does not answer (one restarting; default %(default)s)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``folkgen`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "vae":
            return vae_cli.run(args, _server(args))
        return _generate(args) if args.command == "generate" else _list_models(args)
    except (ValueError, EncodingError, model_client.ClientError) as error:
        print(f"folkgen: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("folkgen: interrupted", file=sys.stderr)
        return EXIT_ERROR


def config_from_args(args: argparse.Namespace) -> GenerationConfig:
    """Validates the flags (ValueError naming a bad one) into a GenerationConfig."""
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


def _server(args: argparse.Namespace) -> str:
    """The --server flag, or the default address of the transport."""
    return args.server or (DEFAULT_REST_SERVER if args.rest else DEFAULT_GRPC_SERVER)


def _generate(args: argparse.Namespace) -> int:
    """``folkgen generate``: the flags as a GenerationConfig, one ``generate`` call, a summary table."""
    config = config_from_args(args)
    retry = model_client.RetryPolicy(timeout_s=args.timeout, window_s=args.retry_seconds)
    client = model_client.connect(_server(args), args.model, args.rest, args.version, retry)
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


def _list_models(args: argparse.Namespace) -> int:
    """``folkgen models``: each named model's kind (as its export states it), versions and signatures."""
    names = args.model or _names_in_config(args.config)
    table = Table(title=f"models at {_server(args)}")
    for column in ("model", "kind", "version", "state", "signatures"):
        table.add_column(column)
    for name in names:
        try:
            (_, statuses, signatures), = model_client.list_models(_server(args), [name], args.rest)
        except model_client.ModelNotFoundError:
            table.add_row(name, "-", "-", "not served", "")
            continue
        kind = _model_kind(args, name) if signatures else "-"
        for status in statuses:
            table.add_row(name, kind, str(status.version), status.state + (f" ({status.error})" if status.error else ""),
                          ", ".join(sorted(signatures)))
    Console().print(table)
    return 0


def _model_kind(args: argparse.Namespace, name: str) -> str:
    """The kind the served model states, or why it states none."""
    client = model_client.connect(_server(args), name, args.rest,
                                  retry=model_client.RetryPolicy(timeout_s=args.timeout, window_s=args.retry_seconds))
    try:
        return stated_kind(client)
    except MissingModelKindError:
        return "not stated (re-export it)"
    except ValueError:
        return "-"
    finally:
        client.close()


def _names_in_config(path: str) -> list[str]:
    """Model names listed in a TF Serving models.config (text-format ModelServerConfig)."""
    if not os.path.isfile(path):
        raise ValueError(f"models config {path!r} does not exist")
    with open(path, encoding="utf-8") as handle:
        try:
            config = text_format.Parse(handle.read(), model_server_config_pb2.ModelServerConfig())
        except text_format.ParseError as error:
            raise ValueError(f"cannot parse models config {path!r}: {error}") from None
    return [entry.name for entry in config.model_config_list.config]


if __name__ == "__main__":
    sys.exit(main())

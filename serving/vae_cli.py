"""``folkgen vae``: the flags of sample, reconstruct and interpolate, and the tables they print.

    folkgen vae sample --notes-model vae_notes_erk --rhythms-model vae_rhythms_erk --num 4 --seed 7 \\
        --key G --meter 3/4 --formats mid,musicxml,abc,svg,wav --out out/vae
    folkgen vae reconstruct --input tune.abc --out out/vae
    folkgen vae interpolate a.abc b.abc --steps 5 --out out/vae
    folkgen vae sample --model vae_melody_erk --num 4    # the joint melody VAE instead of the pair

The flags become a ``VaeSettings`` and one call of ``serving.generation.vae_melodies``; without
``--server`` the VAEs are loaded in this process (``serving.model_access``). Building the
parser imports no heavy module (TensorFlow, music21): ``run`` imports them.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from preprocessing.melody.keys import parse_key, parse_meter
from preprocessing.melody.vae_codes import OVERFLOW_POLICIES
from serving.cli_flags import client_from_args
from serving.music.formats import DEFAULT_FORMATS, DEFAULT_TEMPO_BPM, FORMATS

if TYPE_CHECKING:
    from rich.table import Table

    from serving.generation.vae_melodies import Agreement, Rendered, VaeSettings

DEFAULT_NOTES_MODEL = "vae_notes_erk"
DEFAULT_RHYTHMS_MODEL = "vae_rhythms_erk"
EXIT_ERROR = 1


def add_vae_parser(commands: argparse._SubParsersAction, add_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    """Registers ``vae sample|reconstruct|interpolate`` on folkgen's subcommands."""
    vae = commands.add_parser("vae", help="sample, reconstruct or interpolate melodies with the notes + rhythms VAEs (or --model, a melody VAE)")
    actions = vae.add_subparsers(dest="vae_command", required=True)

    sample = actions.add_parser("sample", help="decode melodies from random latents")
    sample.add_argument("--num", type=int, default=1, help="number of melodies")
    sample.add_argument("--seed", type=int, default=0, help="melody i uses seed + i")

    reconstruct = actions.add_parser("reconstruct", help="encode a tune, decode it, compare position by position")
    reconstruct.add_argument("--input", required=True, help="the tune: an ABC, MIDI or MusicXML file")

    between = actions.add_parser("interpolate", help="melodies on the line between two tunes' latent means")
    between.add_argument("start", help="tune A: an ABC, MIDI or MusicXML file")
    between.add_argument("end", help="tune B: an ABC, MIDI or MusicXML file")
    between.add_argument("--steps", type=int, default=5, help="melodies from A to B, both included")

    for parser in (sample, reconstruct, between):
        parser.add_argument("--notes-model", default=DEFAULT_NOTES_MODEL, help=f"notes VAE (default {DEFAULT_NOTES_MODEL})")
        parser.add_argument("--rhythms-model", default=DEFAULT_RHYTHMS_MODEL,
                            help=f"rhythms VAE (default {DEFAULT_RHYTHMS_MODEL})")
        parser.add_argument("--model", help="a joint melody VAE (e.g. vae_melody_erk) used instead of the two above")
        parser.add_argument("--key", help="key to write in, e.g. G, Em (default C / the input tune's)")
        parser.add_argument("--meter", help="meter, e.g. 3/4 (default 4/4 / the input tune's)")
        parser.add_argument("--formats", default=",".join(DEFAULT_FORMATS),
                            help=f"comma-separated, of {','.join(FORMATS)} (default: all but png)")
        parser.add_argument("--tempo", type=float, default=DEFAULT_TEMPO_BPM, help="quarter notes per minute")
        parser.add_argument("--out", default="out/vae", help="output folder")
        if parser is not sample:
            parser.add_argument("--overflow", choices=OVERFLOW_POLICIES, default="truncate",
                                help="a tune longer than the VAE length: keep its start (warning) or refuse")
        add_flags(parser)


def settings_from_args(args: argparse.Namespace) -> VaeSettings:
    """The output flags as VaeSettings (ValueError naming a bad one)."""
    from serving.generation.vae_melodies import VaeSettings

    return VaeSettings(
        out_dir=args.out, formats=tuple(name.strip() for name in args.formats.split(",") if name.strip()),
        key=parse_key(args.key) if args.key else None, meter=parse_meter(args.meter) if args.meter else None,
        tempo_bpm=args.tempo, overflow=getattr(args, "overflow", "truncate"))


def run(args: argparse.Namespace) -> int:
    """Runs ``folkgen vae <command>`` (models in process, or of --server); prints the tables."""
    from rich.console import Console

    from serving.generation import vae_melodies

    settings = settings_from_args(args)
    clients = []
    try:
        if args.model:
            from serving.generation.vae_joint import joint_vae

            clients.append(client_from_args(args, args.model))
            pair = joint_vae(clients[0], role="--model")
        else:
            for name in (args.notes_model, args.rhythms_model):
                clients.append(client_from_args(args, name))
            pair = vae_melodies.vae_pair(*clients, roles=("--notes-model", "--rhythms-model"))
        if args.vae_command == "sample":
            rendered = vae_melodies.sample(pair, args.num, args.seed, settings)
        elif args.vae_command == "reconstruct":
            rendered, agreement = vae_melodies.reconstruct(pair, args.input, settings)
            Console().print(_agreement_table(agreement))
        else:
            rendered = vae_melodies.interpolate_tunes(pair, args.start, args.end, args.steps, settings)
    finally:
        for client in clients:
            client.close()
    Console().print(_summary(rendered, settings.out_dir))
    failed = [melody for melody in rendered if melody.error]
    for melody in failed:
        print(f"folkgen: error: {melody.name}: {melody.error}", file=sys.stderr)
    return EXIT_ERROR if failed else 0


def _agreement_table(agreement: Agreement) -> Table:
    """The share of positions reconstructed right, and a strip per feature ('|' right, '.' wrong)."""
    import numpy as np
    from rich.table import Table

    positions = len(agreement.notes)
    table = Table(title=f"reconstruction of {positions} events")
    for column in ("feature", "right", "share", "per position ('|' right)"):
        table.add_column(column, overflow="fold")
    for feature, right in (("notes", agreement.notes), ("rhythms", agreement.rhythms), ("both", agreement.both)):
        share = float(np.mean(right)) if positions else 1.0
        strip = "".join("|" if position_right else "." for position_right in right)
        table.add_row(feature, f"{int(np.sum(right))}/{positions}", f"{share:.1%}", strip)
    return table


def _summary(rendered: list[Rendered], out_dir: str) -> Table:
    """One row per melody: events, notes, quarters, files (or why none)."""
    from rich.table import Table

    table = Table(title=f"{len(rendered)} melodies in {out_dir}")
    for column in ("melody", "events", "notes", "quarters"):
        table.add_column(column)
    table.add_column("files", overflow="fold")
    for melody in rendered:
        notes = sum(event.pitch is not None for event in melody.events)
        quarters = sum(event.quarters for event in melody.events)
        files = " ".join(os.path.basename(path) for path in melody.paths.values()) or f"not written: {melody.error}"
        table.add_row(melody.name, str(len(melody.events)), str(notes), f"{quarters:g}", files)
    return table

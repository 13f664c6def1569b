"""``folkgen vae``: sample, reconstruct and interpolate melodies with a served pair of dense VAEs.

    folkgen vae sample --notes-model vae_notes_erk --rhythms-model vae_rhythms_erk --num 4 --seed 7 \\
        --key G --meter 3/4 --formats mid,musicxml,abc,svg,wav --out out/vae
    folkgen vae reconstruct --input tune.abc --out out/vae
    folkgen vae interpolate a.abc b.abc --steps 5 --out out/vae

One VAE models the notes and the other the rhythms; position i of both makes event i of the
melody. Files are written as by ``folkgen generate`` (``serving.music.render``).
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from rich.console import Console
from rich.table import Table

from preprocessing.melody.events import Event
from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, Key, Meter, parse_key, parse_meter, transpose_events
from serving import client as model_client
from serving.generation.vae import (
    NOTES,
    OVERFLOW_POLICIES,
    RHYTHMS,
    Tune,
    VaeInfo,
    VaeModel,
    interpolate,
    join_codes,
    read_tune,
    tune_codes,
)
from serving.music import render

DEFAULT_NOTES_MODEL = "vae_notes_erk"
DEFAULT_RHYTHMS_MODEL = "vae_rhythms_erk"
EXIT_ERROR = 1


@dataclass(frozen=True)
class Rendered:
    """One melody written (``paths``) or not (``error``)."""

    name: str
    events: list[Event]
    paths: dict[str, str] = field(default_factory=dict)
    error: str = ""


def add_vae_parser(commands: argparse._SubParsersAction, add_server_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    """Registers ``vae sample|reconstruct|interpolate`` on folkgen's subcommands."""
    vae = commands.add_parser("vae", help="sample, reconstruct or interpolate melodies with the notes + rhythms VAEs")
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
        parser.add_argument("--notes-model", default=DEFAULT_NOTES_MODEL, help=f"served notes VAE (default {DEFAULT_NOTES_MODEL})")
        parser.add_argument("--rhythms-model", default=DEFAULT_RHYTHMS_MODEL,
                            help=f"served rhythms VAE (default {DEFAULT_RHYTHMS_MODEL})")
        parser.add_argument("--key", help="key to write in, e.g. G, Em (default C / the input tune's)")
        parser.add_argument("--meter", help="meter, e.g. 3/4 (default 4/4 / the input tune's)")
        parser.add_argument("--formats", default=",".join(render.FORMATS), help=f"comma-separated: {','.join(render.FORMATS)}")
        parser.add_argument("--tempo", type=float, default=render.DEFAULT_TEMPO_BPM, help="quarter notes per minute")
        parser.add_argument("--out", default="out/vae", help="output folder")
        if parser is not sample:
            parser.add_argument("--overflow", choices=OVERFLOW_POLICIES, default="truncate",
                                help="a tune longer than the VAE length: keep its start (warning) or refuse")
        add_server_flags(parser)


@dataclass(frozen=True)
class _Pair:
    """The served notes VAE and rhythms VAE, checked to be of those kinds."""

    notes: VaeModel
    rhythms: VaeModel
    notes_info: VaeInfo
    rhythms_info: VaeInfo

    def melody_events(self, notes: np.ndarray, rhythms: np.ndarray, stop_at_padding: bool = True) -> list[Event]:
        return join_codes(notes, rhythms, self.notes_info.pad_code, self.rhythms_info.pad_code, stop_at_padding)


def run(args: argparse.Namespace, server: str) -> int:
    """Runs ``folkgen vae <command>`` against the model server at ``server``."""
    formats = tuple(name.strip() for name in args.formats.split(",") if name.strip())
    unknown = [name for name in formats if name not in render.FORMATS]
    if unknown or not formats:
        raise ValueError(f"unknown format {(unknown or [args.formats])[0]!r}; expected some of {', '.join(render.FORMATS)}")
    retry = model_client.RetryPolicy(timeout_s=args.timeout)
    clients = [model_client.connect(server, name, args.rest, retry=retry) for name in (args.notes_model, args.rhythms_model)]
    try:
        notes, rhythms = VaeModel(clients[0]), VaeModel(clients[1])
        pair = _Pair(notes, rhythms, notes.require_kind(NOTES, "--notes-model"),
                     rhythms.require_kind(RHYTHMS, "--rhythms-model"))
        command = {"sample": _sample, "reconstruct": _reconstruct, "interpolate": _interpolate}[args.vae_command]
        rendered = command(args, pair, formats)
    finally:
        for client in clients:
            client.close()
    Console().print(_summary(rendered, args.out))
    failed = [melody for melody in rendered if melody.error]
    for melody in failed:
        print(f"folkgen: error: {melody.name}: {melody.error}", file=sys.stderr)
    return EXIT_ERROR if failed else 0


def _sample(args: argparse.Namespace, pair: _Pair, formats: tuple[str, ...]) -> list[Rendered]:
    if args.num < 1:
        raise ValueError(f"--num must be >= 1, got {args.num}")
    seeds = [args.seed + index for index in range(args.num)]
    notes, rhythms = pair.notes.sample(seeds), pair.rhythms.sample(seeds)
    key, meter = _key(args, C_MAJOR), _meter(args, COMMON_TIME)
    return [_render(f"vae_seed{seed}", pair.melody_events(note_row, rhythm_row), key, meter, args, formats)
            for seed, note_row, rhythm_row in zip(seeds, notes, rhythms)]


def _reconstruct(args: argparse.Namespace, pair: _Pair, formats: tuple[str, ...]) -> list[Rendered]:
    tune = read_tune(args.input)
    note_row, rhythm_row, kept = tune_codes(tune, pair.notes_info, pair.rhythms_info, args.overflow)
    rebuilt_notes = pair.notes.reconstruct(note_row[None])[0]
    rebuilt_rhythms = pair.rhythms.reconstruct(rhythm_row[None])[0]
    _print_agreement(note_row[:kept], rhythm_row[:kept], rebuilt_notes[:kept], rebuilt_rhythms[:kept])
    key, meter = _key(args, tune.key), _meter(args, tune.meter or COMMON_TIME)
    stem = _stem(tune)
    # Both melodies keep the tune's first `kept` positions, so they line up event by event.
    return [
        _render(f"{stem}_original", list(tune.events[:kept]), key, meter, args, formats),
        _render(f"{stem}_reconstruction", pair.melody_events(rebuilt_notes[:kept], rebuilt_rhythms[:kept], False),
                key, meter, args, formats),
    ]


def _interpolate(args: argparse.Namespace, pair: _Pair, formats: tuple[str, ...]) -> list[Rendered]:
    tunes = [read_tune(args.start), read_tune(args.end)]
    rows = [tune_codes(tune, pair.notes_info, pair.rhythms_info, args.overflow) for tune in tunes]
    note_means = pair.notes.encode(np.stack([row[0] for row in rows]))
    rhythm_means = pair.rhythms.encode(np.stack([row[1] for row in rows]))
    notes = pair.notes.decode(interpolate(note_means[0], note_means[1], args.steps))
    rhythms = pair.rhythms.decode(interpolate(rhythm_means[0], rhythm_means[1], args.steps))
    key, meter = _key(args, tunes[0].key), _meter(args, tunes[0].meter or COMMON_TIME)
    stem = f"{_stem(tunes[0])}_to_{_stem(tunes[1])}"
    return [_render(f"{stem}_step{step}", pair.melody_events(note_row, rhythm_row), key, meter, args, formats)
            for step, (note_row, rhythm_row) in enumerate(zip(notes, rhythms))]


def _render(name: str, events: list[Event], key: Key, meter: Meter, args: argparse.Namespace,
            formats: tuple[str, ...]) -> Rendered:
    """Writes one melody (events in C major / A minor) in ``key``; a melody without notes is an error."""
    if not any(event.pitch is not None for event in events):
        return Rendered(name, events, error=f"no notes before the padding ({len(events)} events), nothing written")
    melody = render.Melody(tuple(transpose_events(events, key.semitones_from_c())), key, meter, name)
    return Rendered(name, events, render.write_formats(melody, formats, args.out, name, args.tempo))


def _key(args: argparse.Namespace, default: Key) -> Key:
    return parse_key(args.key) if args.key else default


def _meter(args: argparse.Namespace, default: Meter) -> Meter:
    return parse_meter(args.meter) if args.meter else default


def _stem(tune: Tune) -> str:
    return os.path.splitext(os.path.basename(tune.source))[0]


def _print_agreement(notes: np.ndarray, rhythms: np.ndarray, rebuilt_notes: np.ndarray, rebuilt_rhythms: np.ndarray) -> None:
    """Prints the share of positions reconstructed right, and a strip per feature ('|' right, '.' wrong)."""
    positions = len(notes)
    table = Table(title=f"reconstruction of {positions} events")
    for column in ("feature", "right", "share", "per position ('|' right)"):
        table.add_column(column, overflow="fold")
    notes_right, rhythms_right = notes == rebuilt_notes, rhythms == rebuilt_rhythms
    for feature, right in (("notes", notes_right), ("rhythms", rhythms_right), ("both", notes_right & rhythms_right)):
        share = float(np.mean(right)) if positions else 1.0
        strip = "".join("|" if position_right else "." for position_right in right)
        table.add_row(feature, f"{int(np.sum(right))}/{positions}", f"{share:.1%}", strip)
    Console().print(table)


def _summary(rendered: list[Rendered], out_dir: str) -> Table:
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

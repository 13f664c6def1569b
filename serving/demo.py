"""``make demo``: serve the trained models, generate melodies in every format, stop the server.

    python -m serving.demo --saved-models saved_models --out out/demo

Starts ``python -m serving.server`` on free ports in the background, generates melodies from each
token model with client-side sampling under the hard constraints (16 bars ending on the tonic;
the timestep LSTMs from the primer "Ah vous dirais-je maman", the character model from an ABC
header of a jig in D, the key and meter its state machine takes), samples melodies from the notes
and rhythms VAEs (as ``folkgen vae sample``), writes them under ``OUT/<model>/`` and ``OUT/vae/``,
prints where they are, and stops the server (on errors too).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from serving import client as model_client
from serving.contract import signatures as sig
from serving.contract import versions
from serving.contract.sampling import SamplingSettings
from serving.generation import vae_melodies
from serving.generation.primers import PrimerSource
from serving.generation.token_model import TokenModel
from serving.generation.tokens import GeneratedMelody, GenerationConfig, generate
from serving.generation.tune_request import TuneRequest
from serving.model_server.launcher import start_subprocess

DEFAULT_MODELS = ("lstm_erk", "lstm_han", "abc_irish")
DEFAULT_VAES = ("vae_notes_erk", "vae_rhythms_erk")
# A character model starts from an ABC header (its M: and K: are the constraints' meter and key);
# top-p 0.9 is the setting under which abc_irish's tunes parse and fill their bars
# (saved_models/README.md).
ABC_PRIMER = "X:1\nL:1/8\nM:6/8\nK:D\n"
TIMESTEP_SAMPLING = SamplingSettings(temperature=0.9, top_k=0, top_p=0.95)
CHARACTER_SAMPLING = SamplingSettings(temperature=1.0, top_k=0, top_p=0.9)
SERVER_START_TIMEOUT_S = 300.0
# The timestep LSTMs write this many bars of 4/4 in C, ending on the tonic (decode-time constraints).
DEFAULT_BARS = 16


def exported_models(saved_models: Path, names: Sequence[str]) -> list[str]:
    """The names, checked to have an exported integer version; ValueError naming a missing one."""
    for name in names:
        base = saved_models / name
        if not versions.list_versions(base):
            raise ValueError(f"no exported version of model {name!r} under {str(base)!r}: "
                             "train it first (`make pipeline`)")
    return list(names)


def write_models_config(saved_models: Path, names: Sequence[str], path: Path) -> None:
    """A TF Serving models.config serving ``saved_models/<name>`` for each name."""
    entries = "".join(f'  config {{\n    name: "{name}"\n    base_path: "{(saved_models / name).absolute()}"\n'
                      f'    model_platform: "tensorflow"\n  }}\n' for name in names)
    path.write_text(f"model_config_list {{\n{entries}}}\n", encoding="utf-8")


def run_demo(saved_models: Path, out_dir: Path, names: Sequence[str], num: int, bars: int, seed: int,
             vaes: Sequence[str] = ()) -> dict[str, list[GeneratedMelody]]:
    """Serves ``names`` (and the notes and rhythms VAEs ``vaes``, if given) from ``saved_models``,
    writes ``num`` melodies per model under ``out_dir``; returns the GeneratedMelody results per
    token model."""
    if vaes and len(vaes) != 2:
        raise ValueError(f"give two VAEs (notes, rhythms), got {list(vaes)}")
    names = exported_models(saved_models, names)
    served = names + exported_models(saved_models, vaes)
    results = {}
    with tempfile.TemporaryDirectory(prefix="folkgen-demo-") as scratch:
        config_path = Path(scratch) / "models.config"
        write_models_config(saved_models, served, config_path)
        with start_subprocess(served, model_config_file=config_path, timeout=SERVER_START_TIMEOUT_S) as server:
            for name in names:
                client = model_client.GrpcModelClient(server.grpc_address, name)
                try:
                    results[name] = generate(client, _generation_config(client, out_dir / name, num, bars, seed), name)
                finally:
                    client.close()
            if vaes:
                _sample_vaes(server.grpc_address, vaes, out_dir / "vae", num, seed)
    return results


def _generation_config(client: model_client.ModelClient, out_dir: Path, num: int, bars: int,
                       seed: int) -> GenerationConfig:
    """The demo's settings: ``bars`` bars ending on the tonic, from the twinkle primer, or from an ABC
    header for a character model (the kind the export states)."""
    characters = TokenModel(client).model_kind == sig.TOKEN_CHARACTERS
    return GenerationConfig(
        primer=PrimerSource(abc=ABC_PRIMER) if characters else PrimerSource(name="twinkle"),
        num=num,
        settings=CHARACTER_SAMPLING if characters else TIMESTEP_SAMPLING, seed=seed, out_dir=str(out_dir),
        constraints=TuneRequest(bars=bars))


def _sample_vaes(address: str, vaes: Sequence[str], out_dir: Path, num: int, seed: int) -> None:
    """``num`` melodies from the notes VAE ``vaes[0]`` and rhythms VAE ``vaes[1]``; RuntimeError if one fails."""
    clients = [model_client.GrpcModelClient(address, name) for name in vaes]
    try:
        rendered = vae_melodies.sample(vae_melodies.vae_pair(*clients), num, seed,
                                       vae_melodies.VaeSettings(out_dir=str(out_dir)))
    finally:
        for client in clients:
            client.close()
    failed = [melody for melody in rendered if melody.error]
    if failed:
        raise RuntimeError(f"VAE melody {failed[0].name} from {list(vaes)} not written: {failed[0].error}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m serving.demo`."""
    parser = argparse.ArgumentParser(prog="python -m serving.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--saved-models", type=Path, default=Path("saved_models"))
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated token model names")
    parser.add_argument("--vaes", default=",".join(DEFAULT_VAES),
                        help="the notes and rhythms VAEs, comma-separated ('' to skip them)")
    parser.add_argument("--num", type=int, default=2, help="melodies per model")
    parser.add_argument("--bars", type=int, default=DEFAULT_BARS, help="bars per melody (ending on the tonic)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    console = Console()
    try:
        with console.status("starting the model server and generating melodies..."):
            results = run_demo(args.saved_models, args.out, _names(args.models), args.num, args.bars, args.seed,
                               _names(args.vaes))
    except (ValueError, RuntimeError, model_client.ClientError) as error:
        print(f"demo: error: {error}", file=sys.stderr)
        return 1
    table = Table(title=f"Folkgen demo: melodies in {os.fspath(args.out)}")
    for column in ("model", "seed", "notes", "longest run in a training tune", "files"):
        table.add_column(column)
    for name, melodies in results.items():
        for melody in melodies:
            notes = str(melody.melody.notes) if melody.melody else f"not rendered: {melody.error}"
            table.add_row(name, str(melody.seed), notes, melody.novelty, "\n".join(melody.paths.values()))
    console.print(table)
    return 0


def _names(text: str) -> list[str]:
    """A comma-separated list of names."""
    return [name.strip() for name in text.split(",") if name.strip()]


if __name__ == "__main__":
    sys.exit(main())

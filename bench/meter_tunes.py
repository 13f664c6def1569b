"""Issue 13: where tunes put their notes in the bar, the seed's LSTMs beside the meter-aware ones, in one run.

    python bench/meter_tunes.py [--tunes 200] [--data-root data] [--models lstm_erk,lstm_meter_erk,...]
        [--output report.json]

One `python -m serving.server` serves the models; each writes `--tunes` tunes (seeds 0..N-1) per
row with `folkgen generate`'s defaults (its flags parsed with --model, --num, --seed, --formats abc
and the row's own: client-side sampling at temperature 1, at least 8 bars ending on the tonic in
C major), read back by ``bench/tune_metrics.py``. Rows: `defaults` (the default primer, twinkle:
quarter and half notes in 4/4), then `--primer /` (no notes to continue) with `--meter` 4/4, 2/4 and 3/4.
Columns, over the notes after the primer:
 dur q       mean note duration, quarters; ratio: over the corpus's (its training split; for a
             --meter row, its tunes in that meter)
 tonic       tunes whose last note is the tonic
 rest@1      bars whose downbeat sounds a rest (struck or held)
 tie@mid     bars with a note held through the bar's middle step (a note sounding across beat
             steps/2 that began before it), where the meter has an even number of beats
 bars        mean length in bars
Corpus rows are the training split's songs (all, and those in each row's meter) cut into bars from
their own pickup.
Target (issue 13): a meter-aware model's mean duration within 15% of its corpus's.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from bench import tune_metrics as tm  # noqa: E402
from bench.tune_constraints import corpus_facts  # noqa: E402
from preprocessing.melody.keys import C_MAJOR, COMMON_TIME  # noqa: E402
from preprocessing.melody.timestep import DELIMITER, HOLD, REST, split_songs  # noqa: E402
from serving import cli  # noqa: E402
from serving import client as serving_client  # noqa: E402
from serving.contract import signatures as sig  # noqa: E402
from serving.contract.bar_position import bar_steps_of  # noqa: E402
from serving.demo import write_models_config  # noqa: E402
from serving.generation.tokens import generate  # noqa: E402
from serving.model_server.launcher import start_subprocess  # noqa: E402

logger = logging.getLogger("bench.meter_tunes")

CORPORA = {"lstm_erk": "erk", "lstm_meter_erk": "erk", "lstm_han": "han", "lstm_meter_han": "han"}
ROWS = {"defaults": [], "primer / 4/4": ["--primer", "/", "--meter", "4/4"], "primer / 2/4": ["--primer", "/", "--meter", "2/4"],
        "primer / 3/4": ["--primer", "/", "--meter", "3/4"]}
MAX_RATIO_GAP = 0.15


def bar_facts(steps: list[str], pickup: int, bar: int) -> tuple[int, int, int]:
    """(bars, bars with a rest on the downbeat, bars with a note held through their middle) of one
    tune's steps (no ``/``), bars cut from ``pickup``; a pickup bar is not counted."""
    sounding, onset, bars, rests, ties = None, 0, 0, 0, 0
    middle = bar // 2
    for step, symbol in enumerate(steps):
        if symbol != HOLD:
            sounding, onset = symbol, step
        position = (step - pickup) % bar
        if step < pickup:
            continue
        if position == 0:
            bars += 1
            rests += sounding == REST
        if position == middle and sounding not in (None, REST) and onset < step:
            ties += 1
    return bars, rests, ties


def tune_row(facts: list[tm.TuneFacts], bars: list[tuple[int, int, int]], corpus_quarters: float | None) -> dict:
    """The columns of one model's (or the corpus's) tunes."""
    summary = tm.summary(facts, None, None, measured_bars=False)
    total = sum(count for count, _, _ in bars)
    mean = summary["mean_quarters"]
    return {"tunes": len(facts), "mean_quarters": mean, "tonic": summary["tonic"],
            "rest_on_downbeat": sum(rests for _, rests, _ in bars) / total if total else None,
            "tie_through_middle": sum(ties for _, _, ties in bars) / total if total else None,
            "mean_bars": total / len(bars) if bars else None,
            "ratio": mean / corpus_quarters if mean is not None and corpus_quarters else None}


def corpus_rows(data_dir: str) -> dict[str, dict]:
    """The training split's songs, each cut into bars from its own meter and pickup: all of them
    (``"all"``) and those of each meter (by its name)."""
    import tensorflow_datasets as tfds  # noqa: PLC0415 (heavy: only here)

    facts = corpus_facts(sig.TOKEN_TIMESTEP, data_dir, "train")  # in the order of the examples below
    by_meter: dict[str, tuple[list, list]] = {"all": ([], [])}
    examples = (example for example in tfds.builder_from_directory(data_dir).as_dataset(split="train").as_numpy_iterator()
                if len(example["timestep"]))
    for fact, example in zip(facts, examples):
        meter = example["meter"].decode()
        bar = bar_steps_of(meter)
        cut = bar_facts([symbol.decode() for symbol in example["timestep"]], int(example.get("pickup", 0)) % bar, bar)
        for name in ("all", meter):
            by_meter.setdefault(name, ([], []))[0].append(fact)
            by_meter[name][1].append(cut)
    return {name: tune_row(tunes, cuts, None) for name, (tunes, cuts) in by_meter.items()}


def model_row(address: str, name: str, tunes: int, out_dir: str, flags: list[str], corpus: dict[str, dict]) -> dict:
    """``tunes`` tunes of ``name`` with the CLI's defaults and ``flags``, and the seconds they took."""
    args = cli.build_parser().parse_args(["generate", "--model", name, "--num", str(tunes), "--seed", "0",
                                          "--formats", "abc", "--out", out_dir, *flags])
    config = cli.config_from_args(args)
    client = serving_client.connect(address, name)
    began = time.perf_counter()
    try:
        written = generate(client, config, name)
    finally:
        client.close()
    seconds = time.perf_counter() - began
    meter = config.meter or COMMON_TIME
    facts, bars = [], []
    for melody in written:
        tokens = list(melody.tokens)
        facts.append(tm.timestep_facts(tokens, melody.primer_length, C_MAJOR, meter))
        tune = split_songs(tokens)[-1] if tokens[-1] != DELIMITER else split_songs(tokens[:-1])[-1]
        bars.append(bar_facts(tune, 0, bar_steps_of(str(meter))))
    same_meter = corpus.get(str(meter), {}).get("mean_quarters") if config.meter else corpus["all"]["mean_quarters"]
    row = tune_row(facts, bars, same_meter)
    row.update(seconds=seconds, ended=sum(fact.ended for fact in facts) / len(facts))
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tunes", type=int, default=200)
    parser.add_argument("--models", default=",".join(CORPORA), help=f"comma-separated, of {', '.join(CORPORA)}")
    parser.add_argument("--saved-models", type=pathlib.Path, default=pathlib.Path("saved_models"))
    parser.add_argument("--data-root", default="data", help="holds the corpora erk and han (with the pickup feature)")
    parser.add_argument("--output", help="write the report as JSON here")
    args = parser.parse_args(argv)
    names = [name for name in args.models.split(",") if name]
    if unknown := sorted(set(names) - set(CORPORA)):
        parser.error(f"unknown models {unknown}; known: {sorted(CORPORA)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    report: dict[str, dict] = {}
    corpora = {corpus: corpus_rows(os.path.join(args.data_root, corpus)) for corpus in sorted({CORPORA[n] for n in names})}
    with tempfile.TemporaryDirectory(prefix="bench-meter-") as scratch:
        config = pathlib.Path(scratch) / "models.config"
        write_models_config(args.saved_models, names, config)
        with start_subprocess(names, model_config_file=config) as running:
            for name in names:
                for row, flags in ROWS.items():
                    report[f"{name} {row}"] = model_row(running.grpc_address, name, args.tunes,
                                                        os.path.join(scratch, name), flags, corpora[CORPORA[name]])
                    logger.info("%s %s: %s", name, row, report[f"{name} {row}"])
    columns = ("mean_quarters", "ratio", "tonic", "rest_on_downbeat", "tie_through_middle", "mean_bars")
    print(f"# {args.tunes} tunes per model, folkgen generate's defaults (seeds 0..{args.tunes - 1})")
    print(f"{'':<30}" + "".join(f"{column:>19}" for column in columns))
    corpus_lines = [(f"corpus {name} {meter}", row) for name, rows in corpora.items() for meter, row in rows.items()
                    if meter in ("all", "4/4", "2/4", "3/4")]
    for label, row in [*report.items(), *corpus_lines]:
        print(f"{label:<30}" + "".join(f"{'n/a' if row.get(c) is None else f'{row[c]:.3f}':>19}" for c in columns))
    for name, row in report.items():
        if "meter" in name:
            met = row["ratio"] is not None and abs(row["ratio"] - 1) <= MAX_RATIO_GAP
            print(f"target {name}: mean duration within {MAX_RATIO_GAP:.0%} of the corpus's: {'met' if met else 'NOT met'}")
    if args.output:
        pathlib.Path(args.output).write_text(json.dumps({"models": report, "corpora": corpora}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

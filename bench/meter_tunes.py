"""Issue 13: where tunes put their notes in the bar, the seed's LSTMs beside the meter-aware ones, in one run.

    python bench/meter_tunes.py [--tunes 200] [--data-root data] [--models lstm_erk,lstm_meter_erk,...]
        [--first-seed 0] [--output report.json]

One `python -m serving.server` serves the models; each writes `--tunes` tunes per row (seeds from
`--first-seed` on, 0 by default) with `folkgen generate`'s defaults (its flags parsed with
--model, --num, --seed, --formats abc and the row's own: client-side sampling at temperature 1,
at least 8 bars ending on the tonic in C major), read back by ``bench/tune_metrics.py``. Rows:
`defaults` (the default primer: twinkle, quarter and half notes in 4/4, for the seed's models;
none for a meter-aware model, whose tunes are in the meter most of its training tunes are in,
4/4 for erk's and 2/4 for han's, and each take a training tune's length and pickup in it, drawn
per seed from its export's `tune_frames`), `--end any` (the model's own endings), then
`--primer /` (no notes to continue) with `--meter` 4/4, 2/4 and 3/4. Generated bars are cut from
each tune's own pickup.
Columns, over the notes after the primer:
 mean_quar  mean note duration, quarters; ratio: over the corpus's tunes in the meter written
            (the row's, else the model's default)
 tonic      tunes whose last note is the tonic
 rest_on_d  bars whose downbeat sounds a rest (struck or held)
 tie_throu  bars with a note held through the bar's middle step (a note sounding across beat
            steps/2 that began before it), where the meter has an even number of beats
 last_beat  tunes whose last note is struck on the last beat of a bar (counted from the pickup;
            a generated tune then holds it to its final bar line)
 mean_bars  mean length in bars
 pc_entrop  pitch-class entropy of a tune's notes, bits, the mean over tunes (the JSON has the SD)
 range      a tune's highest pitch less its lowest, semitones, the mean over tunes
 copy       tunes holding a run of 8 pitches found verbatim in the training split (corpus: its
            test split's tunes)
 copied_ru  the share of the tunes' runs of 8 pitches (all of them, pooled) found verbatim there
 self_repe  the share of the tunes' runs of 8 pitches (pooled) that repeat an earlier run of their
            own tune (a tune's form: real tunes repeat phrases)
Corpus rows are the training split's songs (all, and those in each row's meter) cut into bars from
their own pickup.
Targets (issue 13), for each meter-aware model: with the defaults, the mean duration within 15% of
the corpus's, entropy and range within one standard deviation of the corpus's, copy no higher than
the test split's; with `--end any`, the tonic share at least the corpus's.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import pathlib
import sys
import tempfile
import time
from typing import NamedTuple

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from bench import tune_metrics as tm  # noqa: E402
from bench.tune_constraints import corpus_facts  # noqa: E402
from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, parse_meter  # noqa: E402
from preprocessing.melody.timestep import DELIMITER, HOLD, REST, split_songs  # noqa: E402
from serving import cli  # noqa: E402
from serving import client as serving_client  # noqa: E402
from serving.contract import signatures as sig  # noqa: E402
from serving.contract.bar_position import bar_steps_of  # noqa: E402
from serving.demo import write_models_config  # noqa: E402
from serving.generation.timestep_constraints import beat_steps  # noqa: E402
from serving.generation.tokens import generate  # noqa: E402
from serving.model_server.launcher import start_subprocess  # noqa: E402

logger = logging.getLogger("bench.meter_tunes")

CORPORA = {"lstm_erk": "erk", "lstm_meter_erk": "erk", "lstm_han": "han", "lstm_meter_han": "han"}
ROWS = {"defaults": [], "--end any": ["--end", "any"], "primer / 4/4": ["--primer", "/", "--meter", "4/4"],
        "primer / 2/4": ["--primer", "/", "--meter", "2/4"], "primer / 3/4": ["--primer", "/", "--meter", "3/4"]}
MAX_RATIO_GAP = 0.15


class BarFacts(NamedTuple):
    """One tune's bars, bars with a rest on the downbeat, bars with a note held through their
    middle, and whether its last note is struck on the last beat of a bar (1 or 0)."""

    bars: int
    rests: int
    ties: int
    last_beat: int


def beat_steps_of(meter: str) -> int:
    """Steps per beat of a meter's name (``timestep_constraints.beat_steps``; a quarter for a name it cannot read)."""
    try:
        return beat_steps(parse_meter(meter))
    except ValueError:
        return 4


def bar_facts(steps: list[str], pickup: int, bar: int, beat: int = 4) -> BarFacts:
    """The ``BarFacts`` of one tune's steps (no ``/``), bars of ``bar`` steps and beats of ``beat``
    cut from ``pickup``; a pickup bar is not counted."""
    sounding, onset, bars, rests, ties, last_struck = None, 0, 0, 0, 0, None
    middle = bar // 2
    for step, symbol in enumerate(steps):
        if symbol != HOLD:
            sounding, onset = symbol, step
            last_struck = step if symbol != REST else last_struck
        position = (step - pickup) % bar
        if step < pickup:
            continue
        if position == 0:
            bars += 1
            rests += sounding == REST
        if position == middle and sounding not in (None, REST) and onset < step:
            ties += 1
    last_beat = last_struck is not None and (last_struck - pickup) % bar == bar - beat
    return BarFacts(bars, rests, ties, int(last_beat))


def _mean_sd(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((value - mean) ** 2 for value in values) / len(values))


def tune_row(facts: list[tm.TuneFacts], bars: list[BarFacts], corpus_quarters: float | None,
             runs: set | None = None) -> dict:
    """The columns of one model's (or the corpus's) tunes; per-tune pitch-class entropy (bits) and
    range (semitones) as mean and standard deviation over the tunes with new notes."""
    summary = tm.summary(facts, None, runs, measured_bars=False)
    total = sum(tune.bars for tune in bars)
    mean = summary["mean_quarters"]
    pitches = [[pitch for pitch, _ in tune.new_notes] for tune in facts if tune.new_notes]
    entropy, entropy_sd = _mean_sd([tm.pc_entropy_bits(tune) for tune in pitches])
    spread, spread_sd = _mean_sd([float(max(tune) - min(tune)) for tune in pitches])
    return {"tunes": len(facts), "mean_quarters": mean, "tonic": summary["tonic"],
            "rest_on_downbeat": sum(tune.rests for tune in bars) / total if total else None,
            "tie_through_middle": sum(tune.ties for tune in bars) / total if total else None,
            "last_beat": sum(tune.last_beat for tune in bars) / len(bars) if bars else None,
            "mean_bars": total / len(bars) if bars else None,
            "ratio": mean / corpus_quarters if mean is not None and corpus_quarters else None,
            "pc_entropy": entropy, "pc_entropy_sd": entropy_sd, "range": spread, "range_sd": spread_sd,
            "copy": summary["copy"], "copied_runs": summary["copied_runs"], "self_repeats": tm.self_repeat_share(facts)}


def corpus_rows(data_dir: str) -> tuple[dict[str, dict], set]:
    """(the training split's songs, each cut into bars from its own meter and pickup: all of them
    (``"all"``, with ``copy`` and ``self_repeats`` those of the test split's tunes, copy against the
    training runs) and those of each meter (by its name); the training split's 8-pitch runs)."""
    import tensorflow_datasets as tfds  # noqa: PLC0415 (heavy: only here)

    facts = corpus_facts(sig.TOKEN_TIMESTEP, data_dir, "train")  # in the order of the examples below
    by_meter: dict[str, tuple[list, list]] = {"all": ([], [])}
    examples = (example for example in tfds.builder_from_directory(data_dir).as_dataset(split="train").as_numpy_iterator()
                if len(example["timestep"]))
    for fact, example in zip(facts, examples):
        meter = example["meter"].decode()
        bar = bar_steps_of(meter)
        cut = bar_facts([symbol.decode() for symbol in example["timestep"]], int(example.get("pickup", 0)) % bar, bar,
                        beat_steps_of(meter))
        for name in ("all", meter):
            by_meter.setdefault(name, ([], []))[0].append(fact)
            by_meter[name][1].append(cut)
    rows = {name: tune_row(tunes, cuts, None) for name, (tunes, cuts) in by_meter.items()}
    runs = tm.training_runs(facts)
    test_facts = corpus_facts(sig.TOKEN_TIMESTEP, data_dir, "test")
    test = tm.summary(test_facts, None, runs)
    rows["all"].update(copy=test["copy"], copied_runs=test["copied_runs"], self_repeats=tm.self_repeat_share(test_facts))
    return rows, runs


def model_row(address: str, name: str, tunes: int, out_dir: str, flags: list[str], corpus: dict[str, dict],
              runs: set, first_seed: int = 0) -> dict:
    """``tunes`` tunes of ``name`` with the CLI's defaults and ``flags``, and the seconds they took;
    ratio: the mean duration over the corpus tunes' in the meter written (the request's, else the
    model's usual one: 4/4 for the seed's models and erk's, 2/4 for han's)."""
    args = cli.build_parser().parse_args(["generate", "--model", name, "--num", str(tunes), "--seed", str(first_seed),
                                          "--formats", "abc", "--out", out_dir, *flags])
    config = cli.config_from_args(args)
    client = serving_client.connect(address, name)
    began = time.perf_counter()
    try:
        written = generate(client, config, name)
    finally:
        client.close()
    seconds = time.perf_counter() - began
    meters = {melody.melody.meter for melody in written if melody.melody is not None} or {config.meter or COMMON_TIME}
    if len(meters) != 1:
        raise ValueError(f"{name}'s tunes were written in several meters: {sorted(map(str, meters))}")
    meter = meters.pop()  # the request's, else the model's usual one
    facts, bars = [], []
    for melody in written:
        tokens = list(melody.tokens)
        facts.append(tm.timestep_facts(tokens, melody.primer_length, C_MAJOR, meter))
        tune = split_songs(tokens)[-1] if tokens[-1] != DELIMITER else split_songs(tokens[:-1])[-1]
        pickup = melody.melody.pickup_steps if melody.melody is not None else 0
        bars.append(bar_facts(tune, pickup, bar_steps_of(str(meter)), beat_steps(meter)))
    row = tune_row(facts, bars, corpus.get(str(meter), corpus["all"])["mean_quarters"], runs)
    row.update(meter=str(meter), seconds=seconds, ended=sum(fact.ended for fact in facts) / len(facts),
               ratio_all=row["mean_quarters"] / corpus["all"]["mean_quarters"])
    return row


def _within_sd(row: dict, corpus: dict, column: str) -> bool:
    return abs(row[column] - corpus[column]) <= corpus[f"{column}_sd"]


def target_lines(name: str, report: dict, corpus: dict[str, dict]) -> list[str]:
    """Issue 13's generation targets for one meter-aware model: with the defaults, the mean duration
    within 15% of the corpus's (its tunes in the meter written), per-tune pitch-class entropy and
    range within one standard deviation of the corpus's, copy no higher than the test split's; with
    `--end any` (the model's own endings), the tonic share at least the corpus's."""
    defaults, free_end, whole = report[f"{name} defaults"], report[f"{name} --end any"], corpus["all"]
    checks = {
        f"mean duration within {MAX_RATIO_GAP:.0%}": defaults["ratio"] is not None
        and abs(defaults["ratio"] - 1) <= MAX_RATIO_GAP,
        "pitch-class entropy within one SD": _within_sd(defaults, whole, "pc_entropy"),
        "pitch range within one SD": _within_sd(defaults, whole, "range"),
        "copy rate at most the test split's": defaults["copy"] <= whole["copy"],
        f"tonic ending with --end any at least the corpus's ({whole['tonic']:.2f})": free_end["tonic"] >= whole["tonic"],
    }
    return [f"target {name}: {label}: {'met' if met else 'NOT met'}" for label, met in checks.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tunes", type=int, default=200)
    parser.add_argument("--models", default=",".join(CORPORA), help=f"comma-separated, of {', '.join(CORPORA)}")
    parser.add_argument("--saved-models", type=pathlib.Path, default=pathlib.Path("saved_models"))
    parser.add_argument("--data-root", default="data", help="holds the corpora erk and han (with the pickup feature)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the first seed (choose between models on another range than the one reported)")
    parser.add_argument("--output", help="write the report as JSON here")
    args = parser.parse_args(argv)
    names = [name for name in args.models.split(",") if name]
    if unknown := sorted(set(names) - set(CORPORA)):
        parser.error(f"unknown models {unknown}; known: {sorted(CORPORA)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    report: dict[str, dict] = {}
    corpora, runs = {}, {}
    for corpus in sorted({CORPORA[n] for n in names}):
        corpora[corpus], runs[corpus] = corpus_rows(os.path.join(args.data_root, corpus))
    with tempfile.TemporaryDirectory(prefix="bench-meter-") as scratch:
        config = pathlib.Path(scratch) / "models.config"
        write_models_config(args.saved_models, names, config)
        with start_subprocess(names, model_config_file=config) as running:
            for name in names:
                for row, flags in ROWS.items():
                    report[f"{name} {row}"] = model_row(running.grpc_address, name, args.tunes,
                                                        os.path.join(scratch, name), flags, corpora[CORPORA[name]],
                                                        runs[CORPORA[name]], args.first_seed)
                    logger.info("%s %s: %s", name, row, report[f"{name} {row}"])
    columns = ("mean_quarters", "ratio", "tonic", "rest_on_downbeat", "tie_through_middle", "last_beat", "mean_bars",
               "pc_entropy", "range", "copy", "copied_runs", "self_repeats")
    seeds = f"{args.first_seed}..{args.first_seed + args.tunes - 1}"
    print(f"# {args.tunes} tunes per model, folkgen generate's defaults (seeds {seeds})")
    print(f"{'':<30}" + "".join(f"{column[:9]:>10}" for column in columns))
    corpus_lines = [(f"corpus {name} {meter}", row) for name, rows in corpora.items() for meter, row in rows.items()
                    if meter in ("all", "4/4", "2/4", "3/4")]
    for label, row in [*report.items(), *corpus_lines]:
        print(f"{label:<30}" + "".join(f"{'n/a' if row.get(c) is None else f'{row[c]:.3f}':>10}" for c in columns))
    for name in names:
        if "meter" in name:
            print("\n".join(target_lines(name, report, corpora[CORPORA[name]])))
    if args.output:
        pathlib.Path(args.output).write_text(json.dumps({"models": report, "corpora": corpora}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

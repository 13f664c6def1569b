"""Hard constraints at decode time (issue 11), measured side by side in one run: what they give and cost.

    python bench/tune_constraints.py [--tunes 200] [--data-root data] [--models lstm_erk,lstm_han,abc_irish]
        [--repeats 2] [--abc-steps 1500] [--output report.json] [--failures DIR]

One `python -m serving.server` serves the committed models; per model, rows of `--tunes` tunes (seeds
0..N-1, temperature 1.0, top-p 0.95) sampled on the client over `step` in --batch rows of continuous
batching (`sample_in_slots`: a row whose tune ends starts the next), and for timestep models also on
the server (`generate`, the same rules); tok/s from the fastest of --repeats passes, rows in turn:
- timestep models (primer "twinkle"): `unconstrained` (256 steps), `bars16_tonic` (C, 4/4),
  `G_3/4_bars16_tonic`; ABC models: `unconstrained` (primer "X:1\\n", --abc-steps characters, cut at the end
  of the first tune), `bars16_tonic` (C, 4/4), `D_6/8_bars16_tonic`, `G_4/4_bars16_tonic` (the request's
  header as primer). Every request ends on the tonic.
Columns (shares 0..1; tunes are read by parsers that are not the state machines, see bench/tune_metrics.py):
 new    tunes with at least one note struck after the primer
 bars   tunes that end at exactly the asked bars; unconstrained rows: tunes that end (end symbol /
        blank line) at a whole bar
 full   bars that fill the meter (timestep: bars cut from the tune's first step, so only a last bar can
        fall short; ABC: abc_quality's share, a pickup and the bar completing it exempt; the JSON's
        strict_full_bars counts them)
 tonic  tunes whose last note is the key's tonic (timestep: in model space, where the request's key has
        a white-key tonic; C for unconstrained rows; ABC: the K: tonic)
 scale  new notes in the key signature's scale (both kinds mask the others unless --chromatic)
 dur q  mean duration of the new notes, quarters; H bits  their pitch-class entropy
 copy   tunes whose new notes hold a run of 8 note pitches found verbatim in the training split
 logp   mean log p (nats) of the sampled tokens (to the tune's end) under the model from the zero
        state, temperature 1, no mask; dlogp: the row's minus the unconstrained row's
 cli/srv tok/s  sampled tokens per second on the client (`step`) / in `generate`; x: the unconstrained
        row's tok/s over the row's (the slowdown); srv=cli: tunes that `generate` samples identically
Corpus rows (the training split of --data-root/<corpus>; copy: its test split's tunes against the
training split) stand beside each model; without the data folder they say n/a.
Targets: under constraints new, bars, full, tonic, scale = 1.0; tokens per second within 1.5x of
unconstrained (x <= 1.5).
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
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from bench import tune_metrics as tm  # noqa: E402
from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, parse_key, parse_meter, tonic_pitch_class  # noqa: E402
from serving import client as serving_client  # noqa: E402
from serving.contract import bar_rules  # noqa: E402
from serving.contract import signatures as sig  # noqa: E402
from serving.contract.sampling import SamplingSettings  # noqa: E402
from serving.demo import write_models_config  # noqa: E402
from serving.generation import (
    constrained_rows,  # noqa: E402
    primers,  # noqa: E402
)
from serving.generation.abc_start import AbcStart, abc_start  # noqa: E402
from serving.generation.constrained_rows import ABC_CHARACTERS_PER_BAR, TimestepRows, abc_rows  # noqa: E402
from serving.generation.slot_sampling import sample_in_slots  # noqa: E402
from serving.generation.timestep_constraints import TimestepConstraints  # noqa: E402
from serving.generation.token_model import TokenModel  # noqa: E402
from serving.generation.tokens import sample_melodies  # noqa: E402
from serving.generation.tune_request import TuneRequest  # noqa: E402
from serving.model_server.launcher import start_subprocess  # noqa: E402
from trainer.token_models.abc_evaluation import split_texts  # noqa: E402

logger = logging.getLogger("bench.tune_constraints")

SETTINGS = SamplingSettings(temperature=1.0, top_p=0.95)
CORPORA = {"lstm_erk": "erk", "lstm_han": "han", "abc_irish": "irish"}
TIMESTEP_STEPS, ABC_STEPS, ABC_PRIMER = 256, 1500, "X:1\n"
ROWS: dict[str, dict[str, TuneRequest | None]] = {
    sig.TOKEN_TIMESTEP: {"unconstrained": None, "bars16_tonic": TuneRequest(COMMON_TIME, C_MAJOR, bars=16),
                         "G_3/4_bars16_tonic": TuneRequest(key=parse_key("G"), meter=parse_meter("3/4"), bars=16)},
    sig.TOKEN_CHARACTERS: {"unconstrained": None, "bars16_tonic": TuneRequest(COMMON_TIME, C_MAJOR, bars=16),
                           "D_6/8_bars16_tonic": TuneRequest(key=parse_key("D"), meter=parse_meter("6/8"), bars=16),
                           "G_4/4_bars16_tonic": TuneRequest(COMMON_TIME, parse_key("G"), bars=16)},
}
COLUMNS = (("new", "new_note", 3), ("bars", "exact_bars", 3), ("full", "full_bars", 3), ("tonic", "tonic", 3),
           ("scale", "in_scale", 3), ("dur q", "mean_quarters", 3), ("H bits", "pc_entropy_bits", 3),
           ("copy", "copy", 3), ("logp", "log_prob", 3), ("dlogp", "log_prob_change", 3),
           ("cli tok/s", "client_tokens_per_s", 0), ("x", "client_slowdown", 2),
           ("srv tok/s", "server_tokens_per_s", 0), ("x", "server_slowdown", 2), ("srv=cli", "server_same", 3))


@dataclass(frozen=True)
class RowPlan:
    """One row: its request (None: unconstrained), primer symbols and ids, token budget, and for
    timestep rows under a request the constraints."""

    request: TuneRequest | None
    primer: list[str]
    primer_ids: list[int]
    steps: int
    constraints: TimestepConstraints | None = None
    abc: AbcStart | None = None


def plan_row(kind: str, request: TuneRequest | None, vocabulary: list[str], abc_steps: int = ABC_STEPS) -> RowPlan:
    if kind == sig.TOKEN_CHARACTERS:
        start = None if request is None else abc_start(request, ABC_PRIMER)
        primer = list(ABC_PRIMER if start is None else start.text)
        steps = abc_steps if request is None else ABC_CHARACTERS_PER_BAR * request.bars
        return RowPlan(request, primer, primers.encode(primer, vocabulary), steps, abc=start)
    primer = primers.timestep_primer(primers.PrimerSource(name="twinkle")).symbols
    ids = primers.encode(primer, vocabulary)
    if request is None:
        return RowPlan(None, primer, ids, TIMESTEP_STEPS)
    constraints = TimestepConstraints(request, vocabulary)
    return RowPlan(request, primer, ids, constraints.tokens_needed(ids, request.bars), constraints)


def sample_client(model: TokenModel, plan: RowPlan, seeds: list[int], batch: int) -> tuple[list[list[int]], list[bool], float]:
    """Sampled tokens per seed (primer excluded), whether the rules ended each tune, seconds spent:
    every row in ``batch`` rows of continuous batching (``sample_in_slots``: a finished tune's row
    takes the next)."""
    began, slots = time.perf_counter(), min(batch, len(seeds))
    rules = None
    if plan.constraints is not None:
        rules = TimestepRows(plan.constraints, [plan.primer_ids] * slots, plan.steps)
    elif plan.abc is not None:
        rules = abc_rows(plan.abc, model.symbols, slots)
    tokens, ended = sample_in_slots(model, plan.primer_ids, plan.steps, SETTINGS, seeds, slots, rules)
    return tokens, ended, time.perf_counter() - began


def sample_server(model: TokenModel, plan: RowPlan, seeds: list[int], batch: int) -> tuple[list[list[int]], float]:
    """`generate`'s tokens per seed (up to a row's end) and the seconds its calls took."""
    c = plan.constraints
    rules = None if c is None else c.rules(*c.bar_limits(c.start(plan.primer_ids).position, plan.steps))
    tokens, seconds = [], 0.0
    for start in range(0, len(seeds), batch):
        rows = len(chunk := seeds[start:start + batch])
        began = time.perf_counter()
        out = model.generate(
            primer=np.tile(np.asarray(plan.primer_ids, np.int32), (rows, 1)),
            primer_length=np.full(rows, len(plan.primer_ids)), steps=np.full(rows, plan.steps),
            temperature=np.full(rows, SETTINGS.temperature), top_k=np.full(rows, SETTINGS.top_k),
            top_p=np.full(rows, SETTINGS.top_p), seed=np.asarray(chunk),
            rules=None if rules is None else bar_rules.rule_inputs([rules] * rows, len(model.symbols)))
        seconds += time.perf_counter() - began
        tokens += [[int(token) for token in row if token >= 0] for row in out]
    return tokens, seconds


def corpus_facts(kind: str, data_dir: str, split: str) -> list[tm.TuneFacts]:
    """The split's tunes; timestep songs with their model-space tonic (declared key + transposition)."""
    if kind == sig.TOKEN_CHARACTERS:
        return [tm.abc_facts(text, True) for text in split_texts(data_dir, split)]
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel

    examples = tfds.builder_from_directory(data_dir).as_dataset(split=split).as_numpy_iterator()
    return [tm.corpus_timestep_facts([symbol.decode() for symbol in example["timestep"]],
                                     (tonic_pitch_class(example["key"].decode()) + int(example["transpose"])) % 12)
            for example in examples if len(example["timestep"])]


def corpus_report(kind: str, data_dir: str) -> tuple[dict, set | None]:
    """(the training split's statistics with the test split's copy share, the training runs); no
    statistics and no runs without a dataset in ``data_dir``."""
    if not os.path.isfile(os.path.join(data_dir, "dataset_info.json")):
        logger.warning("no dataset at %s: its corpus columns say n/a", data_dir)
        return {"dataset": data_dir, "available": False}, None
    train = corpus_facts(kind, data_dir, "train")
    runs = tm.training_runs(train)
    stats = tm.summary(train, None, None, measured_bars=False)
    stats.update(new_note=None, copy=tm.summary(corpus_facts(kind, data_dir, "test"), None, runs)["copy"],
                 dataset=data_dir, available=True, tunes=len(train))
    return stats, runs


def timed_passes(model: TokenModel, plans: dict[str, RowPlan], seeds: list[int], batch: int, repeats: int) -> dict:
    """Per row: client ``tokens``, ``ended``, and the seconds of the fastest of ``repeats`` passes
    (rows in turn, ABC machines cold in each) on the ``client`` and, for timestep rows, in
    ``generate`` (``served``: its tokens). Every pass samples the same tokens; the fastest is the one
    the machine's other programs slowed least."""
    out: dict[str, dict] = {}
    for _ in range(repeats):
        for row, plan in plans.items():
            constrained_rows._machine.cache_clear()  # pylint: disable=protected-access
            constrained_rows._mask_tables.cache_clear()  # pylint: disable=protected-access
            tokens, ended, seconds = sample_client(model, plan, seeds, batch)
            got = out.setdefault(row, {"tokens": tokens, "ended": ended, "client": seconds})
            assert tokens == got["tokens"], f"{row}: a pass sampled other tokens"
            got["client"] = min(got["client"], seconds)
            if model.model_kind == sig.TOKEN_TIMESTEP:
                sample_server(model, plan, seeds[:2], batch)  # warm-up
                got["served"], seconds = sample_server(model, plan, seeds, batch)
                got["server"] = min(got.get("server", seconds), seconds)
    return out


def measure_model(model: TokenModel, name: str, data_dir: str, tunes: int, batch: int, failures: str | None,
                  repeats: int, abc_steps: int = ABC_STEPS) -> dict:
    """Every row of one served model, and its corpus."""
    kind, vocabulary, seeds = model.model_kind, model.symbols, list(range(tunes))
    corpus, runs = corpus_report(kind, data_dir)
    sample_melodies(model, [[0]] * 2, 4, SETTINGS, [0, 1])  # warm the channel and the step graph
    plans = {row: plan_row(kind, request, vocabulary, abc_steps) for row, request in ROWS[kind].items()}
    rows: dict[str, dict] = {}
    for row, got in timed_passes(model, plans, seeds, batch, repeats).items():
        plan, request, tokens = plans[row], plans[row].request, got["tokens"]
        facts, scored, result = tm.read_tunes(kind, plan.primer, request, vocabulary, tokens, got["ended"])
        result.update(tm.summary(facts, request.bars if request else None, runs),
                      log_prob=tm.mean_log_prob(model, plan.primer_ids, scored, batch),
                      client_tokens_per_s=sum(map(len, tokens)) / got["client"])
        if "served" in got:
            result.update(server_tokens_per_s=sum(map(len, got["served"])) / got["server"],
                          server_same=sum(a == b for a, b in zip(got["served"], tokens)) / tunes)
        if request is not None and failures:
            result["failed_tunes"] = tm.save_failures(failures, name, row, plan.primer, request.bars, vocabulary,
                                                      tokens, facts)
        logger.info("%s %s: %d tunes sampled in %.1f s (fastest of %d)", name, row, tunes, got["client"], repeats)
        rows[row] = result
    free = rows["unconstrained"]
    for result in rows.values():
        result["log_prob_change"] = result["log_prob"] - free["log_prob"]
        for side in ("client", "server"):
            if f"{side}_tokens_per_s" in result:
                result[f"{side}_slowdown"] = free[f"{side}_tokens_per_s"] / result[f"{side}_tokens_per_s"]
    return {"kind": kind, "corpus": corpus, "rows": rows}


def print_table(models: dict) -> None:
    print(f"{'model':<10} {'row':<28}" + "".join(f"{title:>10}" for title, _, _ in COLUMNS))
    for name, report in models.items():
        for row, result in [*report["rows"].items(), ("corpus (train; copy: test)", report["corpus"])]:
            cells = ["n/a" if result.get(key) is None else f"{result[key]:.{digits}f}" for _, key, digits in COLUMNS]
            print(f"{name:<10} {row:<28}" + "".join(f"{cell:>10}" for cell in cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tunes", type=int, default=200, help="tunes per row (seeds 0..N-1)")
    parser.add_argument("--models", default=",".join(CORPORA), help=f"comma-separated, of {', '.join(CORPORA)}")
    parser.add_argument("--saved-models", type=pathlib.Path, default=pathlib.Path("saved_models"))
    parser.add_argument("--data-root", default="data", help="holds the corpora erk, han, irish")
    for corpus in CORPORA.values():
        parser.add_argument(f"--{corpus}-data", help=f"the {corpus} dataset (default DATA_ROOT/{corpus})")
    parser.add_argument("--batch", type=int, default=100, help="tunes per sampling call")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per row, rows in turn (the fastest counts)")
    parser.add_argument("--abc-steps", type=int, default=ABC_STEPS, help="characters of an unconstrained ABC row")
    parser.add_argument("--output", help="write the report as JSON here")
    parser.add_argument("--failures", help="write each constrained tune that misses a structural target here")
    args = parser.parse_args(argv)
    names = [name for name in args.models.split(",") if name]
    if unknown := sorted(set(names) - set(CORPORA)):
        parser.error(f"unknown models {unknown}; known: {sorted(CORPORA)}")
    if min(args.tunes, args.batch, args.repeats, args.abc_steps) < 1:
        parser.error(f"--tunes, --batch, --repeats and --abc-steps must be >= 1, got {args.tunes}, {args.batch}, "
                     f"{args.repeats}, {args.abc_steps}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    began, models = time.perf_counter(), {}
    with tempfile.TemporaryDirectory(prefix="bench-tune-") as scratch:
        config = pathlib.Path(scratch) / "models.config"
        write_models_config(args.saved_models, names, config)
        with start_subprocess(names, model_config_file=config) as running:
            for name in names:
                corpus = CORPORA[name]
                data_dir = getattr(args, f"{corpus}_data") or os.path.join(args.data_root, corpus)
                client = serving_client.connect(running.grpc_address, name)
                try:
                    models[name] = measure_model(TokenModel(client), name, data_dir, args.tunes, args.batch, args.failures,
                                                 args.repeats, args.abc_steps)
                finally:
                    client.close()
    met = tm.targets(models)
    print(f"# {args.tunes} tunes per row, {SETTINGS}, batches of {args.batch}, fastest of {args.repeats} passes, "
          f"cpu_count={os.cpu_count()}")
    print_table(models)
    for target, ok in met.items():
        print(f"target {target}: {'met' if ok else 'NOT met'}")
    seconds = time.perf_counter() - began
    print(f"# {seconds:.0f} s in all")
    if args.output:
        report = {"argv": sys.argv[1:] if argv is None else list(argv), "tunes": args.tunes, "batch": args.batch,
                  "settings": vars(SETTINGS), "legend": __doc__, "models": models, "targets": met, "seconds": seconds}
        pathlib.Path(args.output).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

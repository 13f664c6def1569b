"""Vary (issue 14) measured on the committed models: what a "vary bar 3" call gives and costs.

    python bench/vary.py [--tunes 20] [--models lstm_erk,abc_irish] [--bar 3] [--candidates 8]
        [--saved-models saved_models] [--output report.json]

One `python -m serving.server` serves the models; per model, `--tunes` tunes of 16 bars (C major,
4/4, ending on the tonic; seeds 0..N-1, temperature 1.0, top-p 0.95) are generated one call each
(`generate`), then each has bar `--bar` varied (`vary`, `--candidates` candidates, the same config).
The varied tunes are read back by parsers that are not the state machines: music21 (ABC) and
timestep decoding cut by the meter, and bench/tune_metrics.py for the constraints. Columns:
 only    share of calls where the bar changed and nothing else did: every token outside it the
         same, and every other bar the same notes as the parser reads them
 notes   share where the bar's notes changed as the parser reads them (not only its spacing or beaming)
 same    share where the chosen bar is the original's (the tune came back unchanged)
 other   share where some other bar changed (the target is 0)
 constr  share of varied tunes meeting every constraint (new note, exact bars, full bars, tonic, scale)
 gain    mean of the chosen log p minus the mean candidate log p (nats, whole tune)
 vs orig mean of the chosen log p minus the original tune's (teacher-forced, the same model)
 s/vary, s/gen  mean seconds per call of vary / of generate (both write the files); x: their ratio
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
from fractions import Fraction

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from bench import tune_metrics as tm  # noqa: E402
from preprocessing.melody.keys import C_MAJOR, COMMON_TIME  # noqa: E402
from serving import client as serving_client  # noqa: E402
from serving.contract.sampling import SamplingSettings  # noqa: E402
from serving.demo import write_models_config  # noqa: E402
from serving.generation.token_model import TokenModel  # noqa: E402
from serving.generation.tokens import GeneratedMelody, GenerationConfig, generate  # noqa: E402
from serving.generation.tune_request import TuneRequest  # noqa: E402
from serving.generation.vary import bar_spans, vary  # noqa: E402
from serving.model_server.launcher import start_subprocess  # noqa: E402
from serving.music import render  # noqa: E402
from trainer.token_models import abc_quality  # noqa: E402

logger = logging.getLogger("bench.vary")
MODELS = ("lstm_erk", "abc_irish")
BARS = 16
SETTINGS = SamplingSettings(temperature=1.0, top_p=0.95)
COLUMNS = (("only", "only_bar", 3), ("notes", "notes_changed", 3), ("same", "unchanged", 3), ("other", "other_bar", 3), ("constr", "constraints", 3),
           ("gain", "log_p_gain", 2), ("vs orig", "log_p_vs_original", 2), ("s/vary", "vary_s", 2),
           ("s/gen", "generate_s", 2), ("x", "ratio", 2))


def score_bars(melody: GeneratedMelody) -> list[list[tuple]]:
    """Each bar's (MIDI pitch or None, onset in the bar, quarters): music21's measures of the ABC
    text, or the decoded timestep events cut by the meter."""
    if melody.melody.abc_text is not None:
        from music21 import converter, stream  # pylint: disable=import-outside-toplevel

        part = converter.parse("".join(melody.tokens), format="abc").parts[0]
        return [[(None if item.isRest else item.pitch.midi, Fraction(item.offset), Fraction(item.quarterLength))
                 for item in measure.notesAndRests] for measure in part.getElementsByClass(stream.Measure)]
    bar, onset, bars = Fraction(melody.melody.meter.bar_quarters), Fraction(0), []
    for event in render.melody_from_timesteps(list(melody.tokens), melody.primer_length).events:
        left = Fraction(event.quarters).limit_denominator(64)
        while left:
            index, inside = int(onset // bar), onset % bar
            piece = min(left, bar - inside)
            bars += [[] for _ in range(index + 1 - len(bars))]
            bars[index].append((event.pitch, inside, piece))
            onset, left = onset + piece, left - piece
    return bars


def outside(melody: GeneratedMelody, bar: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    start, end = bar_spans(melody)[bar]
    return melody.tokens[:start], melody.tokens[end:]


def constraints_hold(melody: GeneratedMelody) -> bool:
    if melody.melody.abc_text is not None:
        text = "".join(melody.tokens)
        facts = tm.abc_facts(text, True, abc_quality.score_tune(text))
    else:
        facts = tm.timestep_facts(list(melody.tokens), melody.primer_length, C_MAJOR, COMMON_TIME)
    return not tm.failed_checks(facts, BARS)


def log_ps(model: TokenModel, tunes: list[tuple[str, ...]]) -> list[float]:
    """Teacher-forced log p (nats) of every token after the first, all tunes in one batch."""
    ids = [[model.symbols.index(token) for token in tune] for tune in tunes]
    longest = max(map(len, ids))
    padded = np.array([row + [0] * (longest - len(row)) for row in ids], np.int32)
    lengths = np.array([len(row) for row in ids])
    state = np.zeros((len(ids), model.state_size), np.float32)
    totals = np.zeros(len(ids))
    for position in range(longest - 1):
        logits, state = model.step(padded[:, position], state)
        row = logits.astype(np.float64)
        top = row.max(axis=1, keepdims=True)
        log_p = row - top - np.log(np.exp(row - top).sum(axis=1, keepdims=True))
        totals += np.where(position + 1 < lengths, log_p[np.arange(len(ids)), padded[:, position + 1]], 0.0)
    return totals.tolist()


def measure_model(client, name: str, tunes: int, bar: int, candidates: int, scratch: str) -> dict:
    config = GenerationConfig(num=1, settings=SETTINGS, constraints=TuneRequest(bars=BARS), formats=("abc",),
                              out_dir=os.path.join(scratch, name))
    generate(client, config, name)  # warm the channel and the caches, as a page that already served a tune
    only = notes = unchanged = other = held = 0
    gains, chosen, originals, vary_s, generate_s = [], [], [], [], []
    for seed in range(tunes):
        tune_config = GenerationConfig(**{**vars(config), "seed": seed})
        began = time.perf_counter()
        original = generate(client, tune_config, name)[0]
        generate_s.append(time.perf_counter() - began)
        began = time.perf_counter()
        varied = vary(client, original, [bar], tune_config, name, candidates)
        vary_s.append(time.perf_counter() - began)
        before, after = score_bars(original), score_bars(varied.melody)
        kept = outside(original, bar) == outside(varied.melody, bar) and len(before) == len(after) and \
            all(before[index] == after[index] for index in range(len(before)) if index != bar)
        same = varied.melody.tokens == original.tokens
        only += kept and not same
        notes += len(before) == len(after) and before[bar] != after[bar]
        unchanged += same
        other += not kept
        held += constraints_hold(varied.melody)
        gains.append(varied.log_p - float(np.mean(varied.candidate_log_ps)))
        chosen.append(varied.log_p)
        originals.append(original.tokens)
        logger.info("%s seed %d: %.2f s vary, log p %.1f (candidates %s)", name, seed, vary_s[-1], varied.log_p,
                    [round(value, 1) for value in varied.candidate_log_ps])
    original_log_ps = log_ps(TokenModel(client), originals)
    return {"only_bar": only / tunes, "notes_changed": notes / tunes, "unchanged": unchanged / tunes, "other_bar": other / tunes,
            "constraints": held / tunes, "log_p_gain": float(np.mean(gains)),
            "log_p_vs_original": float(np.mean(np.array(chosen) - np.array(original_log_ps))),
            "vary_s": float(np.mean(vary_s)), "generate_s": float(np.mean(generate_s)),
            "ratio": float(np.mean(vary_s) / np.mean(generate_s))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tunes", type=int, default=20, help="tunes per model (seeds 0..N-1)")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--bar", type=int, default=3, help="the bar to vary (0-based, score order)")
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--saved-models", type=pathlib.Path, default=pathlib.Path("saved_models"))
    parser.add_argument("--output", help="write the report as JSON here")
    args = parser.parse_args(argv)
    names = [name for name in args.models.split(",") if name]
    if unknown := sorted(set(names) - set(MODELS)):
        parser.error(f"unknown models {unknown}; known: {list(MODELS)}")
    if args.tunes < 1 or args.candidates < 1:
        parser.error(f"--tunes and --candidates must be >= 1, got {args.tunes} and {args.candidates}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    began, models = time.perf_counter(), {}
    with tempfile.TemporaryDirectory(prefix="bench-vary-") as scratch:
        config = pathlib.Path(scratch) / "models.config"
        write_models_config(args.saved_models.absolute(), names, config)
        with start_subprocess(names, model_config_file=config) as running:
            for name in names:
                client = serving_client.connect(running.grpc_address, name)
                try:
                    models[name] = measure_model(client, name, args.tunes, args.bar, args.candidates, scratch)
                finally:
                    client.close()
    print(f"# {args.tunes} tunes per model, {BARS} bars, vary bar {args.bar} with {args.candidates} candidates, "
          f"{SETTINGS}, cpu_count={os.cpu_count()}")
    print(f"{'model':<10}" + "".join(f"{title:>9}" for title, _, _ in COLUMNS))
    for name, result in models.items():
        print(f"{name:<10}" + "".join(f"{result[key]:>9.{digits}f}" for _, key, digits in COLUMNS))
    seconds = time.perf_counter() - began
    print(f"# {seconds:.0f} s in all")
    if args.output:
        report = {"argv": sys.argv[1:] if argv is None else list(argv), "settings": vars(SETTINGS), "legend": __doc__,
                  "models": models, "seconds": seconds}
        pathlib.Path(args.output).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

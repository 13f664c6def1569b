"""Fine-tuning benchmark: ``abc_irish`` fine-tuned on a 20-tune folder vs the same preset from scratch.

Writes 20 tunes of Aird's Airs (a collection ``abc_irish`` never saw; the first 20 without the
backquote spacer, which is outside its vocabulary) as ``airds20/NN.abc``, preprocesses the folder
(the split puts 15 tunes in train, 2 in validation, 3 in test), then runs ``trainer.task`` twice
under the same wall-clock cap, one after the other in fresh processes:

- ``scratch``: ``--model abc_lstm`` with random weights and the folder's vocabulary;
- ``fine-tune``: the same command with ``--init-from saved_models/abc_irish``.

Both use ``window=64`` (the 2 validation tunes hold 244 characters of normalised ABC) and ``batch_size=8``,
with patience 20 so that the cap, not early stopping, ends both runs; each keeps its best
validation epoch. Prints both validation losses (nats per character, the run's ``metrics.json``)
side by side, the validation tunes each scored, epochs and seconds, and the ratio.

    python bench/fine_tune.py [--minutes 5] [--work /tmp/fine_tune_bench]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

TUNES = 20
FLAGS = ["window=64", "batch_size=8", "patience=20", "epochs=1000"]


def write_folder(folder: pathlib.Path) -> None:
    """The first ``TUNES`` Aird's tunes without a backquote, one file each."""
    from preprocessing import corpora

    texts = (item.content.decode("utf-8") for source in corpora.list_sources("airds")
             for item in corpora.read_source(source) if hasattr(item, "content"))
    tunes = [text for text in texts if "`" not in text][:TUNES]
    folder.mkdir(parents=True)
    for index, text in enumerate(tunes):
        (folder / f"{index:02d}.abc").write_text(text, encoding="utf-8")


def run(argv: list[str], log: pathlib.Path) -> float:
    """Runs ``python -m ARGV`` from the repository root, output to ``log``; returns its wall seconds."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    start = time.perf_counter()
    with open(log, "w") as handle:
        process = subprocess.run([sys.executable, "-m", *argv], cwd=REPO_ROOT, env=env, stdout=handle,
                                 stderr=subprocess.STDOUT)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed (exit {process.returncode}); see {log}")
    return time.perf_counter() - start


def validation_tunes(data_dir: pathlib.Path, job_dir: pathlib.Path) -> int:
    """How many validation tunes the run scored (those not dead-lettered for their symbols)."""
    from trainer.token_models import data

    songs = data.count_songs(str(data_dir), "validation")
    letters = job_dir / "dead_letters.jsonl"
    dropped = [json.loads(line) for line in letters.read_text().splitlines()] if letters.exists() else []
    return songs - sum(letter["split"] == "validation" for letter in dropped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="wall-clock cap of each run")
    parser.add_argument("--work", default="/tmp/fine_tune_bench", help="scratch folder (replaced)")
    parser.add_argument("--init-from", default=str(REPO_ROOT / "saved_models" / "abc_irish"))
    args = parser.parse_args()
    work = pathlib.Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    write_folder(work / "airds20")
    data_dir = work / "data"
    run(["preprocessing.run", "--corpus", f"dir:{work / 'airds20'}", "--output", str(data_dir)], work / "prep.log")

    results = {}
    for name, extra in (("scratch", []), ("fine-tune", ["--init-from", args.init_from])):
        job_dir = work / name
        argv = ["trainer.task", "--model", "abc_lstm", "--data", str(data_dir), "--job-dir", str(job_dir),
                "--max-minutes", str(args.minutes), "--verbose", "2", *extra]
        seconds = run(argv + [arg for flag in FLAGS for arg in ("--set", flag)], work / f"{name}.log")
        metrics = json.loads((job_dir / "metrics.json").read_text())
        results[name] = (metrics, validation_tunes(data_dir, job_dir), seconds)

    print(f"{TUNES}-tune folder (Aird's Airs), abc_lstm, {args.minutes:g} min cap each, {FLAGS}")
    print(f"{'run':<10} {'val loss (nats/char)':>20} {'val acc':>8} {'val tunes':>9} {'epochs':>6} "
          f"{'best':>5} {'train s':>8} {'wall s':>7}")
    for name, (metrics, tunes, seconds) in results.items():
        print(f"{name:<10} {metrics['best_val_loss']:>20.4f} {metrics['best_val_accuracy']:>8.3f} {tunes:>9} "
              f"{metrics['epochs']:>6} {metrics['best_epoch']:>5} {metrics['train_time_s']:>8.0f} {seconds:>7.0f}")
    scratch, tuned = results["scratch"][0]["best_val_loss"], results["fine-tune"][0]["best_val_loss"]
    print(f"fine-tune / scratch validation loss: {tuned / scratch:.3f}")
    if results["scratch"][1] != results["fine-tune"][1]:
        print("note: the runs scored different validation tunes (symbols outside one run's vocabulary)")


if __name__ == "__main__":
    main()

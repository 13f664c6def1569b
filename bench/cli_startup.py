"""`folkgen --help` against `import tensorflow`, side by side in one run: seconds per fresh process, and the ratio.

    python bench/cli_startup.py [--rounds 5]

Each round starts, in turn, a bare interpreter (`python -c pass`), `folkgen --help` and each
subcommand's `--help` (`python -m serving.cli ...`), and `python -c "import tensorflow"`; each is a
fresh process timed from spawn to exit. Medians over the rounds are printed, with each command's
time as a share of TensorFlow's import (the time every command took before the parser became
light) and the interpreter's own start-up for reference.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
COMMANDS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "folkgen --help": ["-m", "serving.cli", "--help"],
    "folkgen generate --help": ["-m", "serving.cli", "generate", "--help"],
    "folkgen models --help": ["-m", "serving.cli", "models", "--help"],
    "folkgen vae sample --help": ["-m", "serving.cli", "vae", "sample", "--help"],
    "python -c 'import tensorflow'": ["-c", "import tensorflow"],
}
TENSORFLOW = "python -c 'import tensorflow'"


def seconds(argv: list[str]) -> float:
    """Wall time of one fresh ``python ARGV`` process (its output discarded); raises if it fails."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    began = time.perf_counter()
    subprocess.run([sys.executable, *argv], cwd=REPO_ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes per command (median taken)")
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.rounds):
        for name, argv in COMMANDS.items():  # interleaved, so machine load falls on all alike
            times[name].append(seconds(argv))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{args.rounds} rounds on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"{'command':<32}{'median s':>10}{'min s':>8}{'/ import tensorflow':>21}")
    for name, median in medians.items():
        print(f"{name:<32}{median:>10.3f}{min(times[name]):>8.3f}{median / medians[TENSORFLOW]:>21.3f}")
    ratio = medians[TENSORFLOW] / medians["folkgen --help"]
    print(f"import tensorflow takes {ratio:.1f}x as long as folkgen --help")


if __name__ == "__main__":
    main()

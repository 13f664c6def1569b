"""`folkgen --help` and every subcommand's help build the parser without TensorFlow, gRPC or music21."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("tensorflow", "grpc", "music21", "verovio", "keras")
# Calls main(ARGV) as the console script does, then prints which heavy modules were imported.
PROBE = """
import json, sys
from serving import cli
try:
    code = cli.main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
print(json.dumps({"code": code, "imported": [name for name in %r if name in sys.modules]}))
""" % (HEAVY,)


@pytest.mark.parametrize("argv", [
    ["--help"], ["generate", "--help"], ["models", "--help"], ["vae", "--help"], ["vae", "sample", "--help"],
    ["vae", "reconstruct", "--help"], ["vae", "interpolate", "--help"], ["web", "--help"],
])
def test_help_imports_no_heavy_module(argv):
    process = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=REPO_ROOT, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=120)
    assert process.returncode == 0, process.stderr
    *help_lines, verdict = process.stdout.strip().splitlines()
    assert json.loads(verdict) == {"code": 0, "imported": []}
    assert help_lines[0].startswith("usage: folkgen") and process.stderr == ""


def test_a_usage_error_imports_no_heavy_module_either():
    process = subprocess.run([sys.executable, "-c", PROBE, "generate", "--num", "many"], cwd=REPO_ROOT,
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                             timeout=120)
    assert json.loads(process.stdout.strip().splitlines()[-1]) == {"code": 2, "imported": []}
    assert process.stderr.strip() == "folkgen: error: argument --num: invalid int value: 'many'"

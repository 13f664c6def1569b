"""bench/server_abuse.py at small limits against the committed lstm_erk: every abuser gets its expected
answer, both transports are timed in both phases, and the RSS and target lines are printed."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from bench import server_abuse

pytestmark = pytest.mark.server

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def lines() -> list[str]:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = server_abuse.main(["--saved-model", str(REPO_ROOT / "saved_models" / "lstm_erk"), "--good", "3",
                                  "--settle", "0.5", "--max_batch_rows", "4", "--max_steps", "64",
                                  "--max_request_bytes", "8192"])
    assert code == 0
    return printed.getvalue().splitlines()


def test_every_abuser_gets_its_answer(lines):
    answers = {line.split(": ")[0].removeprefix("# abuser "): line.rpartition("answers ")[2]
               for line in lines if line.startswith("# abuser ")}
    assert len(answers) == 8
    for name, got in answers.items():
        if "generate" in name:
            assert got in ("['200']", "['OK']"), (name, got)  # at the limits, not past them: served
        elif name.startswith("gRPC"):
            kind = "INVALID_ARGUMENT" if "declaring" in name else "RESOURCE_EXHAUSTED"
            assert got.startswith(f"[\"{kind}") or got.startswith(f"['{kind}"), (name, got)
        elif name.startswith("REST"):
            assert got.startswith(("['429", "[\"429")), (name, got)
    assert any(name.startswith("slowloris") for name in answers)


def test_both_transports_are_timed_and_memory_is_reported(lines):
    rows = {line.split()[0]: line for line in lines if line.startswith(("gRPC ", "REST "))}
    assert set(rows) == {"gRPC", "REST"}
    for row in rows.values():
        assert row.count(" ms") == 6
    assert any(line.startswith("server RSS: ") and "peak" in line for line in lines)
    assert any(line.startswith("target: worst good request under abuse < 1 s: ") for line in lines)

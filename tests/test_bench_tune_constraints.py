"""bench/tune_constraints.py on three tunes per row (one pass) against the committed models: every row reported,
the constrained tunes meeting every structural target, the corpus columns n/a without data."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from bench import tune_constraints

pytestmark = pytest.mark.server

REPO_ROOT = Path(__file__).resolve().parent.parent
ROWS = {"lstm_erk": ["unconstrained", "bars16_tonic", "G_3/4_bars16_tonic"],
        "lstm_han": ["unconstrained", "bars16_tonic", "G_3/4_bars16_tonic"],
        "abc_irish": ["unconstrained", "bars16_tonic", "D_6/8_bars16_tonic", "G_4/4_bars16_tonic"]}
STRUCTURAL = ("new_note", "exact_bars", "full_bars", "tonic")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list[str], Path]:
    """(the JSON report, the printed lines, the failures folder) of one run of the bench."""
    scratch = tmp_path_factory.mktemp("bench")
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
        # one timed pass and 600 unconstrained ABC characters: the figures are not what is checked here
        code = tune_constraints.main(["--tunes", "3", "--repeats", "1", "--abc-steps", "600",
                                      "--saved-models", str(REPO_ROOT / "saved_models"),
                                      "--data-root", str(scratch / "no_data"), "--output", str(scratch / "report.json"),
                                      "--failures", str(scratch / "failures")])
    assert code == 0
    return json.loads((scratch / "report.json").read_text()), printed.getvalue().splitlines(), scratch / "failures"


def test_every_row_is_printed_and_in_the_report(run):
    report, lines, _ = run
    assert list(report["models"]) == list(ROWS)
    for name, rows in ROWS.items():
        assert list(report["models"][name]["rows"]) == rows
        printed = [line.split()[1] for line in lines if line.split()[:1] == [name]]
        assert printed == [*rows, "corpus"]


def test_constrained_tunes_meet_every_structural_target(run):
    report, _, failures = run
    for name, rows in ROWS.items():
        timestep = report["models"][name]["kind"] == "token_timestep"
        for row in rows[1:]:
            result = report["models"][name]["rows"][row]
            assert {share: result[share] for share in STRUCTURAL} == dict.fromkeys(STRUCTURAL, 1.0), (name, row)
            assert result["failed_tunes"] == 0 and result["in_scale"] == 1.0
            if timestep:
                assert result["server_same"] == 1.0
            assert result["log_prob"] < 0 and result["client_tokens_per_s"] > 0
    assert not failures.exists()
    assert all(ok for target, ok in report["targets"].items() if "= 1.0" in target)


def test_corpus_columns_are_na_without_data(run):
    report, lines, _ = run
    for name in ROWS:
        assert report["models"][name]["corpus"]["available"] is False
        corpus = next(line for line in lines if line.split()[:2] == [name, "corpus"])
        assert corpus.split()[5:] == ["n/a"] * len(tune_constraints.COLUMNS)
        assert report["models"][name]["rows"]["unconstrained"]["copy"] is None

"""bench/meter_tunes.py's bar reading: downbeat rests, notes held through the bar's middle, a last
note struck on a bar's last beat."""
from __future__ import annotations

from bench.meter_tunes import BarFacts, bar_facts


def test_bars_are_cut_from_the_pickup_and_the_pickup_bar_is_not_counted() -> None:
    # 2/4 (8 steps) with a 2-step pickup: bar 1 starts with a rest, bar 2 holds a half note through its middle
    steps = ["60", "_"] + ["r", "_", "62", "_", "64", "_", "_", "_"] + ["65", "_", "_", "_", "_", "_", "_", "_"]
    assert bar_facts(steps, pickup=2, bar=8) == (2, 1, 1, 0)


def test_a_note_struck_on_the_middle_step_is_no_tie_and_a_held_rest_is_a_downbeat_rest() -> None:
    steps = ["60", "_", "_", "_", "62", "_", "_", "_"] + ["_", "_", "_", "_", "r", "_", "_", "_"]
    assert bar_facts(steps, pickup=0, bar=8) == (2, 0, 0, 1)  # struck on the middle (the last beat); a rest there
    assert bar_facts(["r", "_", "_", "_", "_", "_", "_", "_", "_", "60"], pickup=0, bar=8) == (2, 2, 0, 0)


def test_a_last_note_struck_on_a_bars_last_beat_is_counted_from_the_pickup() -> None:
    # 2/4 in 16ths (8 steps, beats of 4) after a 4-step pickup: the last note struck on step 4 of the bar
    late = (["67", "_", "_", "_"] + ["64", "_", "_", "_", "62", "_", "_", "_"]
            + ["60", "_", "_", "_", "62", "_", "r", "_"])
    assert bar_facts(late, pickup=4, bar=8, beat=4).last_beat == 1  # a rest after it changes nothing
    held = late[:-4] + ["_", "_", "_", "_"]
    assert bar_facts(held, pickup=4, bar=8, beat=4).last_beat == 0
    assert bar_facts(late, pickup=0, bar=8, beat=4).last_beat == 0  # without the pickup: on the downbeat


def test_tune_rows_give_per_tune_entropy_and_range_and_targets_compare_them_with_the_corpus_spread() -> None:
    from bench import tune_metrics as tm
    from bench.meter_tunes import target_lines, tune_row

    def facts(pitches: list[int]) -> tm.TuneFacts:
        return tm.TuneFacts(True, tuple((pitch, 1.0) for pitch in pitches), 0, 0, tm.WHITE_KEYS)

    row = tune_row([facts([60, 62, 64, 65]), facts([60, 60, 71, 71])],
                   [BarFacts(2, 0, 0, 1), BarFacts(2, 1, 0, 0)], 0.5)
    assert row["pc_entropy"] == 1.5 and row["pc_entropy_sd"] == 0.5  # 2 bits and 1 bit
    assert row["range"] == 8.0 and row["range_sd"] == 3.0  # 5 and 11 semitones
    assert row["ratio"] == 2.0 and row["rest_on_downbeat"] == 0.25 and row["last_beat"] == 0.5
    corpus = {"all": {"pc_entropy": 1.0, "pc_entropy_sd": 0.6, "range": 3.0, "range_sd": 1.0, "copy": 0.5, "tonic": 0.8}}
    report = {"m defaults": {**row, "copy": 0.5, "ratio": 1.1}, "m --end any": {"tonic": 0.7}}
    lines = target_lines("m", report, corpus)
    assert [line.rsplit(": ", 1)[1] for line in lines] == ["met", "met", "NOT met", "met", "NOT met"]


def test_copy_counts_tunes_holding_a_training_run_and_copied_runs_counts_the_runs() -> None:
    from bench import tune_metrics as tm
    from bench.meter_tunes import tune_row

    def facts(pitches: list[int]) -> tm.TuneFacts:
        return tm.TuneFacts(True, tuple((pitch, 1.0) for pitch in pitches), 0, 0, tm.WHITE_KEYS)

    training = tm.training_runs([facts(list(range(60, 70)))])  # 3 runs of 8: from 60, 61 and 62
    copying = facts([55, *range(60, 69)])  # 3 runs, 2 of them the training tune's
    novel = facts([60, 62] * 5)  # 3 runs, none
    row = tune_row([copying, novel], [BarFacts(2, 0, 0, 0)] * 2, None, training)
    assert row["copy"] == 0.5
    assert row["copied_runs"] == 2 / 6


def test_self_repeats_count_the_runs_that_repeat_an_earlier_run_of_their_own_tune() -> None:
    from bench import tune_metrics as tm
    from bench.meter_tunes import tune_row

    def facts(pitches: list[int]) -> tm.TuneFacts:
        return tm.TuneFacts(True, tuple((pitch, 1.0) for pitch in pitches), 0, 0, tm.WHITE_KEYS)

    phrase = list(range(60, 68))
    repeating = facts([*phrase, 50, *phrase])  # 10 runs: the last repeats the first
    other = facts(phrase)  # 1 run, the first tune's phrase: no repeat within its own tune
    row = tune_row([repeating, other], [BarFacts(2, 0, 0, 0)] * 2, None)
    assert row["self_repeats"] == 1 / 11
    assert tune_row([facts(phrase[:7])], [BarFacts(2, 0, 0, 0)], None)["self_repeats"] is None  # no run of 8

"""Each preprocessing transform on Beam's TestPipeline (in-process FnApiRunner) and the TFDS writer."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import apache_beam as beam
import pytest
import tensorflow_datasets as tfds
from apache_beam.testing import test_pipeline as beam_testing
from apache_beam.testing.util import assert_that, equal_to

from preprocessing import pipeline, schema, statistics, tfds_output
from preprocessing.records import ENCODING_TIMESTEP, ENCODING_TUNE, DeadLetter, RawTune, Source
from preprocessing.split import shard_of, split_of
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.beam

GOOD_ABC = b"X:1\nT:Good Tune\nM:4/4\nL:1/4\nK:G\nG A B c | d2 B2 | c A B G | G4 |]\n"
BROKEN_ABC = b"X:2\nT:Broken Tune\nM:4/4\nL:1/4\nK:G\n[GBd] [Ace] | [GBd]4 |]\n"


def beam_test_pipeline() -> beam_testing.TestPipeline:
    """An in-process pipeline (FnApiRunner named explicitly: no Prism download)."""
    return beam_testing.TestPipeline(runner="FnApiRunner")


def raw_tune(content: bytes, index: int = 0) -> RawTune:
    return RawTune(corpus="unit", source="unit.abc", index=index, fmt="abc", content=content)


def example(tune_id: str, timestep: list[str], abc: str = "", meter: str = "4/4") -> dict:
    return {
        schema.FEATURE_ID: tune_id, schema.FEATURE_CORPUS: "unit", schema.FEATURE_TITLE: tune_id,
        schema.FEATURE_TIMESTEP: timestep, schema.FEATURE_NOTES: [60], schema.FEATURE_RHYTHMS: [3],
        schema.FEATURE_ABC: abc, schema.FEATURE_KEY: "C", schema.FEATURE_MODE: "major",
        schema.FEATURE_METER: meter, schema.FEATURE_TRANSPOSE: 0, schema.FEATURE_PICKUP: 0,
    }


# --- split ---------------------------------------------------------------------------------


def test_split_shares_are_close_to_80_10_10_and_every_id_gets_one_split():
    ids = [f"corpus/file{n // 50}.abc#{n % 50}" for n in range(20_000)]
    shares = Counter(split_of(tune_id) for tune_id in ids)
    assert set(shares) == set(schema.SPLITS)
    for split, percent in schema.SPLIT_PERCENTAGES.items():
        assert abs(100 * shares[split] / len(ids) - percent) < 1.5, shares


def test_split_is_stable_across_processes_with_different_hash_seeds():
    ids = [f"erk/essenFolksong/erk{n}.abc#{n}" for n in range(200)]
    answers = {
        subprocess.run(
            [sys.executable, "-m", "tests.helpers.print_splits", *ids], capture_output=True, text=True, check=True,
            cwd=REPO_ROOT, env=dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(REPO_ROOT)),
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert answers == {",".join(split_of(tune_id) for tune_id in ids)}


def test_split_and_shard_reject_bad_values():
    with pytest.raises(ValueError, match="empty id"):
        split_of("")
    with pytest.raises(ValueError, match="num_shards"):
        shard_of("a#1", 0)


def test_split_stage_keys_every_kept_tune_by_its_split():
    examples = [(example(f"unit/a.abc#{n}", ["60"]), b"record") for n in range(40)]
    with beam_test_pipeline() as p:
        splits = p | beam.Create(examples) | "Split" >> beam.Map(pipeline._with_split) | beam.Map(lambda item: (item[1][schema.FEATURE_ID], item[0]))
        assert_that(splits, equal_to([(ex[schema.FEATURE_ID], split_of(ex[schema.FEATURE_ID])) for ex, _ in examples]))


# --- vocabulary counting ------------------------------------------------------------------


def test_vocabulary_counts_sum_over_tunes_and_follow_the_encoding_order():
    kept = [
        ("train", example("unit/a#0", ["62", "_", "r", "60"], abc="ab\n"), b""),
        ("train", example("unit/a#1", ["60", "_", "_"], abc="ba"), b""),
    ]
    with beam_test_pipeline() as p:
        items = p | beam.Create(kept)
        timestep = items | "T" >> beam.Map(pipeline._timestep_counts) | "CT" >> beam.CombineGlobally(statistics.CounterSumFn())
        abc = items | "A" >> beam.Map(pipeline._abc_counts) | "CA" >> beam.CombineGlobally(statistics.CounterSumFn())
        assert_that(timestep | "VT" >> beam.Map(statistics.timestep_vocabulary),
                    equal_to([[("/", 0), ("_", 3), ("r", 1), ("60", 2), ("62", 1)]]), label="timestep")
        assert_that(abc | "VA" >> beam.Map(statistics.abc_vocabulary),
                    equal_to([[("\n", 1), ("a", 2), ("b", 2)]]), label="abc")


def test_empty_training_split_gives_only_the_structural_symbols():
    assert [symbol for symbol, _ in statistics.timestep_vocabulary(Counter())] == ["/", "_", "r"]


# --- stats combining ----------------------------------------------------------------------


def test_stats_combine_across_kept_and_skipped_tunes_and_state_the_invariant():
    skipped = DeadLetter("unit", "unit/a#2", "", ENCODING_TUNE, "parse_error", "bad", "")
    no_timestep = DeadLetter("unit", "unit/a#1", "", ENCODING_TIMESTEP, "chord", "chord at 2", "")
    events = [statistics.read_event()] * 3
    events += statistics.kept_events(example("unit/a#0", ["60", "_"], meter="3/4"), "train")
    events += statistics.kept_events(example("unit/a#1", [], meter=""), "test")
    events += statistics.dead_letter_events(skipped) + statistics.dead_letter_events(no_timestep)
    with beam_test_pipeline() as p:
        sections = p | beam.Create(events) | beam.CombineGlobally(statistics.StatsCombineFn())
        summary = sections | beam.Map(lambda s: statistics.summarise("unit", s, 5, 7))

        def check(summaries):
            (stats,) = summaries
            assert (stats["tunes_read"], stats["tunes_kept"], stats["tunes_skipped"]) == (3, 2, 1)
            assert stats["invariant_holds"] is True
            assert stats["skipped_by_reason"] == {"parse_error": 1}
            assert stats["skipped_encodings_by_reason"] == {"timestep": {"chord": 1}}
            assert stats["tunes_per_split"] == {"train": 1, "validation": 0, "test": 1}
            assert stats["meters"] == {"3/4": 1, "none": 1}
            assert stats["timestep_steps"] == 2
            assert json.loads(json.dumps(stats)) == stats

        assert_that(summary, check)


def test_summary_reports_counts_that_do_not_add_up():
    stats = statistics.summarise("unit", {statistics.READ: Counter({"": 2}), statistics.KEPT: Counter({"": 1})}, 3, 0)
    assert stats["invariant_holds"] is False


# --- dead-letter routing ------------------------------------------------------------------


def test_parse_encode_keeps_good_tunes_and_routes_broken_ones_to_dead_letters():
    tunes = [raw_tune(GOOD_ABC, 0), raw_tune(BROKEN_ABC, 1), raw_tune(b"\x00\x01\x02garbage", 2)]
    with beam_test_pipeline() as p:
        parsed = p | beam.Create(tunes) | beam.ParDo(pipeline.ParseEncodeFn()).with_outputs(pipeline.DEAD, main="kept")
        kept_ids = parsed.kept | "KeptIds" >> beam.Map(lambda item: item[0][schema.FEATURE_ID])
        whole = parsed[pipeline.DEAD] | beam.Filter(lambda letter: letter.encoding == ENCODING_TUNE)
        assert_that(kept_ids, equal_to(["unit/unit.abc#0"]), label="kept")
        assert_that(whole | beam.Map(lambda letter: letter.tune_id),
                    equal_to(["unit/unit.abc#1", "unit/unit.abc#2"]), label="dead")


def test_read_routes_unreadable_files_to_dead_letters_and_counts_every_item(tmp_path):
    (tmp_path / "empty.abc").write_bytes(b"")
    (tmp_path / "good.abc").write_bytes(GOOD_ABC + b"\n" + GOOD_ABC.replace(b"X:1", b"X:3"))
    sources = [Source("unit", str(tmp_path / name), name) for name in ("empty.abc", "good.abc")]
    with beam_test_pipeline() as p:
        read = p | beam.Create(sources) | beam.ParDo(pipeline.ReadTunesFn()).with_outputs(
            pipeline.DEAD, pipeline.EVENTS, main="tunes")
        assert_that(read.tunes | beam.Map(lambda tune: tune.tune_id),
                    equal_to(["unit/good.abc#0", "unit/good.abc#1"]), label="tunes")
        assert_that(read[pipeline.DEAD] | beam.Map(lambda letter: (letter.tune_id.split("#")[0], letter.encoding)),
                    equal_to([("unit/empty.abc", ENCODING_TUNE)]), label="dead")
        assert_that(read[pipeline.EVENTS], equal_to([statistics.read_event()] * 3), label="events")


# --- TFDS writer --------------------------------------------------------------------------


def test_shards_are_renamed_to_tfds_names_and_empty_splits_left_out(tmp_path):
    output = str(tmp_path)
    features = tfds_output.features()
    train = [example(f"unit/a#{n}", ["60", "_"] * n, abc="abc") for n in range(5)]
    shards = [
        tfds_output.write_shard(output, "train", 3, [(ex[schema.FEATURE_ID], tfds_output.serialize_example(features, ex)) for ex in train[:2]]),
        tfds_output.write_shard(output, "train", 1, [(ex[schema.FEATURE_ID], tfds_output.serialize_example(features, ex)) for ex in train[2:]]),
        tfds_output.write_shard(output, "validation", 0, [(train[0][schema.FEATURE_ID], tfds_output.serialize_example(features, train[0]))]),
    ]
    per_split = tfds_output.finalize_dataset(output, shards, description="unit")
    assert per_split == {"train": 5, "validation": 1}
    assert sorted(name for name in os.listdir(output) if name.startswith(schema.DATASET_NAME)) == [
        tfds_output.shard_file_name("train", 0, 2), tfds_output.shard_file_name("train", 1, 2),
        tfds_output.shard_file_name("validation", 0, 1),
    ]
    builder = tfds.builder_from_directory(output)
    assert set(builder.info.splits) == {"train", "validation"}
    read_back = {ex[schema.FEATURE_ID].numpy().decode(): ex for ex in builder.as_dataset(split="train")}
    assert sorted(read_back) == sorted(ex[schema.FEATURE_ID] for ex in train)
    assert [s.decode() for s in read_back["unit/a#2"][schema.FEATURE_TIMESTEP].numpy()] == ["60", "_"] * 2


def test_serialize_names_missing_features():
    with pytest.raises(ValueError, match="unit/a#0"):
        tfds_output.serialize_example(tfds_output.features(), {schema.FEATURE_ID: "unit/a#0"})

"""The Beam preprocessing graph: read -> parse/encode -> split -> write.

``build_pipeline`` adds the labelled stages below to a pipeline (``preprocessing.job`` runs it):

    ListSources -> ReadTunes -> ReshuffleTunes -> Parse/Encode -> Split -> ShardByHash
      -> GroupShards -> WriteShards -> Finalize (TFDS metadata, vocabularies, stats)
    dead letters of every stage -> DeadLetters (dead_letters.jsonl), per-reason Beam counters

Paths: the shards, the TFDS metadata, the vocabularies and ``stats.json`` are written by our own
code in the workers, through ``tf.io.gfile``; the dead letters by Beam's ``WriteToText``, whose
path is joined with Beam's ``FileSystems``. Either way ``config.output`` may be a ``gs://`` URL.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import apache_beam as beam
import tensorflow as tf
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from preprocessing import corpora, output_folder, schema, statistics
from preprocessing.records import ENCODING_TUNE, DeadLetter, RawTune, Source, make_excerpt
from preprocessing.split import shard_of, split_of
from preprocessing.tunes import process_tune

_LOG = logging.getLogger(__name__)

METRICS_NAMESPACE = "folkgen.preprocessing"
DEAD = "dead_letters"
EVENTS = "stat_events"


@dataclass(frozen=True)
class PreprocessConfig:
    """What one preprocessing job reads and writes.

    ``num_shards`` is the number of hash buckets per split; empty buckets are dropped, so a
    split has at most that many TFRecord files.
    """

    corpus: str
    output: str
    num_shards: int = 4

    def __post_init__(self) -> None:
        if not self.corpus:
            raise ValueError(f"corpus must be named, got {self.corpus!r}")
        if not self.output:
            raise ValueError(f"output must be named, got {self.output!r}")
        if self.num_shards < 1:
            raise ValueError(f"num_shards must be >= 1, got {self.num_shards}")


def skip_counter_name(encoding: str, reason: str) -> str:
    """The Beam counter name of one skip reason (``encoding == "tune"``: tune skipped whole)."""
    return f"skipped_{encoding}_{reason}"


def _internal_dead_letter(corpus: str, tune_id: str, reason: str, error: Exception, excerpt: str) -> DeadLetter:
    return DeadLetter(corpus, tune_id, "", ENCODING_TUNE, reason, f"{type(error).__name__}: {error}", excerpt)


def _excerpt(raw: RawTune) -> str:
    return make_excerpt(raw.content[:400].decode("utf-8", errors="replace"))


class ReadTunesFn(beam.DoFn):
    """Source -> RawTune (main output) and files or tunes skipped whole (``DEAD``)."""

    def __init__(self) -> None:
        self._read = Metrics.counter(METRICS_NAMESPACE, "tunes_read")

    def process(self, source: Source) -> Iterator[object]:
        try:
            items = list(corpora.read_source(source))
        except Exception as error:  # noqa: BLE001 - one unreadable file must not stop the job
            items = [_internal_dead_letter(source.corpus, f"{source.corpus}/{source.label}", "read_error", error, "")]
        for item in items:
            self._read.inc()
            yield beam.pvalue.TaggedOutput(EVENTS, statistics.read_event())
            if isinstance(item, DeadLetter):
                yield beam.pvalue.TaggedOutput(DEAD, item)
            else:
                yield item


class ParseEncodeFn(beam.DoFn):
    """RawTune -> ``(example, serialized tf.train.Example)`` for kept tunes; dead letters to ``DEAD``."""

    def __init__(self) -> None:
        self._kept = Metrics.counter(METRICS_NAMESPACE, "tunes_kept")
        self._features = None
        self._serialize = None

    def setup(self) -> None:
        from preprocessing import tfds_output  # TensorFlow Datasets loads in the workers only

        self._features = tfds_output.features()
        self._serialize = tfds_output.serialize_example

    def process(self, raw: RawTune) -> Iterator[object]:
        try:
            result = process_tune(raw)
            example, letters = result.example, list(result.dead_letters)
            serialized = self._serialize(self._features, example) if example is not None else None
        except Exception as error:  # noqa: BLE001 - process_tune should not raise; never let one tune stop the job
            example, serialized = None, None
            letters = [_internal_dead_letter(raw.corpus, raw.tune_id, "internal_error", error, _excerpt(raw))]
        if example is not None and serialized is not None:
            self._kept.inc()
            yield example, serialized
        elif not any(letter.encoding == ENCODING_TUNE for letter in letters):
            letters.append(DeadLetter(raw.corpus, raw.tune_id, "", ENCODING_TUNE, "no_example", "no example and no reason given", _excerpt(raw)))
        for letter in letters:
            yield beam.pvalue.TaggedOutput(DEAD, letter)


def _count_dead_letter(letter: DeadLetter) -> DeadLetter:
    Metrics.counter(METRICS_NAMESPACE, skip_counter_name(letter.encoding, letter.reason)).inc()
    return letter


def _with_split(example_and_record: tuple[dict, bytes]) -> tuple[str, dict, bytes]:
    example, record = example_and_record
    return split_of(str(example[schema.FEATURE_ID])), example, record


def _shard_key(item: tuple[str, dict, bytes], num_shards: int) -> tuple[tuple[str, int], tuple[str, bytes]]:
    split, example, record = item
    tune_id = str(example[schema.FEATURE_ID])
    return (split, shard_of(tune_id, num_shards)), (tune_id, record)


def _write_shard(keyed: tuple[tuple[str, int], Sequence[tuple[str, bytes]]], output: str):
    """Writes one shard; returns its ``tfds_output.WrittenShard``."""
    from preprocessing import tfds_output  # TensorFlow Datasets loads in the workers only

    (split, index), records = keyed
    return tfds_output.write_shard(output, split, index, records)


def _in_training_split(item: tuple[str, dict, bytes]) -> bool:
    return item[0] == "train"


def _kept_events(item: tuple[str, dict, bytes]) -> list[statistics.StatEvent]:
    split, example, _ = item
    return statistics.kept_events(example, split)


def _timestep_counts(item: tuple[str, dict, bytes]) -> Counter:
    return Counter(item[1].get(schema.FEATURE_TIMESTEP) or ())


def _abc_counts(item: tuple[str, dict, bytes]) -> Counter:
    return Counter(str(item[1].get(schema.FEATURE_ABC) or ""))


def _dead_letter_line(letter: DeadLetter) -> str:
    return json.dumps(letter.to_json(), ensure_ascii=False, sort_keys=False)


def _finalize(
    _: None,
    config: PreprocessConfig,
    shards: list,
    sections: dict[str, Counter],
    timestep_counts: Counter,
    abc_counts: Counter,
) -> None:
    """Writes the TFDS metadata, both vocabularies and ``stats.json`` (the job's last step, once).

    ``shards`` holds the ``tfds_output.WrittenShard`` of every shard written; the first argument
    is the trigger element.
    """
    from preprocessing import tfds_output  # TensorFlow Datasets loads in the workers only

    tfds_output.finalize_dataset(
        config.output, shards, description=f"Folk melodies of corpus {config.corpus!r}, one example per tune."
    )
    timestep_vocabulary = statistics.timestep_vocabulary(timestep_counts)
    abc_vocabulary = statistics.abc_vocabulary(abc_counts)
    output_folder.write_vocabulary_file(tf.io.gfile.join(config.output, schema.VOCABULARY_FILE), timestep_vocabulary)
    output_folder.write_vocabulary_file(tf.io.gfile.join(config.output, schema.ABC_VOCABULARY_FILE), abc_vocabulary)
    stats = statistics.summarise(config.corpus, sections, len(timestep_vocabulary), len(abc_vocabulary))
    output_folder.write_json(tf.io.gfile.join(config.output, schema.STATS_FILE), stats)


def build_pipeline(pipeline: beam.Pipeline, sources: Sequence[Source], config: PreprocessConfig) -> None:
    """Adds the labelled preprocessing stages for ``sources`` to ``pipeline``."""
    read = (
        pipeline
        | "ListSources" >> beam.Create(list(sources))
        | "ReadTunes" >> beam.ParDo(ReadTunesFn()).with_outputs(DEAD, EVENTS, main="tunes")
    )
    parsed = (
        read.tunes
        | "ReshuffleTunes" >> beam.Reshuffle()
        | "Parse/Encode" >> beam.ParDo(ParseEncodeFn()).with_outputs(DEAD, main="kept")
    )
    kept = parsed.kept | "Split" >> beam.Map(_with_split)

    shards = (
        kept
        | "ShardByHash" >> beam.Map(_shard_key, num_shards=config.num_shards)
        | "GroupShards" >> beam.GroupByKey()
        | "WriteShards" >> beam.Map(_write_shard, output=config.output)
    )

    dead_letters = (
        (read[DEAD], parsed[DEAD])
        | "MergeDeadLetters" >> beam.Flatten()
        | "CountSkips" >> beam.Map(_count_dead_letter)
    )
    _ = (
        dead_letters
        | "DeadLetterJson" >> beam.Map(_dead_letter_line)
        | "DeadLetters" >> beam.io.WriteToText(
            FileSystems.join(config.output, schema.DEAD_LETTERS_FILE), shard_name_template="", num_shards=1
        )
    )

    events = (
        read[EVENTS],
        kept | "KeptEvents" >> beam.FlatMap(_kept_events),
        dead_letters | "SkipEvents" >> beam.FlatMap(statistics.dead_letter_events),
    ) | "MergeEvents" >> beam.Flatten()
    sections = events | "CombineStats" >> beam.CombineGlobally(statistics.StatsCombineFn())

    train = kept | "TrainOnly" >> beam.Filter(_in_training_split)
    timestep_counts = (
        train
        | "TimestepSymbols" >> beam.Map(_timestep_counts)
        | "CountTimestepSymbols" >> beam.CombineGlobally(statistics.CounterSumFn())
    )
    abc_counts = (
        train
        | "AbcCharacters" >> beam.Map(_abc_counts)
        | "CountAbcCharacters" >> beam.CombineGlobally(statistics.CounterSumFn())
    )

    _ = (
        pipeline
        | "FinalizeTrigger" >> beam.Create([None])
        | "Finalize" >> beam.Map(
            _finalize,
            config=config,
            shards=beam.pvalue.AsList(shards),
            sections=beam.pvalue.AsSingleton(sections),
            timestep_counts=beam.pvalue.AsSingleton(timestep_counts),
            abc_counts=beam.pvalue.AsSingleton(abc_counts),
        )
    )

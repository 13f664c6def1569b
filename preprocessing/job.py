"""One preprocessing job, start to end: check the inputs, run the Beam graph, check the counts.

``run_preprocessing`` checks the corpus and the output folder before any work, runs
``preprocessing.pipeline.build_pipeline`` on the runner the Beam flags name into a temporary
folder, and, once the counts add up, moves the dataset into the output folder with its completion
marker (``preprocessing.staging``) and returns the ``stats.json`` document.
"""
from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Sequence

import apache_beam as beam
import tensorflow as tf
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from preprocessing import corpora, output_folder, schema, staging, statistics
from preprocessing.pipeline import METRICS_NAMESPACE, PreprocessConfig, build_pipeline
from preprocessing.records import Source

_LOG = logging.getLogger(__name__)


def check_inputs(config: PreprocessConfig, *, overwrite: bool = False) -> tuple[list[Source], str]:
    """Fails fast, before any Beam work: unknown corpus, no files, or an output that cannot be used.

    Returns the sources and the temporary folder the job writes into (``staging.prepare_output``).
    Raises ValueError naming the bad corpus or output.
    """
    sources = corpora.list_sources(config.corpus)
    if not sources:
        raise ValueError(f"corpus {config.corpus!r} has no tune files")
    return sources, staging.prepare_output(config.output, overwrite=overwrite)


def run_preprocessing(
    *, corpus: str, output: str, num_shards: int = 4, overwrite: bool = False, beam_args: Sequence[str] = ()
) -> dict:
    """Runs the whole job and returns its ``stats.json`` document.

    The job writes into a temporary folder and moves the dataset into ``output`` only once it is
    complete (``preprocessing.staging``): a run that fails or is killed leaves ``output`` as it
    was. A non-empty ``output`` is refused unless ``overwrite``. ``beam_args`` are Beam pipeline
    flags (``--runner``, ``--direct_num_workers``, Dataflow flags). Raises ValueError for a bad
    corpus or output (before any work), RuntimeError when the counts do not add up.
    """
    started = staging.now()
    config = PreprocessConfig(corpus=corpus, output=staging.normalise(output), num_shards=num_shards)
    sources, temp = check_inputs(config, overwrite=overwrite)
    _LOG.info("preprocessing %d files of corpus %r into %s", len(sources), corpus, config.output)
    pipeline = beam.Pipeline(options=PipelineOptions(list(beam_args)))
    build_pipeline(pipeline, sources, dataclasses.replace(config, output=temp))
    try:
        result = pipeline.run()
        result.wait_until_finish()
        stats = output_folder.read_json(tf.io.gfile.join(temp, schema.STATS_FILE))
    except BaseException:
        _LOG.error("the job did not finish: %s is unchanged; the next run removes %s", config.output, temp)
        raise
    _log_summary(stats, temp)
    _log_counters(result)
    if not stats["invariant_holds"]:
        raise RuntimeError(
            f"counts do not add up in {temp} ({config.output} is unchanged): {statistics.INVARIANT} is false: {stats}"
        )
    counts = ("tunes_read", "tunes_kept", "tunes_skipped", "tunes_per_split")
    staging.commit(config.output, temp, {
        "written_by": "preprocessing.run", "corpus": corpus, "output": config.output, "num_shards": num_shards,
        "overwrite": overwrite, "started": started, **{key: stats[key] for key in counts},
    })
    return stats


def _log_counters(result: beam.runners.runner.PipelineResult) -> None:
    counters = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]
    totals = Counter()
    for counter in counters:
        totals[counter.key.metric.name] += counter.committed or 0
    _LOG.info("Beam counters: %s", dict(sorted(totals.items())))


def _log_summary(stats: dict, output: str) -> None:
    _LOG.info(
        "corpus %r: %d tunes read, %d kept, %d skipped %s; per split %s; timestep vocabulary %d symbols",
        stats["corpus"], stats["tunes_read"], stats["tunes_kept"], stats["tunes_skipped"],
        stats["skipped_by_reason"], stats["tunes_per_split"], stats["timestep_vocabulary_size"],
    )
    _LOG.info("skipped encodings by reason: %s", stats["skipped_encodings_by_reason"])
    _LOG.info("wrote TFRecords + TFDS metadata, %s, %s, %s and %s to %s", schema.VOCABULARY_FILE,
              schema.ABC_VOCABULARY_FILE, schema.STATS_FILE, schema.DEAD_LETTERS_FILE, output)

"""The page's server-side state: generation jobs with their progress, and every tune made, by id.

A job runs on one worker thread (generation is CPU-bound; one at a time keeps each fast) and
reports ``done / total`` sampling steps while it samples, then ``writing`` while its ABC is
written; the job is done then (the page engraves the ABC), and a second thread writes the tune's
other downloads (MIDI, MusicXML, WAV, PNG) into ``Tune.files`` while the next job may sample. A tune keeps its GeneratedMelody, its config and its model, so Vary regenerates bars of
exactly that tune; its files live in ``<work_dir>/<tune id>/``.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from preprocessing.melody.events import EncodingError
from serving.client import ClientError, ModelClient
from serving.generation.tokens import GeneratedMelody, GenerationConfig, generate
from serving.generation.vary import bar_spans, vary
from serving.music import render
from serving.page.form import PAGE_FORMATS, parse_form

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Tune:
    """One tune the page made: ``result`` as ``generate`` (or Vary) returned it, written under ``out_dir``;
    ``varied``: the bars Vary regenerated to make it (0-based), ``log_p`` their log-likelihood;
    ``files``: format -> path of the downloads written so far (filled in by the studio)."""

    id: str
    model: str
    config: GenerationConfig
    result: GeneratedMelody
    out_dir: str
    parent: str | None = None
    varied: tuple[int, ...] = ()
    log_p: float | None = None
    files: dict[str, str] = dataclasses.field(default_factory=dict)
    files_error: list[str] = dataclasses.field(default_factory=list)

    @functools.cached_property
    def abc(self) -> str:
        """The ABC file's text, read on first use and kept (generation wrote it; it does not change)."""
        with open(self.result.paths["abc"], encoding="utf-8") as handle:
            return handle.read()

    @functools.cached_property
    def bars(self) -> int:
        """The tune's bars, a pickup not counted (8 bars asked for, with an upbeat, are 8): Vary's
        (``vary.bar_spans``, whose bar 0 is the pickup) less the pickup; counted on first use and kept."""
        return len(bar_spans(self.result)) - render.starts_with_pickup(self.result.melody)

    @property
    def files_pending(self) -> bool:
        return not self.files_error and any(fmt not in self.files for fmt in PAGE_FORMATS)


@dataclasses.dataclass
class Job:
    """A generation in progress: ``state`` is ``queued``, ``sampling``, ``writing``, ``done`` or ``failed``;
    ``seconds`` the whole job's, ``sampling_seconds`` until its last step was sampled (an ABC tune
    may end before ``total``, its cap: then the state stays ``sampling`` while the files are written)."""

    id: str
    state: str = "queued"
    done: int = 0
    total: int = 0
    error: str = ""
    tune_id: str | None = None
    started: float = dataclasses.field(default_factory=time.monotonic)
    seconds: float | None = None
    sampling_seconds: float | None = None

    def step(self, done: int, total: int) -> None:
        """``on_step`` of the sampling loop: ``writing`` once the last step is sampled."""
        self.done, self.total = done, total
        self.state = "writing" if done >= total else "sampling"
        self.sampling_seconds = time.monotonic() - self.started  # until the latest step: the last is the total


class Studio:
    """Runs generations and variations for the page; ``clients(model)`` opens (or reuses) a model's client."""

    def __init__(self, clients: Callable[[str], ModelClient], work_dir: str | None = None) -> None:
        self._clients = clients
        self._own_dir = work_dir is None
        self.work_dir = work_dir or tempfile.mkdtemp(prefix="folkgen-web-")
        self._jobs: dict[str, Job] = {}
        self._tunes: dict[str, Tune] = {}
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="folkgen-page")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="folkgen-page-files")

    def generate(self, fields: Mapping[str, object]) -> Job:
        """Starts a generation from the page's form; FormError (a ValueError) before anything starts."""
        tune_id = secrets.token_hex(6)
        out_dir = os.path.join(self.work_dir, tune_id)
        model, config = parse_form(fields, out_dir)

        def work(job: Job) -> Tune:
            result, = generate(self._clients(model), config, model, on_step=job.step)
            return Tune(tune_id, model, config, result, out_dir)

        return self._start(work)

    def vary(self, tune_id: str, bars: Sequence[int], candidates: int = 8) -> Job:
        """Starts regenerating ``bars`` (0-based) of a tune, the rest kept: a new tune of its own id."""
        tune = self.tune(tune_id)
        if not bars:
            raise ValueError("vary: select at least one bar")
        new_id = secrets.token_hex(6)
        config = dataclasses.replace(tune.config, out_dir=os.path.join(self.work_dir, new_id))

        def work(job: Job) -> Tune:
            job.state = "sampling"
            varied = vary(self._clients(tune.model), tune.result, sorted(set(bars)), config, tune.model, candidates)
            return Tune(new_id, tune.model, config, varied.melody, config.out_dir, tune.id, tuple(varied.bars),
                        varied.log_p)

        return self._start(work)

    def _start(self, work: Callable[[Job], Tune]) -> Job:
        job = Job(secrets.token_hex(6))
        with self._lock:
            self._jobs[job.id] = job
        self._worker.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Callable[[Job], Tune]) -> None:
        job.started = time.monotonic()
        try:
            tune = work(job)
        except (ValueError, EncodingError, ClientError) as error:
            job.error, job.state = str(error), "failed"
            return
        except Exception as error:  # noqa: BLE001 - the page shows it; the log keeps the traceback
            logger.exception("generation failed")
            job.error, job.state = f"internal error: {type(error).__name__}: {error}", "failed"
            return
        finally:
            job.seconds = time.monotonic() - job.started
        if tune.result.melody is None:
            job.error, job.state = f"the model's tune could not be rendered: {tune.result.error}", "failed"
            return
        tune.files.update(tune.result.paths)
        with self._lock:
            self._tunes[tune.id] = tune
        job.tune_id, job.state = tune.id, "done"
        self._writer.submit(self._write_downloads, tune)

    def _write_downloads(self, tune: Tune) -> None:
        """Writes the tune's downloads that generation left out (as ``generate`` would have written them)."""
        missing = [fmt for fmt in PAGE_FORMATS if fmt not in tune.files]
        stem = os.path.splitext(os.path.basename(tune.result.paths["abc"]))[0]
        try:
            paths = render.write_formats(tune.result.melody, missing, tune.out_dir, stem, tune.config.tempo_bpm)
        except Exception as error:  # noqa: BLE001 - the page says so beside the downloads
            logger.exception("downloads of tune %s not written", tune.id)
            tune.files_error.append(f"{type(error).__name__}: {error}")
            return
        tune.files.update(paths)

    def job(self, job_id: str) -> Job:
        with self._lock:
            if job_id not in self._jobs:
                raise KeyError(f"no job {job_id!r}")
            return self._jobs[job_id]

    def tune(self, tune_id: str) -> Tune:
        with self._lock:
            if tune_id not in self._tunes:
                raise KeyError(f"no tune {tune_id!r}")
            return self._tunes[tune_id]

    def close(self) -> None:
        """Stops the threads (after their current tasks) and removes the files this studio made itself."""
        self._worker.shutdown(wait=True, cancel_futures=True)
        self._writer.shutdown(wait=True, cancel_futures=True)
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

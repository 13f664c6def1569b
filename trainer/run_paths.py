"""Where one training run writes, for every model family, with Vertex AI's ``AIP_*`` defaults.

Flags first, then ``AIP_MODEL_DIR`` (export), ``AIP_CHECKPOINT_DIR`` and
``AIP_TENSORBOARD_LOG_DIR``, then folders under the job dir (``runs/<preset>`` by default).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import tensorflow as tf


@dataclass(frozen=True)
class RunPaths:
    """Where one run writes; ``export_path`` is None when nothing is exported."""

    job_dir: str
    checkpoint_dir: str
    tensorboard_dir: str
    export_path: str | None

    @classmethod
    def resolve(
        cls,
        job_dir: str | None,
        *,
        preset: str,
        checkpoint_dir: str | None = None,
        tensorboard_dir: str | None = None,
        export_path: str | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> RunPaths:
        """Flags first, then Vertex AI's AIP_* variables, then folders under ``runs/<preset>``."""
        job_dir = job_dir or os.path.join("runs", preset)
        return cls(
            job_dir=job_dir,
            checkpoint_dir=checkpoint_dir or environ.get("AIP_CHECKPOINT_DIR") or os.path.join(job_dir, "checkpoints"),
            tensorboard_dir=tensorboard_dir or environ.get("AIP_TENSORBOARD_LOG_DIR") or os.path.join(job_dir, "logs"),
            export_path=export_path or environ.get("AIP_MODEL_DIR") or None,
        )

    def check_export_path(self) -> None:
        """ValueError if the export path exists and is a file, not a folder."""
        if self.export_path is not None:
            if tf.io.gfile.exists(self.export_path) and not tf.io.gfile.isdir(self.export_path):
                raise ValueError(f"export path {self.export_path!r} exists and is a file, not a folder")

    def make_dirs(self) -> None:
        """Creates the job, checkpoint and TensorBoard folders."""
        for folder in (self.job_dir, self.checkpoint_dir, self.tensorboard_dir):
            tf.io.gfile.makedirs(folder)

"""Training entry point: ``python -m trainer.task --model lstm --data data/erk --export saved_models/lstm_erk``.

Every preset of every family (token models and VAEs) trains through ``trainer.training.train_preset``:
``history.csv``, ``config.json``, ``metrics.json`` under the job dir, best and last checkpoints
and the resume state under the checkpoint dir, TensorBoard logs under the log dir (see
``trainer.fitting``). Rerunning the same command after the process was killed resumes from the
last finished epoch. ``--init-from saved_models/<model>`` fine-tunes: the run starts from that
export's weights and vocabulary (``trainer.token_models.init_from``); ``--max-minutes`` caps the
wall time of training (``trainer.fitting.TimeLimit``). Output paths default to Vertex AI's ``AIP_MODEL_DIR`` (export),
``AIP_CHECKPOINT_DIR`` and ``AIP_TENSORBOARD_LOG_DIR`` when those are set (``trainer.run_paths``).
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from trainer import presets
from trainer.fitting import TimeLimit
from trainer.run_paths import RunPaths
from trainer.training import train_preset

logger = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help=f"preset name, one of {presets.names()}")
    parser.add_argument("--data", required=True, help="preprocessing output folder")
    parser.add_argument("--job-dir", help="run folder (default runs/<model>)")
    parser.add_argument("--export", help="SavedModel base path; a new integer version is written (default $AIP_MODEL_DIR)")
    parser.add_argument("--checkpoint-dir", help="default $AIP_CHECKPOINT_DIR or <job-dir>/checkpoints")
    parser.add_argument("--tensorboard-dir", help="default $AIP_TENSORBOARD_LOG_DIR or <job-dir>/logs")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE",
        help="override one config field, e.g. --set units=128 --set epochs=3 (repeatable)",
    )
    parser.add_argument("--init-from", help="export (saved_models/<model> or a version folder) to fine-tune from")
    parser.add_argument("--max-minutes", type=float, help="stop training after this many minutes of wall time")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), help="Keras progress: 1 bar, 2 a line per epoch")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        paths = RunPaths.resolve(
            args.job_dir, preset=args.model, checkpoint_dir=args.checkpoint_dir,
            tensorboard_dir=args.tensorboard_dir, export_path=args.export,
        )
        train_preset(
            preset=args.model, data_dir=args.data, paths=paths, overrides=presets.parse_assignments(args.set),
            verbose=args.verbose if args.verbose is not None else (1 if sys.stdout.isatty() else 2),
            callbacks=[TimeLimit(args.max_minutes)] if args.max_minutes is not None else [], init_from=args.init_from,
        )
    except ValueError as error:
        logger.error("%s", error)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

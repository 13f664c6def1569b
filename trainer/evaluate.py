"""Scores an exported token model and an n-gram baseline on one split of a preprocessing output.

``python -m trainer.evaluate --model saved_models/lstm_erk --data data/erk --split test [--output m.json]``

The library is ``trainer.token_models.evaluation``.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from trainer.files import write_text
from trainer.token_models.evaluation import evaluate, format_table

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score an exported token model against an n-gram baseline.")
    parser.add_argument("--model", required=True, help="SavedModel base path, local or a URL (latest version is used)")
    parser.add_argument("--data", required=True, help="preprocessing output folder, local or a URL")
    parser.add_argument("--split", default="test", choices=("train", "validation", "test"))
    parser.add_argument("--output", help="write the metrics as JSON here (local or a URL)")
    parser.add_argument("--order", type=int, default=5, help="n-gram order (default 5)")
    parser.add_argument("--tune-lengths", action="store_true",
                        help="a meter-aware model is told each tune's length (the bars left at every step)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        report = evaluate(model_path=args.model, data_dir=args.data, split=args.split, order=args.order,
                          tune_lengths=args.tune_lengths)
    except ValueError as error:
        logger.error("%s", error)
        return 2
    sys.stdout.write(format_table(report) + "\n")
    if args.output:
        write_text(args.output, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

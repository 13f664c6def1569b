"""Scores an exported character-level ABC model: generated tunes and loss per character.

``python -m trainer.abc_eval --model saved_models/abc_irish --data data/irish --tunes 200``

The library is ``trainer.token_models.abc_evaluation``: the share of generated tunes music21
parses, the share of full bars (beside the split's real tunes), loss per character with
``--data``, and the novelty against the training split.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from serving.contract.sampling import SamplingSettings
from trainer.files import write_text
from trainer.token_models.abc_evaluation import DEFAULT_PRIMER, TuneDraw, evaluate

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score generated tunes and loss per character of an ABC model.")
    parser.add_argument("--model", required=True, help="SavedModel base path (latest version is used)")
    parser.add_argument("--data", help="preprocessing output folder: also report loss per character")
    parser.add_argument("--split", default="validation", choices=("train", "validation", "test"))
    parser.add_argument("--primer", default=DEFAULT_PRIMER, help="ABC text every tune starts from (default 'X:1\\n')")
    parser.add_argument("--tunes", type=int, default=TuneDraw.tunes)
    parser.add_argument("--steps", type=int, default=TuneDraw.steps, help="characters sampled per tune")
    parser.add_argument("--temperature", type=float, default=SamplingSettings.temperature)
    parser.add_argument("--top-k", type=int, default=SamplingSettings.top_k, help="0 = off")
    parser.add_argument("--top-p", type=float, default=SamplingSettings.top_p, help="1.0 = off")
    parser.add_argument("--seed", type=int, default=TuneDraw.seed)
    parser.add_argument("--samples", help="write the generated tunes here as one ABC file")
    parser.add_argument("--output", help="write the report as JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = SamplingSettings(args.temperature, args.top_k, args.top_p)
        draw = TuneDraw(tunes=args.tunes, steps=args.steps, settings=settings, seed=args.seed)
        report = evaluate(
            model_path=args.model, primer=args.primer.replace("\\n", "\n"), draw=draw, data_dir=args.data,
            split=args.split, samples_path=args.samples,
        )
    except ValueError as error:
        logger.error("%s", error)
        return 2
    text = json.dumps(report, indent=2)
    sys.stdout.write(text + "\n")
    if args.output:
        write_text(args.output, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

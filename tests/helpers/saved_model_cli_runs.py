"""`saved_model_cli run` for several signatures of one or more SavedModels, in one fresh process.

Each call takes the CLI's own `run` steps: its parser of the `--inputs` string, then
`run_saved_model_with_feed_dict` (a new graph and session, the SavedModel loaded by the session
loader, each output saved as `<name>.npy` in the output folder), exactly as
`saved_model_cli run --tag_set serve --signature_def S --inputs I --outdir O --overwrite` does;
the calls share only the import of TensorFlow. Run as a script (it imports nothing of ours):

    python saved_model_cli_runs.py EXPORT_DIR WORKDIR SIGNATURE[=INPUTS] ... [--next EXPORT_DIR WORKDIR ...]

writes each signature's outputs to `WORKDIR/<signature>-outputs/`. A group (one export) whose call
fails leaves its traceback in `WORKDIR/failure.txt` (and on stderr); the other groups still run,
and the exit status is 1.
"""
from __future__ import annotations

import os
import sys
import traceback

from tensorflow.python.tools import saved_model_cli

NEXT = "--next"
FAILURE_FILE = "failure.txt"


def run_group(export_dir: str, workdir: str, calls: list[str]) -> None:
    """Every `SIGNATURE[=INPUTS]` call of one export, outputs under ``workdir``."""
    for call in calls:
        signature, _, inputs = call.partition("=")
        feed = saved_model_cli.load_inputs_from_input_arg_string(inputs, "", "")
        saved_model_cli.run_saved_model_with_feed_dict(export_dir, "serve", signature, feed,
                                                       os.path.join(workdir, f"{signature}-outputs"), True)


def main(argv: list[str]) -> int:
    groups: list[list[str]] = [[]]
    for argument in argv:
        if argument == NEXT:
            groups.append([])
        else:
            groups[-1].append(argument)
    failed = False
    for export_dir, workdir, *calls in groups:
        try:
            run_group(export_dir, workdir, calls)
        except Exception:  # pylint: disable=broad-except  # reported per export, the others still run
            failed = True
            report = traceback.format_exc()
            with open(os.path.join(workdir, FAILURE_FILE), "w", encoding="utf-8") as out:
                out.write(report)
            print(f"{export_dir}:\n{report}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

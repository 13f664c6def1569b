"""`saved_model_cli run` for several signatures of one SavedModel, in one fresh process.

Each call takes the CLI's own `run` steps: its parser of the `--inputs` string, then
`run_saved_model_with_feed_dict` (a new graph and session, the SavedModel loaded by the session
loader, each output saved as `<name>.npy` in the output folder), exactly as
`saved_model_cli run --tag_set serve --signature_def S --inputs I --outdir O --overwrite` does;
the calls share only the import of TensorFlow. Run as a script (it imports nothing of ours):

    python saved_model_cli_runs.py EXPORT_DIR WORKDIR SIGNATURE[=INPUTS] ...

writes each signature's outputs to `WORKDIR/<signature>-outputs/`.
"""
from __future__ import annotations

import os
import sys

from tensorflow.python.tools import saved_model_cli


def main(argv: list[str]) -> int:
    export_dir, workdir, *calls = argv
    for call in calls:
        signature, _, inputs = call.partition("=")
        feed = saved_model_cli.load_inputs_from_input_arg_string(inputs, "", "")
        saved_model_cli.run_saved_model_with_feed_dict(export_dir, "serve", signature, feed,
                                                       os.path.join(workdir, f"{signature}-outputs"), True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

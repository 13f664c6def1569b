"""Prints the split of every tune id given as an argument, comma-separated (run in a fresh process).

    python -m tests.helpers.print_splits ID [ID ...]
"""
from __future__ import annotations

import sys

from preprocessing.split import split_of

if __name__ == "__main__":
    print(",".join(split_of(tune_id) for tune_id in sys.argv[1:]))

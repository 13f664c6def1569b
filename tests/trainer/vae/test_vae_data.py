"""The VAE's padded code rows: padding, overflow, invalid codes, coverage."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from trainer.vae import data as vae_data


def test_notes_are_padded_with_rests_and_rhythms_with_whole_notes():
    notes = vae_data.pad_codes([[60, 62], [99]], 4, vae_data.NOTES_ALPHABET)
    rhythms = vae_data.pad_codes([[3, 1, 0]], 4, vae_data.RHYTHMS_ALPHABET)
    assert notes.codes.tolist() == [[60, 62, 99, 99], [99, 99, 99, 99]]
    assert notes.lengths.tolist() == [2, 1]
    assert rhythms.codes.tolist() == [[3, 1, 0, 7]]
    assert vae_data.NOTES_ALPHABET.normalise(np.array([50, 99])).tolist() == [0.0, 1.0]
    assert vae_data.RHYTHMS_ALPHABET.normalise(np.array([0, 7])).tolist() == [0.0, 1.0]
    values = vae_data.NOTES_ALPHABET.normalise(np.array(vae_data.NOTES_ALPHABET.codes))
    assert vae_data.NOTES_ALPHABET.denormalise(values).tolist() == list(vae_data.NOTES_ALPHABET.codes)


def test_overflow_truncates_with_a_warning_or_refuses_naming_the_tune(caplog):
    sequences, ids = [[60] * 6, [62] * 3], ["erk/a#0", "erk/b#1"]
    with caplog.at_level(logging.WARNING, logger="trainer.vae.data"):
        padded = vae_data.pad_codes(sequences, 4, vae_data.NOTES_ALPHABET, "truncate", ids)
    assert padded.codes.tolist() == [[60, 60, 60, 60], [62, 62, 62, 99]]
    assert padded.lengths.tolist() == [4, 3] and padded.truncated == 1
    assert "erk/a#0" in caplog.text
    with pytest.raises(ValueError, match="erk/a#0.*6 notes events"):
        vae_data.pad_codes(sequences, 4, vae_data.NOTES_ALPHABET, "refuse", ids)
    with pytest.raises(ValueError, match="'drop'"):
        vae_data.pad_codes(sequences, 4, vae_data.NOTES_ALPHABET, "drop", ids)


def test_invalid_codes_are_refused_with_the_tune_and_the_code():
    with pytest.raises(ValueError, match=r"erk/x#2.*\[98\]"):
        vae_data.pad_codes([[60, 98]], 4, vae_data.NOTES_ALPHABET, ids=["erk/x#2"])
    with pytest.raises(ValueError, match="'chords'"):
        vae_data.alphabet_for("chords")


def test_coverage_is_the_share_of_tunes_that_fit_whole():
    assert vae_data.coverage([3, 4, 5, 10], 4) == 0.5
    assert vae_data.coverage([], 4) == 1.0

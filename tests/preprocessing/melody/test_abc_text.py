"""ABC normalisation for the character model."""
from __future__ import annotations

import pytest

from preprocessing.melody import abc_text
from preprocessing.melody.events import EncodingError


def test_normalise_abc_keeps_x_l_m_k_and_body_only() -> None:
    text = (
        "X: 17\nT:The Title\nC:Trad.\n% a comment\nM: 6/8\nR:jig\nZ:someone\nK: G  \n"
        "GAG   BAG | d2 B c2 A |   % trailing comment\n\nw: some lyrics\nP:B\nM:9/8\n"
        "GAG BAG d3 |]   \n"
    )
    assert abc_text.normalise_abc(text) == (
        "X:1\nL:1/8\nM:6/8\nK:G\nGAG BAG | d2 B c2 A |\nM:9/8\nGAG BAG d3 |]\n"
    )


def test_normalise_abc_tune_fields_override_inherited_file_header() -> None:
    text = "X:3\nL:1/4\nM:3/4\nT:t\nL:1/8\nK:Am\nA2 B2 c2 |]\n"
    assert abc_text.normalise_abc(text) == "X:1\nL:1/8\nM:3/4\nK:Am\nA2 B2 c2 |]\n"
    assert abc_text.normalise_abc(text) == abc_text.normalise_abc(text + "\n\n")


def test_normalise_abc_keeps_music_lines_that_start_like_a_field() -> None:
    text = "X:1\nM:2/4\nK:D\nA2 d2|\nA:|B2 c2|]\n"
    assert abc_text.normalise_abc(text) == "X:1\nL:1/16\nM:2/4\nK:D\nA2 d2|\nA:|B2 c2|]\n"


def test_normalise_abc_without_music_is_an_error() -> None:
    with pytest.raises(EncodingError, match="no music lines") as caught:
        abc_text.normalise_abc("X:1\nT:Only a title\nK:D\n")
    assert caught.value.reason == "empty_body"

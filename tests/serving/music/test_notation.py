"""Pitch spelling in a key."""
from __future__ import annotations

import pytest

from preprocessing.melody.keys import parse_key
from serving.music.notation import spell


@pytest.mark.parametrize("midi, key_name, name", [
    (70, "C", "B-4"), (66, "C", "F#4"), (61, "C", "C#4"), (59, "Bb", "B3"), (63, "Em", "D#4"),
    (61, "Dm", "C#4"), (66, "Gm", "F#4"), (71, "F#", "B4"), (59, "Gb", "C-4"), (65, "C#m", "E#4"),
])
def test_spelling_follows_the_key(midi, key_name, name):
    spelled = spell(midi, parse_key(key_name))
    assert spelled.music21_name == name and spelled.midi == midi

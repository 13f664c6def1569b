"""A meter-aware model's default meter: the one most of its training tunes are in (its export's
`tune_frames`), when neither the request nor the primer names one."""
from __future__ import annotations

import numpy as np
import pytest

from preprocessing.melody.keys import parse_meter
from serving.contract import bar_position as bp
from serving.generation.tokens import GenerationConfig, generate
from serving.generation.tune_frame import usual_meter
from serving.generation.tune_request import TuneRequest
from serving.local_client import LocalModelClient
from tests.helpers.tiny_models import TINY_WALTZ_FRAMES, export_tiny_meter_lstm

NAME = "lstm_meter_waltzes"


def _table(*meters: str) -> bp.FrameTable:
    return bp.FrameTable(np.full(len(meters), 16), np.zeros(len(meters), int),
                         np.array([bp.meter_index(meter) for meter in meters]), np.full(len(meters), 8))


@pytest.mark.unit
@pytest.mark.parametrize(("meters", "usual"), [
    (("3/4", "4/4", "3/4"), "3/4"),
    (("2/4", "2/4", "6/8", "3/4"), "2/4"),
    (("3/4", "4/4"), "4/4"),  # a tie with 4/4 keeps 4/4
    (("6/8", "3/4"), "3/4"),  # else the first of METERS
    (("5/4", "7/8", "3/8"), "3/8"),  # meters outside METERS do not count
])
def test_the_usual_meter_is_the_one_most_training_tunes_are_in(meters, usual):
    assert usual_meter(_table(*meters)) == parse_meter(usual)


@pytest.mark.unit
def test_without_frames_or_a_meter_of_ours_there_is_none():
    assert usual_meter(None) is None
    assert usual_meter(_table("5/4", "7/4")) is None


@pytest.mark.server
def test_a_tune_takes_the_usual_meter_unless_the_request_names_one(tmp_path):
    """music21 reads each written MusicXML's time signature and its bars' lengths."""
    import music21  # noqa: PLC0415

    export_tiny_meter_lstm(tmp_path / "models" / NAME, frames=TINY_WALTZ_FRAMES)
    client = LocalModelClient(str(tmp_path / "models"), NAME)

    def written(meter: str | None, out: str) -> set[tuple[str, float]]:
        request = TuneRequest(meter=parse_meter(meter) if meter else None)
        config = GenerationConfig(primer=None, num=4, seed=0, formats=("musicxml",), out_dir=str(tmp_path / out),
                                  constraints=request)
        found = set()
        for melody in generate(client, config, NAME):
            part = music21.converter.parse(melody.paths["musicxml"]).parts[0]
            (signature,) = {sign.ratioString for sign in part.recurse().getElementsByClass("TimeSignature")}
            found |= {(signature, measure.barDuration.quarterLength) for measure in part.getElementsByClass("Measure")}
        return found

    assert written(None, "usual") == {("3/4", 3.0)}
    assert written("4/4", "asked") == {("4/4", 4.0)}

"""A meter-aware timestep model served by a real `python -m serving.server`: its extra inputs over
gRPC and REST, the client's conditioning over `step` against `generate`'s in the graph."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from preprocessing.melody.keys import parse_key, parse_meter
from serving import client as model_client
from serving.contract import bar_position as bp
from serving.contract import bar_rules
from serving.contract import signatures as sig
from serving.contract.bar_position import TuneFrame
from serving.contract.sampling import SamplingSettings
from serving.generation.constrained_rows import TimestepRows
from serving.generation.primers import PrimerSource
from serving.generation.timestep_constraints import TimestepConstraints
from serving.generation.token_model import TokenModel
from serving.generation.tokens import GenerationConfig, generate, sample_melodies
from serving.generation.tune_frame import tune_frame
from serving.generation.tune_request import TuneRequest
from tests.helpers.tiny_models import TINY_TUNE_FRAMES, UNITS, VOCABULARY
from tests.serving.conftest import TINY_METER_MODELS

pytestmark = pytest.mark.server

NAME = "lstm_meter"
UNFRAMED = "lstm_meter_unframed"  # the same model exported without its training tunes' frames
PRIMERS = [[0, 8, 1, 1, 1], [0, 12, 1], [0, 3, 1, 1, 0, 5, 1, 9]]  # the last restarts its tune at its second "/"


@pytest.fixture(scope="module")
def server(tiny_token_server):
    """conftest.py's server: ``export_tiny_meter_lstm`` as NAME and, without `tune_frames`, as UNFRAMED,
    beside ``export_tiny_lstm`` as lstm_erk; read-only."""
    assert TINY_METER_MODELS == {NAME: True, UNFRAMED: False}
    return tiny_token_server


@pytest.fixture(scope="module", params=["grpc", "rest"])
def client(server, request):
    address = server.grpc_address if request.param == "grpc" else server.rest_url
    connected = model_client.connect(address, NAME, rest=request.param == "rest")
    yield connected
    connected.close()


@pytest.fixture()
def model(client):
    return TokenModel(client)


def test_the_export_states_its_extra_inputs_and_a_plain_one_none(server, model):
    assert model.conditioning == sig.STEP_CONDITIONING and model.model_kind == sig.TOKEN_TIMESTEP
    assert set(sig.STEP_CONDITIONING) <= set(model.client.signatures[sig.STEP].inputs)
    assert set(sig.GENERATE_CONDITIONING) <= set(model.client.signatures[sig.GENERATE].inputs)
    assert TokenModel(model_client.connect(server.grpc_address, "lstm_erk")).conditioning == ()


def test_a_step_request_without_them_is_invalid_argument_naming_them(client):
    with pytest.raises(model_client.RequestRejectedError,
                       match=r"Missing but required: \['bar_position', 'bars_left', 'meter_index', 'mode_index'\]"):
        client.predict(sig.STEP, {sig.TOKEN: np.array([3], np.int32), sig.STATE: np.zeros((1, 2 * UNITS), np.float32)})
    with pytest.raises(model_client.ClientError, match=r"needs the inputs \['bar_position', 'meter_index'"):
        TokenModel(client).step(np.array([3], np.int32), np.zeros((1, 2 * UNITS), np.float32))


def test_an_out_of_range_input_is_invalid_argument_naming_it(server):
    import grpc  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc  # noqa: PLC0415

    inputs = {sig.TOKEN: np.array([3, 4], np.int32), sig.STATE: np.zeros((2, 2 * UNITS), np.float32),
              **TuneFrame(12).step_inputs(np.array([0, 1]))}
    inputs[sig.METER_INDEX] = np.array([0, 99], np.int32)
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = NAME, sig.STEP
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    with grpc.insecure_channel(server.grpc_address) as channel:
        with pytest.raises(grpc.RpcError) as refused:
            prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "[meter_index must be in 0..8:] [0 99]" in refused.value.details()


def test_the_conditioning_changes_the_prediction(model):
    tokens, state = np.array([8, 8], np.int32), np.full((2, 2 * UNITS), 0.1, np.float32)
    downbeat, offbeat = (model.step(tokens, state, TuneFrame(16, length=64).step_inputs(np.array([t, t])))[0]
                         for t in (16, 17))
    assert not np.allclose(downbeat, offbeat)
    np.testing.assert_allclose(*(model.step(tokens, state, TuneFrame(16).step_inputs(np.array([t, t])))[0]
                                 for t in (17, 33)), rtol=1e-6)  # the same place in the bar, no length


@pytest.mark.parametrize(("frame", "request_fields"), [
    (tune_frame(None, None, None), None),
    (tune_frame(parse_meter("3/4"), parse_key("Am"), 3), {"bars": 3, "key": parse_key("Am"), "meter": parse_meter("3/4")}),
    (tune_frame(parse_meter("6/8"), None, None, pickup=2), {"meter": parse_meter("6/8")}),
])
def test_client_side_sampling_matches_server_side_generate(model, frame, request_fields):
    """The client's conditioning over step and generate's, counted in the graph, give the same tokens."""
    seeds, steps, settings = [7, 8, 123456], 110, SamplingSettings(1.2, 0, 0.95)
    constraints = TimestepConstraints(TuneRequest(**request_fields), VOCABULARY) if request_fields else None
    rows = TimestepRows(constraints, PRIMERS, steps) if constraints else None
    sampled = sample_melodies(model, PRIMERS, steps, settings, seeds, rules=rows, frames=frame)
    rules = bar_rules.rule_inputs(
        [constraints.rules(*constraints.bar_limits(constraints.start(p).position, steps)) for p in PRIMERS]
        if constraints else [None] * 3, len(VOCABULARY))
    width = max(map(len, PRIMERS))
    generated = model.generate(
        primer=np.array([p + [0] * (width - len(p)) for p in PRIMERS]), primer_length=np.array([len(p) for p in PRIMERS]),
        steps=np.full(3, steps), temperature=np.full(3, settings.temperature), top_k=np.full(3, settings.top_k),
        top_p=np.full(3, settings.top_p), seed=np.array(seeds), rules=rules, frame=frame.generate_inputs(3))
    assert sampled == [[int(t) for t in row if t >= 0] for row in generated]
    other = sample_melodies(model, PRIMERS, steps, settings, seeds, rules=TimestepRows(constraints, PRIMERS, steps)
                            if constraints else None, frames=TuneFrame(frame.bar_steps, (frame.pickup + 1) % frame.bar_steps))
    assert other != sampled  # the frame reaches the model


def test_generate_without_the_frame_is_a_client_error(model):
    with pytest.raises(model_client.ClientError, match=r"needs the inputs \['bar_steps', 'pickup'"):
        model.generate(primer=np.zeros((1, 1)), primer_length=np.ones(1), steps=np.full(1, 3),
                       temperature=np.ones(1), top_k=np.zeros(1), top_p=np.ones(1), seed=np.zeros(1))


def test_the_library_computes_the_frame_from_the_request_on_either_side(server, tmp_path):
    request = TuneRequest(bars=4, meter=parse_meter("3/4"), key=parse_key("G"))
    tokens = {}
    for sampling in ("client", "server"):
        config = GenerationConfig(primer=PrimerSource(symbols="/ 67 _ _ _"), num=2, seed=3, formats=("abc",),
                                  out_dir=str(tmp_path / sampling), sampling=sampling, constraints=request)
        written = generate(model_client.connect(server.grpc_address, NAME), config, NAME)
        tokens[sampling] = [melody.tokens for melody in written]
        assert all(melody.paths["abc"] for melody in written)
    assert tokens["client"] == tokens["server"]
    assert all(len(row) == 1 + 4 * 12 + 1 for row in tokens["client"])  # the primer's "/", 4 bars of 3/4, the end


def test_without_a_primer_a_meter_aware_model_starts_from_the_song_start_and_a_plain_one_from_twinkle(server, tmp_path):
    request = TuneRequest(bars=6)  # twinkle fills 4 bars of 4/4
    primers = {}
    for name in (NAME, "lstm_erk"):
        config = GenerationConfig(primer=None, num=1, seed=0, formats=("abc",), out_dir=str(tmp_path / name),
                                  constraints=request)
        (melody,) = generate(model_client.connect(server.grpc_address, name), config, name)
        primers[name] = list(melody.tokens[:melody.primer_length])
    assert primers[NAME] == ["/"]
    assert primers["lstm_erk"][0] == "/" and len(primers["lstm_erk"]) > 1  # the twinkle primer's notes


def test_the_export_ships_its_training_tunes_frames(model):
    table, expected = model.tune_frames, bp.FrameTable.of(TINY_TUNE_FRAMES)
    for field in ("bar_steps", "pickup", "meter", "bars"):
        np.testing.assert_array_equal(getattr(table, field), getattr(expected, field))
    np.testing.assert_array_equal(table.bars, [3, 5, 2, 4])


def _frames_written(server, tmp_path, name=NAME, **fields) -> list[tuple[float, float]]:
    """(pickup, bars after it) of each of 12 tunes generated with ``fields``, read back by music21 from
    the MusicXML (the pickup: the first measure's length when the score marks it as one, in quarters)."""
    import music21  # noqa: PLC0415

    request = TuneRequest(**{key: value for key, value in fields.items() if key in ("bars", "meter")})
    config = GenerationConfig(primer=fields.get("primer"), num=12, seed=0, formats=("musicxml",), out_dir=str(tmp_path),
                              constraints=request, sampling=fields.get("sampling", "client"))
    frames = []
    for melody in generate(model_client.connect(server.grpc_address, name), config, name):
        part = music21.converter.parse(melody.paths["musicxml"]).parts[0]
        measures = list(part.getElementsByClass("Measure"))
        bar = measures[-1].barDuration.quarterLength
        pickup = measures[0].duration.quarterLength if measures[0].number == 0 else 0.0
        frames.append((pickup, (part.highestTime - pickup) / bar))
    return frames


def test_without_a_length_each_seed_takes_a_training_tunes_pickup_and_length(server, tmp_path):
    frames = _frames_written(server, tmp_path / "a")
    assert set(frames) == {(0.0, 3.0), (1.0, 5.0)}  # the two 4/4 training tunes: none and a quarter's pickup
    assert _frames_written(server, tmp_path / "b") == frames  # a seed draws the same frame every time
    config = GenerationConfig(primer=None, num=1, seed=5, formats=("abc",), out_dir=str(tmp_path / "c"),
                              constraints=TuneRequest())
    (alone,) = generate(model_client.connect(server.grpc_address, NAME), config, NAME)
    assert alone.melody.pickup == frames[5][0] and alone.melody.quarters == 4 * frames[5][1] + frames[5][0]
    assert set(_frames_written(server, tmp_path / "d", meter=parse_meter("3/4"))) == {(0.5, 2.0), (0.5, 4.0)}


def test_a_requested_length_or_a_primer_with_notes_keeps_what_it_states(server, tmp_path):
    assert set(_frames_written(server, tmp_path / "a", bars=2)) == {(0.0, 2.0), (1.0, 2.0)}
    with_notes = _frames_written(server, tmp_path / "b", primer=PrimerSource(symbols="/ 67 _ _ _"))
    assert set(with_notes) == {(0.0, 3.0), (0.0, 5.0)}  # the primer starts on the downbeat: no pickup drawn


def test_server_side_sampling_draws_the_length_alone(server, tmp_path):
    """`generate` counts bars from the tune's first step, so its tunes take no drawn pickup."""
    assert set(_frames_written(server, tmp_path, sampling="server")) == {(0.0, 3.0), (0.0, 5.0)}


def test_without_frames_to_draw_from_a_tune_ends_where_it_may(server, tmp_path):
    """A meter no training tune has, or an export without `tune_frames`: no pickup, at least 8 bars."""
    for frames in (_frames_written(server, tmp_path / "a", meter=parse_meter("6/8")),
                   _frames_written(server, tmp_path / "b", name=UNFRAMED)):
        assert all(pickup == 0 and bars >= 8 and bars == int(bars) for pickup, bars in frames), frames


def test_vary_keeps_the_frame_a_tune_was_drawn_in(server, tmp_path):
    """A drawn tune of 3 or 5 bars (fewer than the 8 a tune without a length needs) varies in its own frame."""
    from serving.generation.vary import vary  # noqa: PLC0415

    config = GenerationConfig(primer=None, num=4, seed=0, formats=("abc",), out_dir=str(tmp_path / "a"),
                              constraints=TuneRequest())
    client = model_client.connect(server.grpc_address, NAME)
    written = generate(client, config, NAME)
    tune = next(melody for melody in written if melody.frame.pickup)  # a quarter's pickup, then 5 bars
    assert tune.frame.bars == 5 and tune.melody.pickup == 1
    varied = vary(client, tune, [2], dataclasses.replace(config, out_dir=str(tmp_path / "b")), NAME)
    assert varied.melody.frame == tune.frame and varied.melody.melody.quarters == tune.melody.quarters == 21
    changed = [index for index, (old, new) in enumerate(zip(tune.tokens, varied.melody.tokens)) if old != new]
    assert changed and all(1 + 4 + 16 <= index < 1 + 4 + 32 for index in changed)  # bar 2: the second full bar

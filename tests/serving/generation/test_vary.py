"""serving/generation/vary.py against the committed lstm_erk and abc_irish served by a real
`python -m serving.server` (conftest.py's): only the chosen bars change (token for token outside them, and bar by
bar as music21 / timestep decoding read the tunes), every constraint still holds (read by
bench/tune_metrics.py, not by the state machines), the chosen candidate is the most likely, and the
same call gives the same tune."""
from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from music21 import converter, stream

from bench import tune_metrics as tm
from bench.vary import score_bars
from preprocessing.melody.keys import parse_key, parse_meter
from serving import client as model_client
from serving.contract.sampling import SamplingSettings
from serving.generation.token_model import TokenModel
from serving.generation.tokens import GeneratedMelody, GenerationConfig, generate
from serving.generation.tune_request import TuneRequest
from serving.generation.vary import bar_spans, vary
from trainer.token_models import abc_quality

pytestmark = pytest.mark.server

SAVED_MODELS = Path(__file__).resolve().parents[3] / "saved_models"
MODELS = ("lstm_erk", "abc_irish")
BARS = 16
SETTINGS = SamplingSettings(temperature=1.0, top_p=0.95)


@pytest.fixture(scope="module")
def clients(committed_server):
    made = {name: model_client.connect(committed_server.grpc_address, name) for name in MODELS}
    yield made
    for client in made.values():
        client.close()


def config_for(out: Path, request: TuneRequest = TuneRequest(bars=BARS), seed: int = 3) -> GenerationConfig:
    return GenerationConfig(num=1, seed=seed, settings=SETTINGS, constraints=request, formats=("abc", "mid"),
                            out_dir=str(out))


@pytest.fixture(scope="module")
def tunes(clients, tmp_path_factory) -> dict[str, tuple[GeneratedMelody, GenerationConfig]]:
    out = tmp_path_factory.mktemp("vary_tunes")
    made = {}
    for name in MODELS:
        config = config_for(out / name)
        made[name] = (generate(clients[name], config, name)[0], config)
    return made


def outside(melody: GeneratedMelody, bars: list[int]) -> list[tuple[str, ...]]:
    """The token runs outside the given bars (between, before and after them)."""
    spans = bar_spans(melody)
    runs, cursor = [], 0
    for index in sorted(bars):
        start, end = spans[index]
        runs.append(melody.tokens[cursor:start])
        cursor = end
    return [*runs, melody.tokens[cursor:]]


def failed_constraints(melody: GeneratedMelody, bars: int = BARS, key: str = "C", meter: str = "4/4") -> list[str]:
    """What bench/tune_metrics.py finds broken in the tune (empty: every constraint holds)."""
    if melody.melody.abc_text is not None:
        text = "".join(melody.tokens)
        facts = tm.abc_facts(text, True, abc_quality.score_tune(text))
    else:
        facts = tm.timestep_facts(list(melody.tokens), melody.primer_length, parse_key(key), parse_meter(meter))
    return tm.failed_checks(facts, bars)


def teacher_forced_log_p(client, tokens: tuple[str, ...]) -> float:
    """log p (nats) of every token after the first, fed one by one through `step` from the zero state."""
    model = TokenModel(client)
    ids = [model.symbols.index(token) for token in tokens]
    state = np.zeros((1, model.state_size), np.float32)
    total = 0.0
    for position in range(len(ids) - 1):
        logits, state = model.step(np.array([ids[position]], np.int32), state)
        row = logits[0].astype(np.float64)
        total += row[ids[position + 1]] - row.max() - np.log(np.exp(row - row.max()).sum())
    return total


def check_varied(original: GeneratedMelody, varied, bars: list[int]) -> None:
    assert varied.bars == tuple(bars)
    assert outside(varied.melody, bars) == outside(original, bars)
    before, after = score_bars(original), score_bars(varied.melody)
    assert len(before) == len(after) == len(bar_spans(original))
    assert [index for index in range(len(before)) if before[index] != after[index]] == \
        [index for index in bars if before[index] != after[index]]
    assert failed_constraints(varied.melody) == []
    assert varied.log_p == max(varied.candidate_log_ps)


@pytest.mark.parametrize("name", MODELS)
def test_vary_bar_3_changes_bar_3_only_and_keeps_the_constraints(clients, tunes, tmp_path, name):
    original, config = tunes[name]
    assert failed_constraints(original) == []
    config = dataclasses.replace(config, out_dir=str(tmp_path))
    changed = 0
    for seed in (3, 4, 5):  # the tune stays; the seed only moves the candidates' draws
        varied = vary(clients[name], original, [3], dataclasses.replace(config, seed=seed), name)
        check_varied(original, varied, [3])
        assert len(varied.candidate_log_ps) == 8 and len(set(varied.candidate_log_ps)) > 1
        assert all(Path(path).is_file() and Path(path).parent == tmp_path for path in varied.melody.paths.values())
        changed += varied.melody.tokens != original.tokens
    assert changed >= 2


@pytest.mark.parametrize("name", MODELS)
def test_several_bars_adjacent_and_apart_change_alone(clients, tunes, tmp_path, name):
    original, config = tunes[name]
    bars = [0, 5, 6, 11, len(bar_spans(original)) - 1]
    varied = vary(clients[name], original, bars, dataclasses.replace(config, out_dir=str(tmp_path)), name,
                  candidates=4)
    check_varied(original, varied, bars)
    assert len(varied.candidate_log_ps) == 4


@pytest.mark.parametrize("name", MODELS)
def test_the_log_p_is_the_whole_tune_teacher_forced_and_the_call_is_deterministic(clients, tunes, tmp_path, name):
    original, config = tunes[name]
    first = vary(clients[name], original, [3], dataclasses.replace(config, out_dir=str(tmp_path / "a")), name)
    again = vary(clients[name], original, [3], dataclasses.replace(config, out_dir=str(tmp_path / "b")), name)
    assert again.melody.tokens == first.melody.tokens and again.candidate_log_ps == first.candidate_log_ps
    assert again.melody.seed == first.melody.seed
    assert teacher_forced_log_p(clients[name], first.melody.tokens) == pytest.approx(first.log_p, abs=1e-3)
    assert teacher_forced_log_p(clients[name], original.tokens) < 0


@pytest.mark.parametrize("name", MODELS)
def test_a_varied_tune_varies_again(clients, tunes, tmp_path, name):
    original, config = tunes[name]
    config = dataclasses.replace(config, out_dir=str(tmp_path))
    once = vary(clients[name], original, [3], config, name, candidates=3)
    twice = vary(clients[name], once.melody, [0], config, name, candidates=3)
    check_varied(once.melody, twice, [0])
    assert outside(twice.melody, [0, 3]) == outside(original, [0, 3])


@pytest.mark.parametrize("name, count", [("lstm_erk", BARS), ("abc_irish", BARS + 1)])
def test_a_bad_bar_index_names_it_and_the_bar_count(clients, tunes, name, count):
    original, config = tunes[name]
    assert len(bar_spans(original)) == count  # the ABC tune opens with a pickup: bar 0
    for bad in (-1, count, 40):
        with pytest.raises(ValueError, match=rf"bar {bad} .* {count} bars"):
            vary(clients[name], original, [2, bad], config, name)
    with pytest.raises(ValueError, match=rf"bar '3' is not a bar of this tune: it has {count} bars"):
        vary(clients[name], original, ["3"], config, name)
    with pytest.raises(ValueError, match="at least one bar"):
        vary(clients[name], original, [], config, name)
    with pytest.raises(ValueError, match="constraints"):
        vary(clients[name], original, [2], dataclasses.replace(config, constraints=None), name)


def test_abc_bars_are_the_engraved_measures_a_pickup_first(tunes):
    original, _ = tunes["abc_irish"]
    measures = list(converter.parse("".join(original.tokens), format="abc").parts[0]
                    .getElementsByClass(stream.Measure))
    spans = bar_spans(original)
    assert len(measures) == len(spans)
    pickup = Fraction(measures[0].duration.quarterLength)
    assert pickup < original.melody.meter.bar_quarters
    text = "".join(original.tokens)
    assert all(text[end - 1] in "|:]12" and text[start] not in " \n|" for start, end in spans)


def test_an_abc_form_with_repeats_varies_at_the_strain_edges(clients, tmp_path):
    request = TuneRequest(bars=BARS, form="AABB", key=parse_key("D"), meter=parse_meter("6/8"))
    config = config_for(tmp_path / "tune", request, seed=11)
    original = generate(clients["abc_irish"], config, "abc_irish")[0]
    last = len(bar_spans(original)) - 1
    bars = [0, last // 2 - 1, last // 2, last]
    varied = vary(clients["abc_irish"], original, bars, dataclasses.replace(config, out_dir=str(tmp_path)),
                  "abc_irish", candidates=4)
    assert outside(varied.melody, bars) == outside(original, bars)
    before, after = score_bars(original), score_bars(varied.melody)
    assert len(before) == len(after)
    assert all(before[index] == after[index] for index in range(len(before)) if index not in bars)
    # bench/tune_metrics counts a second strain's bars without the pickup the machine shortens its last bar by:
    # judged beside the original, and its written length kept
    assert set(failed_constraints(varied.melody)) <= set(failed_constraints(original)) <= {"exact_bars"}
    assert tm.written_bars("".join(varied.melody.tokens)) == pytest.approx(tm.written_bars("".join(original.tokens)))
    assert "|:" in "".join(varied.melody.tokens) and varied.melody.tokens != original.tokens


def test_a_timestep_tune_in_3_4_varies_its_final_bar_and_a_primer_bar(clients, tmp_path):
    request = TuneRequest(bars=8, key=parse_key("G"), meter=parse_meter("3/4"))
    config = config_for(tmp_path / "tune", request)
    original = generate(clients["lstm_erk"], config, "lstm_erk")[0]
    bars = [1, 7]  # bar 1 lies in the twinkle primer; bar 7 ends the tune on the tonic
    varied = vary(clients["lstm_erk"], original, bars, dataclasses.replace(config, out_dir=str(tmp_path)), "lstm_erk")
    assert outside(varied.melody, bars) == outside(original, bars)
    assert failed_constraints(varied.melody, 8, "G", "3/4") == []
    assert varied.melody.primer_length == bar_spans(original)[1][0]


def test_a_meter_aware_model_is_varied_with_its_conditioning(tmp_path):
    """lstm_meter_erk's step takes each step's place in the tune: vary feeds it, and keeps the rest."""
    from serving.model_access import open_model_client

    client = open_model_client("lstm_meter_erk", models_dir=str(SAVED_MODELS))
    try:
        config = config_for(tmp_path, TuneRequest(bars=8, meter=parse_meter("3/4")))
        melody = generate(client, config, "lstm_meter_erk")[0]
        varied = vary(client, melody, [5], config, "lstm_meter_erk", candidates=3)
    finally:
        client.close()
    assert outside(varied.melody, [5]) == outside(melody, [5])
    assert varied.melody.tokens[slice(*bar_spans(varied.melody)[5])] != melody.tokens[slice(*bar_spans(melody)[5])]
    assert varied.log_p == max(varied.candidate_log_ps)

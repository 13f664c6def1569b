"""Continuous batching (``slot_sampling.sample_in_slots``) on the committed ``abc_irish`` and ``lstm_erk``
behind a real model server (conftest.py's): a tune's tokens depend on its seed only, not on its row,
the slots or its neighbours."""
from __future__ import annotations

import pytest

from preprocessing.melody.keys import C_MAJOR, COMMON_TIME, parse_key, parse_meter
from serving import client as model_client
from serving.contract.sampling import SamplingSettings
from serving.generation import primers
from serving.generation.abc_start import abc_start
from serving.generation.constrained_rows import TimestepRows, abc_rows
from serving.generation.slot_sampling import sample_in_slots
from serving.generation.timestep_constraints import TimestepConstraints
from serving.generation.token_model import TokenModel
from serving.generation.tokens import sample_melodies
from serving.generation.tune_request import TuneRequest

pytestmark = pytest.mark.server

SETTINGS = SamplingSettings(temperature=1.0, top_p=0.95)
SEEDS = [11, 12, 13, 14, 15]


@pytest.fixture(scope="module")
def model(committed_server) -> TokenModel:
    client = model_client.connect(committed_server.grpc_address, "abc_irish")
    yield TokenModel(client)
    client.close()


def test_constrained_tunes_do_not_depend_on_their_slot_or_neighbours(model: TokenModel) -> None:
    start = abc_start(TuneRequest(meter=parse_meter("6/8"), key=parse_key("D"), bars=2), "X:1\n")
    primer, steps = primers.encode(list(start.text), model.symbols), 120

    def in_slots(seeds: list[int], slots: int) -> dict[int, tuple[list[int], bool]]:
        tokens, ended = sample_in_slots(model, primer, steps, SETTINGS, seeds, slots,
                                        abc_rows(start, model.symbols, slots))
        return {seed: (row, done) for seed, row, done in zip(seeds, tokens, ended)}

    two = in_slots(SEEDS, 2)
    assert in_slots(SEEDS[::-1], 3) == two
    for seed in SEEDS:  # each tune alone, in the plain loop over step
        rules = abc_rows(start, model.symbols, 1)
        alone = sample_melodies(model, [primer], steps, SETTINGS, [seed], rules=rules)[0]
        assert two[seed] == (alone, rules.ended(0)), seed
    assert all(done for _, done in two.values())
    assert len({tuple(row) for row, _ in two.values()}) == len(SEEDS)
    assert len({len(row) for row, _ in two.values()}) > 1  # the tunes end at different lengths


def test_unconstrained_tunes_spend_their_steps_as_in_one_batch(model: TokenModel) -> None:
    primer = primers.encode(list("X:1\n"), model.symbols)
    tokens, ended = sample_in_slots(model, primer, 16, SETTINGS, SEEDS, 2)
    assert tokens == sample_melodies(model, [primer] * len(SEEDS), 16, SETTINGS, SEEDS)
    assert not any(ended) and all(len(row) == 16 for row in tokens)


def test_timestep_tunes_under_bar_rules_restart_in_their_slots(committed_server) -> None:
    client = model_client.connect(committed_server.grpc_address, "lstm_erk")
    model = TokenModel(client)
    primer = primers.encode(primers.timestep_primer(primers.PrimerSource(name="twinkle")).symbols, model.symbols)
    constraints = TimestepConstraints(TuneRequest(COMMON_TIME, C_MAJOR, bars=8), model.symbols)
    steps = constraints.tokens_needed(primer, 8)
    tokens, ended = sample_in_slots(model, primer, steps, SETTINGS, SEEDS, 2,
                                    TimestepRows(constraints, [primer] * 2, steps))
    rules = TimestepRows(constraints, [primer] * len(SEEDS), steps)
    assert tokens == sample_melodies(model, [primer] * len(SEEDS), steps, SETTINGS, SEEDS, rules=rules)
    assert ended == [rules.ended(row) for row in range(len(SEEDS))] and all(ended)
    client.close()


@pytest.mark.parametrize("arguments, message", [
    (dict(primer=[], steps=4, slots=1), "at least one token"),
    (dict(primer=[1], steps=0, slots=1), "must be >= 1"),
    (dict(primer=[1], steps=4, slots=0), "must be >= 1"),
])
def test_bad_arguments_are_named(model: TokenModel, arguments: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sample_in_slots(model, settings=SETTINGS, seeds=[1], **arguments)

"""Properties of the client's NumPy sampler (serving/contract/sampling.py)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from serving.contract import sampling
from tests.helpers import reference_sampling as reference

VOCAB = st.integers(min_value=1, max_value=40)
INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
DRAW = st.integers(min_value=0, max_value=2**24 - 1).map(lambda n: n / 2**24)
TEMPERATURE = st.floats(min_value=0.05, max_value=5.0)
TOP_P = st.floats(min_value=1e-3, max_value=1.0)


@st.composite
def logits_rows(draw, with_special: bool = True) -> np.ndarray:
    """Float32 log-probability rows, optionally sprinkled with NaN / -inf / ties."""
    size = draw(VOCAB)
    values = st.floats(min_value=-60.0, max_value=5.0, width=32)
    if with_special:
        values = st.one_of(values, st.just(float("nan")), st.just(float("-inf")), st.just(-1.0))
    return draw(hnp.arrays(np.float32, size, elements=values))


def _masked_argmax(logits: np.ndarray) -> int:
    """Lowest index of the largest non-NaN logit (0 if none is finite: uniform, lowest first)."""
    candidates = np.where(np.isnan(logits), -np.inf, logits)
    if not np.isfinite(candidates).any():
        return 0
    return int(np.argmax(candidates))


@given(INT32, st.integers(min_value=0, max_value=2**31 - 1))
def test_uniform_is_in_unit_interval_deterministic_and_exact_in_float32(seed: int, index: int) -> None:
    u = sampling.uniform(seed, index)
    assert 0.0 <= u < 1.0
    assert u == sampling.uniform(seed, index)
    assert float(np.float32(u)) == u


def test_uniform_draws_spread_evenly_over_the_unit_interval() -> None:
    draws = np.array([sampling.uniform(seed, index) for seed in range(20) for index in range(500)])
    counts, _ = np.histogram(draws, bins=10, range=(0.0, 1.0))
    assert counts.min() > 0.85 * len(draws) / 10
    assert counts.max() < 1.15 * len(draws) / 10
    assert len(np.unique(draws)) > 0.99 * len(draws)


@pytest.mark.parametrize(("seed", "index"), [(2**31, 0), (-(2**31) - 1, 0), (0, -1), (0, 2**31)])
def test_uniform_rejects_out_of_range_counters(seed: int, index: int) -> None:
    with pytest.raises(ValueError, match=str(seed if not 0 <= seed < 2**31 else index)):
        sampling.uniform(seed, index)


@settings(max_examples=300, deadline=None)
@given(logits_rows(), TEMPERATURE, st.integers(0, 50), TOP_P, DRAW, st.data())
def test_choose_returns_an_allowed_symbol_with_nonzero_probability(
    logits: np.ndarray, temperature: float, top_k: int, top_p: float, u: float, data
) -> None:
    allowed = data.draw(hnp.arrays(bool, logits.size).filter(lambda mask: mask.any()))
    token = sampling.choose(logits, temperature, top_k, top_p, u, allowed)
    assert 0 <= token < logits.size
    assert allowed[token]
    usable = allowed & ~np.isnan(logits) & (logits > -np.inf)
    if usable.any():
        assert usable[token]
        shifted = (logits[token] - logits[usable].max()) / np.float32(temperature)
        assert np.float32(np.exp(np.float64(shifted))) > 0


@settings(max_examples=200, deadline=None)
@given(logits_rows(), TEMPERATURE, DRAW)
def test_greedy_is_the_argmax_and_top_k_1_is_greedy(logits: np.ndarray, temperature: float, u: float) -> None:
    assert reference.greedy(logits) == _masked_argmax(logits)
    assert reference.sample_top_k(logits, 1, u, temperature) == reference.greedy(logits)


@settings(max_examples=200, deadline=None)
@given(logits_rows(with_special=False), st.integers(1, 10), TEMPERATURE, DRAW)
def test_top_k_picks_among_the_k_most_probable(logits: np.ndarray, k: int, temperature: float, u: float) -> None:
    token = reference.sample_top_k(logits, k, u, temperature)
    assert np.count_nonzero(logits > logits[token]) < k


@settings(max_examples=200, deadline=None)
@given(logits_rows(with_special=False), TOP_P, DRAW)
def test_top_p_picks_from_the_smallest_head_holding_the_mass(logits: np.ndarray, top_p: float, u: float) -> None:
    token = reference.sample_top_p(logits, top_p, u)
    p = np.exp(logits.astype(np.float64) - logits.max())
    p /= p.sum()
    mass_strictly_above = p[p > p[token]].sum()
    assert mass_strictly_above < top_p + 1e-5


def test_greedy_breaks_ties_towards_the_lower_index() -> None:
    logits = np.array([-3.0, -0.5, -2.0, -0.5], dtype=np.float32)
    assert reference.greedy(logits) == 1
    assert reference.greedy(logits, np.array([True, False, True, True])) == 3


def test_draw_quantiles_reproduce_the_tempered_distribution() -> None:
    logits = np.log(np.array([0.5, 0.25, 0.125, 0.125], dtype=np.float32))
    draws = (np.arange(4000) + 0.5) / 4000
    for temperature in (1.0, 0.5, 2.0):
        counts = np.bincount([reference.sample_temperature(logits, temperature, u) for u in draws], minlength=4)
        expected = np.exp(logits / temperature) / np.exp(logits / temperature).sum()
        np.testing.assert_allclose(counts / len(draws), expected, atol=1e-3)


def test_top_k_and_top_p_renormalise_over_the_kept_symbols() -> None:
    logits = np.log(np.array([0.1, 0.4, 0.3, 0.2], dtype=np.float32))
    draws = (np.arange(1000) + 0.5) / 1000
    top2 = np.bincount([reference.sample_top_k(logits, 2, u) for u in draws], minlength=4) / 1000
    np.testing.assert_allclose(top2, [0.0, 4 / 7, 3 / 7, 0.0], atol=2e-3)
    head = np.bincount([reference.sample_top_p(logits, 0.75, u) for u in draws], minlength=4) / 1000
    np.testing.assert_allclose(head, [0.0, 4 / 9, 3 / 9, 2 / 9], atol=2e-3)


def test_nan_and_impossible_symbols_are_never_chosen_and_all_impossible_is_uniform() -> None:
    logits = np.array([np.nan, -np.inf, -2.0, np.nan, -1.0], dtype=np.float32)
    draws = (np.arange(500) + 0.5) / 500
    picked = {reference.sample_temperature(logits, 1.0, u) for u in draws}
    assert picked == {2, 4}
    hopeless = np.array([np.nan, -np.inf, np.nan, -np.inf], dtype=np.float32)
    allowed = np.array([True, False, True, True])
    counts = np.bincount([sampling.choose(hopeless, 1.0, 0, 1.0, u, allowed) for u in draws], minlength=4)
    np.testing.assert_allclose(counts / len(draws), [1 / 3, 0, 1 / 3, 1 / 3], atol=3e-3)


def test_allowed_mask_restricts_the_choice() -> None:
    logits = np.log(np.array([0.7, 0.1, 0.1, 0.1], dtype=np.float32))
    allowed = np.array([False, True, False, True])
    assert {reference.sample_temperature(logits, 1.0, u, allowed) for u in np.linspace(0, 0.999, 50)} == {1, 3}
    assert reference.greedy(logits, allowed) == 1
    with pytest.raises(ValueError, match="every symbol"):
        reference.greedy(logits, np.zeros(4, dtype=bool))
    with pytest.raises(ValueError, match=r"\(3,\)"):
        reference.greedy(logits, np.ones(3, dtype=bool))


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p", "named"),
    [(0.0, 0, 1.0, "0.0"), (-1.0, 0, 1.0, "-1.0"), (float("nan"), 0, 1.0, "nan"), (1.0, -1, 1.0, "-1"),
     (1.0, 0, 0.0, "0.0"), (1.0, 0, 1.5, "1.5"), (1.0, 0, -0.2, "-0.2")],
)
def test_bad_settings_raise_value_errors_naming_the_value(
    temperature: float, top_k: int, top_p: float, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        sampling.SamplingSettings(temperature, top_k, top_p)
    with pytest.raises(ValueError, match=named):
        sampling.choose(np.zeros(3, np.float32), temperature, top_k, top_p, 0.5)


def test_choose_rejects_bad_draws_and_shapes() -> None:
    with pytest.raises(ValueError, match="1.0"):
        sampling.choose(np.zeros(3, np.float32), 1.0, 0, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        sampling.choose(np.zeros((2, 3), np.float32), 1.0, 0, 1.0, 0.5)


class _MarkovChain:
    """A toy token model: state `[1]` holds the last token; logits favour `(token + 1) % V`."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.fed: list[int] = []

    def step(self, token: int, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.fed.append(token)
        logits = np.full(self.size, -3.0, dtype=np.float32)
        logits[(token + 1) % self.size] = 0.0
        return logits, np.array([token], dtype=np.float32)


def test_sample_loop_feeds_primer_then_samples_and_is_deterministic_per_seed() -> None:
    chain = _MarkovChain(6)
    greedy_tokens = reference.sample_loop(chain.step, np.zeros(1), [4, 2], 5, sampling.GREEDY, seed=0)
    assert greedy_tokens == [3, 4, 5, 0, 1]
    assert chain.fed == [4, 2, 3, 4, 5, 0]
    settings_ = sampling.SamplingSettings(temperature=2.0)
    runs = {tuple(reference.sample_loop(_MarkovChain(6).step, np.zeros(1), [1], 30, settings_, seed)) for seed in (7, 7)}
    assert len(runs) == 1
    other = reference.sample_loop(_MarkovChain(6).step, np.zeros(1), [1], 30, settings_, 8)
    assert tuple(other) not in runs


def test_sample_loop_applies_the_per_step_mask() -> None:
    def only_even(index: int, sampled: list[int]) -> np.ndarray:
        assert len(sampled) == index
        return np.arange(6) % 2 == 0

    tokens = reference.sample_loop(
        _MarkovChain(6).step, np.zeros(1), [0], 40, sampling.SamplingSettings(3.0), 1, only_even
    )
    assert tokens and all(token % 2 == 0 for token in tokens)
    with pytest.raises(ValueError, match=r"\[\]"):
        reference.sample_loop(_MarkovChain(6).step, np.zeros(1), [], 3, sampling.GREEDY, 0)
    with pytest.raises(ValueError, match="-2"):
        reference.sample_loop(_MarkovChain(6).step, np.zeros(1), [0], -2, sampling.GREEDY, 0)

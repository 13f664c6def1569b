"""The Witten-Bell n-gram baseline on toy sequences."""
import itertools

import numpy as np
import pytest

from trainer.token_models.ngram import NGramModel

SONGS = [[1, 2, 3, 1, 2, 3, 1, 2, 4], [1, 2, 3, 3], [4, 4, 1]]


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_every_distribution_sums_to_one(order):
    model = NGramModel(vocab_size=6, order=order).fit(SONGS, delimiter_id=0)
    for length in range(4):
        for context in itertools.product(range(6), repeat=length):
            probs = model.distribution(list(context))
            assert probs.shape == (6,)
            assert np.all(probs > 0)
            assert probs.sum() == pytest.approx(1.0)


def test_seen_continuations_win_and_unseen_contexts_back_off():
    model = NGramModel(vocab_size=6, order=3).fit(SONGS, delimiter_id=0)
    assert model.distribution([1, 2]).argmax() == 3
    assert model.distribution([0]).argmax() == 1  # songs start with 1 after the delimiter
    # (5, 5) was never seen: the distribution is the one of the shorter context (5,), itself unseen.
    np.testing.assert_allclose(model.distribution([5, 5]), model.distribution([]))
    assert model.distribution([])[5] < model.distribution([])[1]


def test_song_distributions_predict_each_symbol_from_its_prefix():
    model = NGramModel(vocab_size=6, order=2).fit(SONGS, delimiter_id=0)
    rows = model.song_distributions([1, 2, 3], delimiter_id=0)
    np.testing.assert_allclose(rows, np.stack([model.distribution(c) for c in ([0], [0, 1], [0, 1, 2])]))


def test_out_of_vocabulary_tokens_are_named():
    with pytest.raises(ValueError, match="token 9"):
        NGramModel(vocab_size=6).fit([[1, 9]], delimiter_id=0)

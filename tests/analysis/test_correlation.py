"""Rank correlation across languages: rho, its bootstrap interval and its permutation p, against scipy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from crossalign.analysis.correlation import permutation_p, spearman, spearman_interval
from crossalign.retrieval import alignment_scores


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = rng.integers(0, 4, size=8).astype(float)  # ties
        y = x + rng.normal(size=8)
        want = stats.spearmanr(x, y).statistic
        assert spearman(x, y) == pytest.approx(want, rel=1e-12, abs=1e-12) or np.isnan(want)
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_permutation_p_is_exact_for_eight_units():
    x = np.array([0.1, 0.4, 0.3, 0.8, 0.5, 0.9, 0.2, 0.7])
    y = np.array([0.50, 0.55, 0.52, 0.61, 0.53, 0.60, 0.51, 0.58])
    obs = abs(stats.spearmanr(x, y).statistic)
    count = sum(abs(stats.spearmanr(x, y[list(p)]).statistic) >= obs - 1e-12
                for p in itertools.permutations(range(8)))
    assert permutation_p(x, y) == pytest.approx(count / 40320)
    # a perfect ordering of 8 is rarer than 1 in 40320 / 2
    assert permutation_p(np.arange(8), np.arange(8)) == pytest.approx(2 / 40320)


def test_bootstrap_interval_covers_and_narrows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=8)
    lo, hi = spearman_interval(x, x + 0.1 * rng.normal(size=8))
    assert lo <= spearman(x, x) <= hi + 1e-9 and lo > 0.5
    lo2, hi2 = spearman_interval(x, rng.normal(size=8))
    assert lo2 < 0 < hi2  # unrelated: the interval spans 0
    assert spearman_interval(x, x, seed=1) == spearman_interval(x, x, seed=1)  # seeded


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="at least 3"):
        spearman([1, 2], [1, 2])
    with pytest.raises(ValueError, match="one length"):
        spearman([1, 2, 3], [1, 2])


def test_alignment_scores_top1_and_mutual_nearest_neighbours():
    import torch
    src = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    tgt = torch.tensor([[1.0, 0.08], [0.0, 1.0], [-1.0, 0.0]])
    # by hand: src->tgt best 0, 1, 0 (2 of 3 right); tgt->src best 2 (cos 0.9998 > 0.9968), 1, 1
    # (1 of 3 right); mutual nearest neighbours: only pair 1
    s = alignment_scores(src, tgt)
    assert s["top1"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert s["mutual_nn"] == pytest.approx(1 / 3)
    assert alignment_scores(src, src) == {"top1": 1.0, "mutual_nn": 1.0}

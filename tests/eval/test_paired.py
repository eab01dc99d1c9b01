"""Paired statistics (crossalign.eval.paired): McNemar, paired bootstrap, seed variance and the MDE,
against hand-computed values and, where installed, scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crossalign.eval.paired import (
    compare_paired,
    discordant,
    mcnemar_exact,
    mde_paired,
    mde_unpaired,
    paired_bootstrap,
    seed_combined,
)

Z = 1.959963984540054 + 0.8416212335729143  # z_{0.975} + z_{0.80}


def test_mcnemar_exact_hand_computed():
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)  # 2 * P[X <= 0], X ~ Bin(5, 1/2)
    assert mcnemar_exact(9, 1) == pytest.approx(2 * 11 / 1024)  # (1 + 10) / 2^10, both tails
    assert mcnemar_exact(3, 3) == 1.0 and mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(2, 8) == mcnemar_exact(8, 2)
    # concordant items do not enter: only b and c
    a = np.array([1, 1, 1, 0, 0, 1, 1, 0], bool)
    b = np.array([1, 0, 0, 1, 0, 1, 0, 0], bool)
    assert discordant(a, b) == (3, 1)


def test_mcnemar_matches_scipy_binomtest():
    stats = pytest.importorskip("scipy.stats")
    for b, c in [(1, 4), (7, 19), (30, 31), (0, 12), (120, 80), (400, 455)]:
        assert mcnemar_exact(b, c) == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-9)


def test_bootstrap_is_seeded_and_hand_checkable():
    d = np.array([1.0] * 10 + [0.0] * 80 + [-1.0] * 10)
    one, again, other = (paired_bootstrap(d, seed=s, resamples=2000) for s in (3, 3, 4))
    assert one == again and one["se"] != other["se"] and one["seed"] == 3
    lo, hi = one["ci"]
    assert one["diff"] == 0.0 and lo < 0 < hi
    # the bootstrap SE of a mean is sqrt(var / n) (population variance 0.2 here)
    assert one["se"] == pytest.approx(math.sqrt(0.2 / 100), rel=0.06)
    assert paired_bootstrap(np.full(50, 0.25), resamples=100)["ci"] == (0.25, 0.25)


def test_bootstrap_agrees_with_scipy_percentile():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    d = rng.choice([-1.0, 0.0, 1.0], p=[0.03, 0.91, 0.06], size=800)
    ours = paired_bootstrap(d, resamples=10_000, seed=0)["ci"]
    ref = stats.bootstrap((d,), np.mean, n_resamples=10_000, method="percentile", random_state=1,
                          confidence_level=0.95).confidence_interval
    assert ours == pytest.approx((ref.low, ref.high), abs=0.003)


def test_strata_weigh_languages_equally():
    d = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])  # 2 items of "tr", 8 of "zh"
    strata = ["tr", "tr"] + ["zh"] * 8
    out = paired_bootstrap(d, strata=strata, resamples=500)
    assert out["diff"] == pytest.approx(0.5)  # (1 + 0) / 2, not 0.2
    assert out["ci"] == (pytest.approx(0.5), pytest.approx(0.5))  # each stratum is constant


def test_mde_formulas_hand_computed_and_power():
    # the figure: 1,500 paired items, 6.5% of them change prediction
    assert mde_paired(0.065, 1500) == pytest.approx(Z * math.sqrt(0.065 / 1500)) == pytest.approx(0.018442, abs=1e-5)
    assert mde_unpaired(0.5, 100) == pytest.approx(Z * math.sqrt(0.5 / 100)) == pytest.approx(0.198102, abs=1e-5)
    assert mde_paired(0.065, 1500) < mde_unpaired(0.55, 1500) / 2  # pairing buys more than a factor 2 here
    # no changed prediction observed: the MDE is the least an exact McNemar test can ever detect,
    # 6 items of 100 all in one direction (2 / 2^6 <= 0.05 < 2 / 2^5), not 0
    assert mcnemar_exact(0, 6) <= 0.05 < mcnemar_exact(0, 5)
    assert mde_paired(0.0, 100) == pytest.approx(0.06)
    same = np.array([1, 0] * 50, bool)
    assert compare_paired(same, same, resamples=100)["mde"] == pytest.approx(0.06)
    stats = pytest.importorskip("scipy.stats")
    se = math.sqrt(0.065 / 1500)
    mde, za = mde_paired(0.065, 1500), stats.norm.ppf(0.975)
    power = stats.norm.cdf(mde / se - za) + stats.norm.cdf(-mde / se - za)
    assert power == pytest.approx(0.80, abs=1e-3)


def test_compare_paired_one_seed():
    a = np.array([1] * 50 + [0] * 50, bool)
    b = a.copy()
    b[:1] = False      # 1 item A right, B wrong
    b[50:62] = True    # 12 items A wrong, B right
    out = compare_paired(a, b, resamples=2000)
    assert (out["n"], out["seeds"]) == (100, 1)
    assert out["acc_a"] == 0.5 and out["acc_b"] == pytest.approx(0.61) and out["diff"] == pytest.approx(0.11)
    assert out["p_mcnemar"] == pytest.approx(mcnemar_exact(1, 12)) == pytest.approx(2 * 14 / 2**13)
    assert out["discordance"] == pytest.approx(0.13)
    assert out["mde"] == pytest.approx(mde_paired(0.13, 100))
    assert out["mde_unpaired"] == pytest.approx(mde_unpaired(0.555, 100))
    assert out["ci"] == out["ci_items"] and out["seed_std"] is None
    lo, hi = out["ci"]
    assert 0 < lo < 0.11 < hi  # 12 of 13 changed items go B's way: the interval excludes 0
    with pytest.raises(ValueError, match="same items"):
        compare_paired(a, b[:-1])


def test_seed_variance_widens_the_interval():
    assert seed_combined(0.1, (0.05, 0.2), 0.0, 1.96) == (pytest.approx(0.05), pytest.approx(0.2))
    lo, hi = seed_combined(0.1, (0.05, 0.2), 0.03, 1.96)
    assert lo == pytest.approx(0.1 - math.sqrt(0.05**2 + (1.96 * 0.03) ** 2))
    assert hi == pytest.approx(0.1 + math.sqrt(0.1**2 + (1.96 * 0.03) ** 2))
    rng = np.random.default_rng(0)
    a = rng.random((3, 200)) < 0.5
    b = a.copy()
    b[0, :20] = True   # seed 0: B gains; seeds 1, 2: identical
    out = compare_paired(a, b, resamples=2000)
    per_seed = [np.mean(b[s].astype(float) - a[s]) for s in range(3)]
    assert out["seeds"] == 3 and out["diff"] == pytest.approx(np.mean(per_seed))
    assert out["seed_std"] == pytest.approx(np.std(per_seed, ddof=1))
    assert out["ci"][0] < out["ci_items"][0] and out["ci"][1] > out["ci_items"][1]
    assert out["p_mcnemar"] == 1.0  # the largest over seeds: seeds 1 and 2 have no discordant item

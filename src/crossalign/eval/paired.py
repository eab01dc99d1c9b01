"""Paired statistics for comparing two models on the same ICL items, and the effect they can see.

    from crossalign.eval.paired import compare_paired
    stats = compare_paired(correct_a, correct_b)            # (N,) bool arrays, same items, same order
    stats["diff"], stats["ci"], stats["p_mcnemar"], stats["mde"]   # B - A, its 95% interval, ...

Every function takes arrays (one entry per item; ``(S, N)`` for S demonstration seeds) and returns
plain floats, so the study's report and ``crossalign compare`` state the same numbers. Conventions:
the difference is always B - A (aligned minus base); ``b`` counts items A gets right and B wrong,
``c`` the reverse.

- :func:`mcnemar_exact`: exact two-sided McNemar test on the ``b + c`` discordant pairs,
  ``p = min(1, 2 P[X <= min(b, c)])``, ``X ~ Binomial(b + c, 1/2)``.
- :func:`paired_bootstrap`: resample items with replacement (within each language when ``strata``
  is given, the statistic then being the mean of the language means), seeded; the percentile
  interval of the difference and the bootstrap standard error.
- :func:`seed_combined`: k-shot with S demonstration seeds: the difference averaged over seeds,
  its interval widened by the seed variance (``s_seed^2 / S``, added in quadrature to each side).
- :func:`mde_paired`, :func:`mde_unpaired`: the minimal detectable effect at power ``1 - beta``,
  two-sided level ``alpha``: ``(z_{1-alpha/2} + z_{1-beta}) * SE_0``, with ``SE_0`` the standard
  error of the difference under no effect (paired: ``sqrt(pi_d / n)``, ``pi_d`` the observed
  discordance rate, and never below ``6 / n``, the least an exact test can detect at alpha 0.05;
  unpaired: ``sqrt(2 p (1 - p) / n)``).

The formulas, and why these choices, are in docs/study.md (*Statistics*).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

ALPHA, POWER, LEVEL, RESAMPLES = 0.05, 0.80, 0.95, 10_000


def _z(q: float) -> float:
    return NormalDist().inv_cdf(q)


def _as_bool(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name}: expected 0/1 (correct or not) per item")
        arr = arr.astype(bool)
    return arr


def discordant(a, b) -> tuple[int, int]:
    """``(b, c)``: items A gets right and B wrong, items A gets wrong and B right."""
    a, b_ = _as_bool(a, "a"), _as_bool(b, "b")
    if a.shape != b_.shape:
        raise ValueError(f"a and b must cover the same items: shapes {a.shape} and {b_.shape}")
    return int(np.sum(a & ~b_)), int(np.sum(~a & b_))


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value from the discordant counts (1.0 when there are none)."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    # Exact integers: the binomial tail over 2^n, divided once (correctly rounded by Python).
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return min(1.0, 2 * tail / 2**n)


def _strata_index(n: int, strata) -> list[np.ndarray]:
    if strata is None:
        return [np.arange(n)]
    labels = np.asarray(strata)
    if labels.shape != (n,):
        raise ValueError(f"strata: one label per item expected, got shape {labels.shape} for {n} items")
    return [np.flatnonzero(labels == s) for s in dict.fromkeys(labels.tolist())]


def stratified_mean(x: np.ndarray, strata=None) -> float:
    """Mean over strata of the per-stratum means (the plain mean without strata)."""
    x = np.asarray(x, dtype=float)
    return float(np.mean([x[idx].mean() for idx in _strata_index(len(x), strata)]))


def paired_bootstrap(diff, *, strata=None, resamples: int = RESAMPLES, seed: int = 0,
                     level: float = LEVEL) -> dict:
    """Percentile interval of the mean per-item difference ``diff`` (N,) by resampling items.

    With ``strata`` (N,) items are resampled within each stratum and the statistic is the mean of
    the stratum means (languages weigh equally, as in the report's language averages). Returns
    ``{"diff", "ci": (lo, hi), "se", "resamples", "seed", "level"}``.
    """
    d = np.asarray(diff, dtype=float)
    if d.ndim != 1 or d.size == 0:
        raise ValueError(f"diff: a non-empty 1-D array expected, got shape {d.shape}")
    rng = np.random.default_rng(seed)
    groups = _strata_index(len(d), strata)
    stats = np.zeros(resamples)
    for idx in groups:
        # Resampling n items with replacement only matters through how many times each distinct
        # value is drawn: Multinomial(n, observed frequencies), the same distribution as drawing
        # indices, at a cost of (resamples x distinct values) instead of (resamples x n).
        values, counts = np.unique(d[idx], return_counts=True)
        draws = rng.multinomial(len(idx), counts / len(idx), size=resamples)  # (R, distinct)
        stats += draws @ values / len(idx)
    stats /= len(groups)
    tail = (1 - level) / 2
    lo, hi = np.quantile(stats, [tail, 1 - tail])
    return {"diff": stratified_mean(d, strata), "ci": (float(lo), float(hi)), "se": float(stats.std(ddof=1)),
            "resamples": resamples, "seed": seed, "level": level}


def null_se_paired(diff, strata=None) -> float:
    """Standard error of the (stratified) mean difference under no effect:
    ``sqrt(sum_l w_l^2 mean_l(d^2) / n_l)``, ``w_l = 1 / L``; for 0/1 outcomes ``mean(d^2)`` is the
    discordance rate ``pi_d``, so one stratum gives ``sqrt(pi_d / n)``."""
    d = np.asarray(diff, dtype=float)
    groups = _strata_index(len(d), strata)
    var = sum(float(np.mean(d[idx] ** 2)) / len(idx) for idx in groups) / len(groups) ** 2
    return math.sqrt(var)


def null_se_unpaired(p_item, strata=None) -> float:
    """Standard error of the (stratified) difference of two independent accuracies near ``p_l`` per
    stratum (``p_item`` (N,): each item's accuracy, pooled over the two models and the seeds):
    ``sqrt(sum_l w_l^2 2 p_l (1 - p_l) / n_l)``; one stratum gives ``sqrt(2 p (1 - p) / n)``."""
    x = np.asarray(p_item, dtype=float)
    groups = _strata_index(len(x), strata)
    var = sum(2 * x[idx].mean() * (1 - x[idx].mean()) / len(idx) for idx in groups) / len(groups) ** 2
    return math.sqrt(var)


def mde_from_se(se: float, *, alpha: float = ALPHA, power: float = POWER) -> float:
    """``(z_{1-alpha/2} + z_{power}) * se``: the smallest true difference a two-sided level-alpha
    z-test detects with probability ``power``."""
    return (_z(1 - alpha / 2) + _z(power)) * se


def min_discordant(alpha: float = ALPHA) -> int:
    """The fewest discordant pairs the exact McNemar test can call significant (all in one
    direction): 6 at alpha 0.05, since ``2 / 2^5 > 0.05 >= 2 / 2^6``."""
    m = 1
    while mcnemar_exact(0, m) > alpha:
        m += 1
    return m


def mde_paired(discordance: float, n: int, *, alpha: float = ALPHA, power: float = POWER) -> float:
    """Paired MDE on ``n`` items with discordance rate ``pi_d`` (normal approximation to McNemar):
    ``(z_{1-alpha/2} + z_{power}) * sqrt(pi_d / n)``, and never below ``m_min / n``
    (:func:`min_discordant`): with few changed predictions observed (none, say) the approximation
    would promise effects that no exact test on ``n`` items can detect."""
    if n <= 0:
        return math.nan
    return max(mde_from_se(math.sqrt(discordance / n), alpha=alpha, power=power), min_discordant(alpha) / n)


def mde_unpaired(p: float, n: int, *, alpha: float = ALPHA, power: float = POWER) -> float:
    """Unpaired MDE for two proportions near ``p`` on ``n`` items each:
    ``(z_{1-alpha/2} + z_{power}) * sqrt(2 p (1 - p) / n)``."""
    if n <= 0:
        return math.nan
    return mde_from_se(math.sqrt(2 * p * (1 - p) / n), alpha=alpha, power=power)


def compare_paired(a, b, *, strata=None, resamples: int = RESAMPLES, seed: int = 0, level: float = LEVEL,
                   alpha: float = ALPHA, power: float = POWER) -> dict:
    """Everything the report says about B against A on the same items: ``a``, ``b`` (N,) or (S, N)
    correct/incorrect per item (S demonstration seeds; the same items in the same order).

    Returns ``n`` (items), ``seeds``, ``acc_a``, ``acc_b``, ``diff`` (B - A, mean over seeds),
    ``ci`` (95% interval: the bootstrap percentile interval over items, widened by the seed
    variance when S > 1), ``ci_items`` (the bootstrap interval alone), ``p_mcnemar`` (exact;
    with S > 1 the largest over seeds: the difference must hold for every demonstration set),
    ``discordance`` (share of (item, seed) pairs that differ), ``mde`` (paired), ``mde_unpaired``,
    ``seed_std`` (std over seeds of the per-seed difference, None for S = 1), the bootstrap
    ``resamples`` and ``seed``.
    """
    a, b = _as_bool(a, "a"), _as_bool(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must cover the same items: shapes {a.shape} and {b.shape}")
    if a.ndim == 1:
        a, b = a[None], b[None]
    if a.ndim != 2 or a.shape[1] == 0:
        raise ValueError(f"expected (N,) or (S, N) arrays with N > 0, got shape {a.shape}")
    n_seeds, n = a.shape
    per_seed = [stratified_mean(b[s].astype(float) - a[s], strata) for s in range(n_seeds)]
    d_item = (b.astype(float) - a).mean(axis=0)  # (N,) per-item difference averaged over seeds
    boot = paired_bootstrap(d_item, strata=strata, resamples=resamples, seed=seed, level=level)
    diff = float(np.mean(per_seed))
    seed_std = float(np.std(per_seed, ddof=1)) if n_seeds > 1 else None
    seed_se = (seed_std or 0.0) / math.sqrt(n_seeds)
    z = _z(1 - (1 - level) / 2)
    lo, hi = seed_combined(diff, boot["ci"], seed_se, z)
    se0 = math.hypot(null_se_paired(d_item, strata), seed_se)
    # The smallest difference an exact test can see: m_min changed items in the largest language,
    # whose items weigh least in the mean of language means (m_min / n with one language).
    groups = _strata_index(n, strata)
    floor = min_discordant(alpha) / (len(groups) * max(len(g) for g in groups))
    acc_a = float(np.mean([stratified_mean(a[s].astype(float), strata) for s in range(n_seeds)]))
    acc_b = float(np.mean([stratified_mean(b[s].astype(float), strata) for s in range(n_seeds)]))
    p_values = [mcnemar_exact(*discordant(a[s], b[s])) for s in range(n_seeds)]
    return {
        "n": n, "seeds": n_seeds, "acc_a": acc_a, "acc_b": acc_b, "diff": diff, "ci": (lo, hi),
        "ci_items": boot["ci"], "se_items": boot["se"], "p_mcnemar": max(p_values),
        "discordance": float(np.mean(a != b)), "mde": max(mde_from_se(se0, alpha=alpha, power=power), floor),
        "mde_unpaired": mde_from_se(null_se_unpaired((a.mean(axis=0) + b.mean(axis=0)) / 2, strata),
                                    alpha=alpha, power=power),
        "seed_std": seed_std, "resamples": resamples, "seed": seed, "level": level,
    }


def seed_combined(diff: float, ci_items: tuple[float, float], seed_se: float, z: float) -> tuple[float, float]:
    """The item interval ``ci_items`` around ``diff`` widened by the demonstration-seed noise:
    each side's half-width ``h`` becomes ``sqrt(h^2 + (z * seed_se)^2)``, ``seed_se = s_seed / sqrt(S)``;
    unchanged when ``seed_se`` is 0 (one seed)."""
    lo, hi = ci_items
    if seed_se == 0:
        return lo, hi
    extra = (z * seed_se) ** 2
    return diff - math.sqrt((diff - lo) ** 2 + extra), diff + math.sqrt((hi - diff) ** 2 + extra)

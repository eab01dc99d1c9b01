"""Rank correlation across a few units (languages), with its uncertainty.

    rho = spearman(alignment, accuracy)                       # ties get average ranks
    lo, hi = spearman_interval(alignment, accuracy)           # bootstrap over units, 95%
    p = permutation_p(alignment, accuracy)                    # exact for n <= 9, else sampled

With 8 languages a correlation is uncertain: the bootstrap resamples languages with replacement
(10,000 resamples, seed 0; a resample whose ranks are constant on one side has no correlation and
is redrawn), the percentile interval; the permutation test compares |rho| with its distribution
over every reordering of one side (two-sided).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.stats import rankdata  # scipy comes with scikit-learn, a dependency

RESAMPLES = 10_000


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank) along the last axis."""
    return rankdata(x, axis=-1)


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(-1) / np.where(den > 0, den, 1.0), np.nan)


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D and of one length: got {x.shape} and {y.shape}")
    if len(x) < 3:
        raise ValueError(f"a rank correlation needs at least 3 units, got {len(x)}")
    return x, y


def spearman(x, y) -> float:
    """Spearman's rho: the Pearson correlation of the average ranks; nan when one side is constant."""
    x, y = _pair(x, y)
    return float(_pearson_rows(_ranks(x), _ranks(y)))


def spearman_interval(x, y, *, resamples: int = RESAMPLES, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of rho over units resampled with replacement."""
    x, y = _pair(x, y)
    rng = np.random.default_rng(seed)
    n, out = len(x), []
    while len(out) < resamples:
        idx = rng.integers(0, n, size=(resamples, n))
        rho = _pearson_rows(_ranks(x[idx]), _ranks(y[idx]))
        out.extend(rho[~np.isnan(rho)].tolist())
    rho = np.asarray(out[:resamples])
    tail = (1 - level) / 2
    return float(np.quantile(rho, tail)), float(np.quantile(rho, 1 - tail))


def permutation_p(x, y, *, resamples: int = RESAMPLES, seed: int = 0) -> float:
    """Two-sided permutation p-value of rho: exact over all n! orders for n <= 9, else sampled."""
    x, y = _pair(x, y)
    rx, ry = _ranks(x), _ranks(y)
    observed = abs(float(_pearson_rows(rx, ry)))
    if math.isnan(observed):
        return 1.0
    n = len(x)
    if n <= 9:
        perms = np.array(list(itertools.permutations(range(n))))
    else:
        rng = np.random.default_rng(seed)
        perms = np.array([rng.permutation(n) for _ in range(resamples)])
    rho = np.abs(_pearson_rows(np.broadcast_to(rx, perms.shape), ry[perms]))
    return float(np.mean(rho >= observed - 1e-12))

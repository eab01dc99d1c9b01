"""Geometry of sentence representations across languages: alignment, uniformity, separability.

All functions take ``(N, H)`` representations (torch tensors or numpy arrays) and return
plain floats or dicts of floats, so results go straight into JSON.

- :func:`alignment` and :func:`uniformity` are the two losses of Wang & Isola (2020),
  "Understanding Contrastive Representation Learning through Alignment and Uniformity on
  the Hypersphere", on L2-normalised representations: lower alignment means translations
  sit closer; lower (more negative) uniformity means the representations spread over the
  sphere instead of crowding in one cone.
- :func:`pair_vs_random_cosine`: mean cosine of translation pairs against the exact mean
  cosine of all non-translation pairs. Decoder states are anisotropic (every pair has a
  high cosine), so the gap is the meaningful number, not the pair cosine alone.
- :func:`language_separability`: how easily the language of a sentence can be read off its
  representation: the cross-validated accuracy of a logistic-regression language-ID probe
  and the silhouette score of the language clusters (cosine distance). Separate clusters
  per language (probe near 100%, high silhouette) are what the AFP paper says alignment
  should break up.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F


def as_tensor(x) -> torch.Tensor:
    """float32 tensor from a tensor or a (read-only, memory-mapped) numpy array (copied into memory)."""
    if isinstance(x, torch.Tensor):
        return x.float()
    return torch.from_numpy(np.array(x, dtype=np.float32))


def _normalized(x) -> torch.Tensor:
    return F.normalize(as_tensor(x), dim=-1)


def alignment(x, y, alpha: float = 2.0) -> float:
    """``mean_i ||x̂_i - ŷ_i||^alpha`` over translation pairs, on unit vectors (0 = identical, max 2^alpha)."""
    x, y = _normalized(x), _normalized(y)
    if x.shape != y.shape:
        raise ValueError(f"x and y must be parallel: got shapes {tuple(x.shape)} and {tuple(y.shape)}")
    return (x - y).norm(dim=1).pow(alpha).mean().item()


def subsample(n: int, max_samples: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most ``max_samples`` of ``range(n)``, chosen with ``seed``."""
    if max_samples is None or n <= max_samples:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))


def uniformity(
    x, t: float = 2.0, max_samples: int | None = 5000, seed: int = 0, block_size: int = 1024
) -> float:
    """``log mean_{i != j} exp(-t ||x̂_i - x̂_j||^2)`` over distinct pairs of unit vectors.

    Computed in row blocks so only ``(block_size, N)`` distances exist at once; above
    ``max_samples`` rows a seeded subsample is used (the estimate of a mean needs no more).
    Ranges from 0 (all points equal) down to about ``-2t`` for evenly spread points in high
    dimension (``-4t`` for two antipodal points).
    """
    idx = subsample(len(x), max_samples, seed)
    if len(idx) < 2:
        raise ValueError("uniformity needs at least 2 representations")
    xn = _normalized(x[idx] if not isinstance(x, torch.Tensor) else x[torch.from_numpy(idx)])
    n = xn.shape[0]
    total = 0.0
    for start in range(0, n, block_size):
        block = xn[start : start + block_size]  # (b, H)
        sq_dist = (2 - 2 * block @ xn.T).clamp(min=0)  # (b, N), since |a-b|^2 = 2 - 2 cos for unit vectors
        kernel = torch.exp(-t * sq_dist)  # (b, N); float32 is exact enough per term, the sum is float64
        rows = torch.arange(block.shape[0])
        kernel[rows, rows + start] = 0.0  # drop i == j
        total += kernel.sum(dtype=torch.float64).item()
    return math.log(total / (n * (n - 1)))


def pair_vs_random_cosine(x, y) -> dict[str, float]:
    """Mean cosine of translation pairs ``(x_i, y_i)`` and of all other pairs ``(x_i, y_j), i != j``.

    The random-pair mean is exact and needs no sampling:
    ``sum_{i,j} cos(x_i, y_j) = (sum_i x̂_i) . (sum_j ŷ_j)``, minus the diagonal.
    """
    x, y = _normalized(x), _normalized(y)
    if x.shape != y.shape:
        raise ValueError(f"x and y must be parallel: got shapes {tuple(x.shape)} and {tuple(y.shape)}")
    n = x.shape[0]
    diag = (x.double() * y.double()).sum(dim=1)  # (N,)
    pair = diag.mean().item()
    if n < 2:
        return {"pair": pair, "random": float("nan"), "gap": float("nan")}
    everything = (x.double().sum(dim=0) @ y.double().sum(dim=0)).item()
    random = (everything - diag.sum().item()) / (n * (n - 1))
    return {"pair": pair, "random": random, "gap": pair - random}


def language_separability(
    reps,
    labels: Sequence[str],
    folds: int = 5,
    seed: int = 0,
    max_per_language: int | None = 100,
    methods: Sequence[str] = ("probe", "silhouette"),
    silhouette_metric: str = "cosine",
) -> dict[str, float]:
    """How well the language of each row can be told from its representation.

    ``probe``: mean accuracy of a ``folds``-fold stratified cross-validated multinomial
    logistic regression (standardised L2-normalised features, seed ``seed``), with
    ``probe_chance`` = share of the largest language. ``silhouette``: silhouette score of the
    language labels (``silhouette_metric`` distance; 1 = tight separate clusters, 0 =
    overlapping, < 0 = mixed). Each language is subsampled to ``max_per_language`` rows
    (seeded) so the cost stays fixed as the data grows.
    """
    labels_arr = np.asarray(labels)
    if len(labels_arr) != len(reps):
        raise ValueError(f"{len(reps)} representations but {len(labels_arr)} labels")
    languages = sorted(set(labels_arr.tolist()))
    if len(languages) < 2:
        raise ValueError("separability needs at least 2 languages")
    rng = np.random.default_rng(seed)
    keep = []
    for lang in languages:
        rows = np.flatnonzero(labels_arr == lang)
        if max_per_language is not None and len(rows) > max_per_language:
            rows = np.sort(rng.choice(rows, size=max_per_language, replace=False))
        keep.append(rows)
    idx = np.concatenate(keep)
    x = _normalized(reps[idx] if not isinstance(reps, torch.Tensor) else reps[torch.from_numpy(idx)])
    x = x.cpu().double().numpy()
    y = labels_arr[idx]
    out: dict[str, float] = {}
    for method in methods:
        if method == "probe":
            out.update(_probe(x, y, folds, seed))
        elif method == "silhouette":
            # scikit-learn is imported where it is used: at the top it adds 1.1-1.5 s to
            # `crossalign analyze --help` (measured on this 2-core machine, torch already loaded).
            from sklearn.metrics import silhouette_score

            out["silhouette"] = float(silhouette_score(x, y, metric=silhouette_metric))
        else:
            raise ValueError(f"unknown separability method {method!r}; choose from ['probe', 'silhouette']")
    return out


def _probe(x: np.ndarray, y: np.ndarray, folds: int, seed: int) -> dict[str, float]:
    # Imported here for start-up time, as silhouette_score above (1.1-1.3 s measured).
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _, counts = np.unique(y, return_counts=True)
    folds = int(min(folds, counts.min()))
    if folds < 2:
        raise ValueError("the language-ID probe needs at least 2 sentences of every language")
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=300))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # A probe that has not fully converged still measures separability; the warning is noise.
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(probe, x, y, cv=split)
    return {"probe_accuracy": float(scores.mean()), "probe_chance": float(counts.max() / counts.sum()),
            "probe_folds": folds}

"""2-D pictures of representation space: PCA and t-SNE coordinates coloured by language.

    coords = projection_at(reps, "mean", 11, max_per_language=100, seed=0)
    coords["labels"], coords["pca"], coords["tsne"]  # lists, JSON-ready

Rows are L2-normalised first: decoder states have a few huge "outlier" dimensions that
would otherwise be all PCA sees, and retrieval is cosine-based anyway. The subsample is a
fixed function of the row layout and the seed, so a base and an aligned model analysed on
the same pairs are drawn on exactly the same sentences.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crossalign.analysis.representations import Representations

PROJECTION_METHODS = ("pca", "tsne")


def projection_rows(reps: Representations, max_per_language: int = 100, seed: int = 0) -> np.ndarray:
    """Row indices to draw: up to ``max_per_language`` pairs per language (both sides) and as many
    pivot rows, taken from the chosen pairs, so the pivot is not drawn 16 times larger."""
    rng = np.random.default_rng(seed)
    lang_rows, pivot_rows = [], []
    for _lang, (start, n) in reps.spans.items():
        pick = np.sort(rng.choice(n, size=min(n, max_per_language), replace=False))
        pivot_rows.append(start + pick)
        lang_rows.append(start + n + pick)
    pivot = np.concatenate(pivot_rows)
    if len(pivot) > max_per_language:
        pivot = np.sort(rng.choice(pivot, size=max_per_language, replace=False))
    return np.concatenate([pivot, *lang_rows])


def project(x: np.ndarray, methods: Sequence[str] = PROJECTION_METHODS, seed: int = 0) -> dict[str, list]:
    """``{method: [[x, y], ...]}`` for ``(N, H)`` rows (L2-normalised here)."""
    x = np.asarray(x, dtype=np.float64)
    x = x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)
    out: dict[str, list] = {}
    for method in methods:
        # scikit-learn is imported where it is used: at the top it adds 1.1-1.4 s to
        # `crossalign analyze --help` (measured on this 2-core machine, torch already loaded).
        if method == "pca":
            from sklearn.decomposition import PCA

            coords = PCA(n_components=2, random_state=seed).fit_transform(x)
        elif method == "tsne":
            from sklearn.manifold import TSNE

            perplexity = float(min(30.0, max(2.0, (len(x) - 1) / 3)))
            coords = TSNE(n_components=2, perplexity=perplexity, metric="cosine", init="pca",
                          random_state=seed).fit_transform(x)
        else:
            raise ValueError(f"unknown projection {method!r}; choose from {list(PROJECTION_METHODS)}")
        out[method] = np.round(coords, 5).tolist()
    return out


def projection_at(
    reps: Representations,
    pooling: str,
    layer: int,
    max_per_language: int = 100,
    seed: int = 0,
    methods: Sequence[str] = PROJECTION_METHODS,
) -> dict:
    """Coordinates and language labels of a seeded subsample of one layer's representations."""
    rows = projection_rows(reps, max_per_language, seed)
    x = np.asarray(reps.array(pooling, layer)[rows], dtype=np.float32)  # (n, H)
    labels = reps.labels()[rows].tolist()
    return {"pooling": pooling, "layer": layer, "seed": seed, "labels": labels, **project(x, methods, seed)}

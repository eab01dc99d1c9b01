"""Representation metrics against answers computed by hand on tiny synthetic embeddings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from crossalign.analysis.metrics import alignment, language_separability, pair_vs_random_cosine, uniformity


def test_alignment_by_hand():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([[0.0, 2.0], [0.0, 5.0]])  # normalised: e2, e2
    # |e1 - e2|^2 = 2 and |e2 - e2|^2 = 0 -> mean 1; alpha = 1 -> (sqrt(2) + 0) / 2
    assert alignment(x, y) == pytest.approx(1.0)
    assert alignment(x, y, alpha=1) == pytest.approx(math.sqrt(2) / 2)
    assert alignment(x, x * 3) == pytest.approx(0.0, abs=1e-7)


def test_uniformity_by_hand():
    x = np.array([[1.0, 0.0], [-1.0, 0.0]], dtype=np.float32)  # antipodal: |a-b|^2 = 4
    assert uniformity(x) == pytest.approx(-8.0, abs=1e-5)
    x3 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])  # squared distances 2, 4, 2
    expected = math.log((2 * math.exp(-4) + math.exp(-8)) / 3)
    assert uniformity(x3) == pytest.approx(expected, abs=1e-5)
    assert uniformity(x3, t=1.0) == pytest.approx(math.log((2 * math.exp(-2) + math.exp(-4)) / 3), abs=1e-5)


def test_uniformity_blocks_and_subsample():
    x = torch.randn(53, 7, generator=torch.Generator().manual_seed(0))
    full = uniformity(x, max_samples=None, block_size=1000)
    assert uniformity(x, max_samples=None, block_size=4) == pytest.approx(full, abs=1e-6)
    # reference: the pairwise formula of Wang & Isola, with torch.pdist
    xn = torch.nn.functional.normalize(x.double(), dim=1)
    ref = torch.pdist(xn).pow(2).mul(-2).exp().mean().log().item()
    assert full == pytest.approx(ref, abs=1e-5)
    sub = uniformity(x, max_samples=20, seed=1)
    assert sub != pytest.approx(full, abs=1e-9)  # a subsample really was taken
    assert sub == uniformity(x, max_samples=20, seed=1)  # and it is seeded


def test_pair_vs_random_cosine_by_hand():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    r = 1 / math.sqrt(2)
    out = pair_vs_random_cosine(x, y)
    assert out["pair"] == pytest.approx((1 + 1 + r) / 3)
    # off-diagonal cosines: (0,1)=0 (0,2)=0 (1,0)=0 (1,2)=1 (2,0)=r (2,1)=r
    assert out["random"] == pytest.approx((1 + 2 * r) / 6)
    assert out["gap"] == pytest.approx(out["pair"] - out["random"])


def test_silhouette_by_hand():
    reps = np.array([[0, 0], [0, 1], [3, 0], [3, 1]], dtype=np.float32)
    labels = ["a", "a", "b", "b"]
    shifted = reps + np.float32(10)
    out = language_separability(shifted, labels, methods=("silhouette",), silhouette_metric="euclidean",
                                max_per_language=None)
    # After L2 normalisation the points move; compute the expected value on the normalised points.
    pts = shifted / np.linalg.norm(shifted, axis=1, keepdims=True)
    d = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    s = []
    for i in range(4):
        same = [j for j in range(4) if labels[j] == labels[i] and j != i]
        other = [j for j in range(4) if labels[j] != labels[i]]
        a, b = d[i, same].mean(), d[i, other].mean()
        s.append((b - a) / max(a, b))
    assert out["silhouette"] == pytest.approx(float(np.mean(s)), abs=1e-6)


def test_probe_separates_clusters_and_not_noise():
    rng = np.random.default_rng(0)
    labels = np.array(["de"] * 60 + ["fr"] * 60 + ["en"] * 60)
    centres = {"de": np.eye(16)[0] * 4, "fr": np.eye(16)[1] * 4, "en": np.eye(16)[2] * 4}
    clustered = np.stack([centres[lab] + rng.normal(size=16) * 0.3 for lab in labels])
    sep = language_separability(clustered, labels, folds=3)
    assert sep["probe_accuracy"] == pytest.approx(1.0)
    assert sep["probe_chance"] == pytest.approx(1 / 3)
    assert sep["silhouette"] > 0.5
    noise = language_separability(rng.normal(size=(180, 16)), labels, folds=3)
    assert noise["probe_accuracy"] < 0.6
    assert abs(noise["silhouette"]) < 0.1


def test_probe_subsamples_each_language():
    rng = np.random.default_rng(1)
    labels = ["de"] * 300 + ["en"] * 40
    out = language_separability(rng.normal(size=(340, 4)), labels, max_per_language=40, methods=("probe",))
    assert out["probe_chance"] == pytest.approx(0.5)  # 40 + 40 after subsampling


def test_separability_errors():
    with pytest.raises(ValueError, match="labels"):
        language_separability(np.zeros((3, 2)), ["a", "b"])
    with pytest.raises(ValueError, match="at least 2 languages"):
        language_separability(np.ones((3, 2)), ["a", "a", "a"])
    with pytest.raises(ValueError, match="choose from"):
        language_separability(np.ones((4, 2)), ["a", "a", "b", "b"], methods=("knn",))

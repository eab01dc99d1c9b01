"""Bitext retrieval: hand-computed cosine and margin answers, blockwise == full matrix; the layer choice."""

from __future__ import annotations

import math

import pytest
import torch

from crossalign.retrieval import margin_matrix, peak_layer, retrieval_accuracy, retrieval_scores

HUB = math.sqrt(0.28)


def hub_example():
    """src = e0, e1, e2; tgt_j = column j of the similarity matrix (unit vectors), so
    sim = [[.8, 0, .6], [0, .8, .6], [.6, .6, HUB]]: target 2 is a hub that row 2 loses
    to target 0 under cosine (.6 > .529) but wins under the k=1 margin."""
    src = torch.eye(3)
    tgt = torch.tensor([[0.8, 0.0, 0.6], [0.0, 0.8, 0.6], [0.6, 0.6, HUB]]).T.contiguous()
    return src, tgt


def test_margin_by_hand():
    src, tgt = hub_example()
    m = margin_matrix(src, tgt, k=1)
    # kNN means (k=1) are the row / column maxima: rows .8 .8 .6, columns .8 .8 .6
    assert m[2, 0].item() == pytest.approx(0.6 / 0.7, abs=1e-6)
    assert m[2, 2].item() == pytest.approx(HUB / 0.6, abs=1e-6)
    assert m[0, 0].item() == pytest.approx(1.0, abs=1e-6)


def test_hub_cosine_vs_margin_by_hand():
    src, tgt = hub_example()
    out = retrieval_scores(src, tgt, k=1, block_size=2)
    assert out["src2tgt"]["cosine"] == pytest.approx(2 / 3)
    assert out["src2tgt"]["margin"] == pytest.approx(1.0)
    assert out["tgt2src"]["cosine"] == pytest.approx(2 / 3)
    assert out["tgt2src"]["margin"] == pytest.approx(1.0)
    assert retrieval_accuracy(src, tgt, "cosine") == pytest.approx(2 / 3)
    assert retrieval_accuracy(src, tgt, "margin", k=1) == pytest.approx(1.0)


@pytest.mark.parametrize("block_size", [1, 5, 64])
@pytest.mark.parametrize("k", [1, 4])
def test_blockwise_equals_full_matrix(block_size, k):
    g = torch.Generator().manual_seed(0)
    src = torch.randn(37, 8, generator=g)
    tgt = src + 1.2 * torch.randn(37, 8, generator=g)  # noisy translations: accuracy strictly between 0 and 1
    out = retrieval_scores(src, tgt, k=k, block_size=block_size)
    for scoring in ("cosine", "margin"):
        assert out["src2tgt"][scoring] == pytest.approx(retrieval_accuracy(src, tgt, scoring, k))
        assert out["tgt2src"][scoring] == pytest.approx(retrieval_accuracy(tgt, src, scoring, k))
    assert 0 < out["src2tgt"]["cosine"] < 1


def test_retrieval_errors():
    with pytest.raises(ValueError, match="parallel"):
        retrieval_scores(torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="at least one"):
        retrieval_scores(torch.zeros(0, 2), torch.zeros(0, 2))


def test_never_scores_more_than_a_block(monkeypatch):
    seen = []
    original = torch.Tensor.__matmul__

    def spy(a, b):
        out = original(a, b)
        seen.append(tuple(out.shape))
        return out

    monkeypatch.setattr(torch.Tensor, "__matmul__", spy)
    src = torch.randn(50, 6, generator=torch.Generator().manual_seed(2))
    retrieval_scores(src, src + 0.1, k=3, block_size=8)
    assert seen and max(rows for rows, _ in seen) == 8  # (block, N) score blocks only
    assert len(seen) == 3 * 7  # three passes over ceil(50 / 8) blocks


def test_peak_layer():
    assert peak_layer({0: 0.9, 1: 0.2, 2: 0.6, 3: 0.5}) == 2  # layer 0 skipped
    assert peak_layer({0: 0.9, 1: 0.2, 2: 0.6}, include_embedding=True) == 0
    assert peak_layer({3: 0.7, 1: 0.4, 2: 0.7}) == 2  # ties go to the lower layer, whatever the order
    assert peak_layer({0: 0.3}) == 0  # the only layer scored
    with pytest.raises(ValueError, match="no layer"):
        peak_layer({})

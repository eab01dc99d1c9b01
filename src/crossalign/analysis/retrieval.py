"""Bitext retrieval: for each source sentence, is its translation the nearest target?

Inputs are ``(N, H)`` representations where row ``i`` of ``src`` and row ``i`` of ``tgt``
are translations. Scores are cosine similarities (``"cosine"``) or the ratio margin of
Artetxe & Schwenk (2019), used by LASER mining and xSIM (``"margin"``): the cosine divided
by the mean cosine of each side's ``k`` nearest neighbours, which penalises hub sentences.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cosine_matrix(src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """(N, H), (M, H) -> (N, M) cosine similarities in float32."""
    return F.normalize(src.float(), dim=-1) @ F.normalize(tgt.float(), dim=-1).T


def margin_matrix(src: torch.Tensor, tgt: torch.Tensor, k: int = 4) -> torch.Tensor:
    """Ratio margin ``cos(x, y) / ((mean_kNN(x) + mean_kNN(y)) / 2)``: (N, H), (M, H) -> (N, M)."""
    sim = cosine_matrix(src, tgt)
    k_src = min(k, sim.shape[1])
    k_tgt = min(k, sim.shape[0])
    knn_src = sim.topk(k_src, dim=1).values.mean(dim=1)  # (N,) mean sim of x to its k nearest targets
    knn_tgt = sim.topk(k_tgt, dim=0).values.mean(dim=0)  # (M,) mean sim of y to its k nearest sources
    return sim / ((knn_src[:, None] + knn_tgt[None, :]) / 2)


def retrieval_accuracy(src: torch.Tensor, tgt: torch.Tensor, scoring: str = "cosine", k: int = 4) -> float:
    """Share of rows ``i`` whose best-scoring target is ``tgt[i]`` (src -> tgt direction)."""
    if src.shape != tgt.shape:
        raise ValueError(f"src and tgt must be parallel: got shapes {tuple(src.shape)} and {tuple(tgt.shape)}")
    if scoring == "cosine":
        scores = cosine_matrix(src, tgt)
    elif scoring == "margin":
        scores = margin_matrix(src, tgt, k)
    else:
        raise ValueError(f"unknown scoring {scoring!r}; choose from ['cosine', 'margin']")
    pred = scores.argmax(dim=1)
    return (pred == torch.arange(src.shape[0], device=pred.device)).float().mean().item()

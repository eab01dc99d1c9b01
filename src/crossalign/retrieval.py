"""Bitext retrieval, and the layer where a score peaks.

Inputs are ``(N, H)`` representations where row ``i`` of ``src`` and row ``i`` of ``tgt``
are translations. Scores are cosine similarities (``"cosine"``) or the ratio margin of
Artetxe & Schwenk (2019), used by LASER mining and xSIM (``"margin"``): the cosine divided
by the mean cosine of each side's ``k`` nearest neighbours, which penalises hub sentences.

:func:`retrieval_accuracy` builds the full ``(N, N)`` score matrix (fine for a few thousand
pairs); :func:`retrieval_scores` gives both directions and both scorings blockwise, for
pair sets of any size. :func:`peak_layer` is the one rule that picks a layer from per-layer
scores: training's ``contrastive.layer: auto`` (:func:`crossalign.train.monitor.choose_layer`),
``crossalign analyze``'s recommendation (:func:`crossalign.analysis.runner.recommend_layer`)
and the study's base-model layers all use it.

No model and no files here: the module sits below ``train/``, ``analysis/`` and ``experiments/``,
which all import it.
"""

from __future__ import annotations

from collections.abc import Mapping

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
        raise ValueError(
            f"src and tgt must be parallel: got shapes {tuple(src.shape)} and {tuple(tgt.shape)}"
        )
    if scoring == "cosine":
        scores = cosine_matrix(src, tgt)
    elif scoring == "margin":
        scores = margin_matrix(src, tgt, k)
    else:
        raise ValueError(f"unknown scoring {scoring!r}; choose from ['cosine', 'margin']")
    pred = scores.argmax(dim=1)
    return (pred == torch.arange(src.shape[0], device=pred.device)).float().mean().item()


def _neighbour_pass(queries: torch.Tensor, keys: torch.Tensor, k: int, block_size: int,
                    knn_k: torch.Tensor | None = None):
    """One blockwise pass over ``queries`` (unit rows) against ``keys``: (N, H), (M, H) ->

    the mean of each query's top-``k`` cosines (N,), its best key by cosine (N,) and, when the
    keys' own kNN means ``knn_k`` (M,) are given, its best key by ratio margin (N,). Never
    more than ``(block_size, M)`` scores exist at once.
    """
    k = min(k, keys.shape[0])
    n = queries.shape[0]
    knn = torch.empty(n, device=queries.device)
    best_cos = torch.empty(n, dtype=torch.long, device=queries.device)
    best_margin = torch.empty(n, dtype=torch.long, device=queries.device) if knn_k is not None else None
    for start in range(0, n, block_size):
        sim = queries[start : start + block_size] @ keys.T  # (b, M)
        rows = slice(start, start + sim.shape[0])
        knn[rows] = sim.topk(k, dim=1).values.mean(dim=1)
        best_cos[rows] = sim.argmax(dim=1)
        if knn_k is not None:
            denom = (knn[rows, None] + knn_k[None, :]) / 2  # (b, M)
            best_margin[rows] = (sim / denom).argmax(dim=1)
    return knn, best_cos, best_margin


def _margin_argmax(queries, keys, knn_q, knn_k, block_size: int) -> torch.Tensor:
    """Best key per query under the ratio margin, blockwise: (N, H), (M, H), (N,), (M,) -> (N,)."""
    best = torch.empty(queries.shape[0], dtype=torch.long, device=queries.device)
    for start in range(0, queries.shape[0], block_size):
        sim = queries[start : start + block_size] @ keys.T  # (b, M)
        denom = (knn_q[start : start + sim.shape[0], None] + knn_k[None, :]) / 2  # (b, M)
        best[start : start + sim.shape[0]] = (sim / denom).argmax(dim=1)
    return best


def retrieval_scores(
    src: torch.Tensor, tgt: torch.Tensor, k: int = 4, block_size: int = 4096
) -> dict[str, dict[str, float]]:
    """Top-1 accuracy in both directions with cosine and margin scoring, blockwise.

    ``{"src2tgt": {"cosine": a, "margin": b}, "tgt2src": {...}}`` for parallel ``(N, H)``
    inputs. Equal to :func:`retrieval_accuracy` (ties go to the lowest index in both), but
    the ``(N, N)`` similarity matrix is never held: three passes over ``(block_size, N)``
    blocks, so 100k x 100k sentences need a few hundred MB, not 40 GB. The margin's
    neighbourhoods are those of :func:`margin_matrix` (k nearest on the other side).
    """
    if src.shape != tgt.shape:
        raise ValueError(
            f"src and tgt must be parallel: got shapes {tuple(src.shape)} and {tuple(tgt.shape)}"
        )
    if src.shape[0] == 0:
        raise ValueError("retrieval needs at least one pair")
    src_n = F.normalize(src.float(), dim=-1)
    tgt_n = F.normalize(tgt.float(), dim=-1)
    gold = torch.arange(src.shape[0], device=src_n.device)
    knn_tgt, cos_t2s, _ = _neighbour_pass(tgt_n, src_n, k, block_size)
    knn_src, cos_s2t, margin_s2t = _neighbour_pass(src_n, tgt_n, k, block_size, knn_k=knn_tgt)
    margin_t2s = _margin_argmax(tgt_n, src_n, knn_tgt, knn_src, block_size)

    def acc(pred: torch.Tensor) -> float:
        return (pred == gold).float().mean().item()

    return {
        "src2tgt": {"cosine": acc(cos_s2t), "margin": acc(margin_s2t)},
        "tgt2src": {"cosine": acc(cos_t2s), "margin": acc(margin_t2s)},
    }


def alignment_scores(src: torch.Tensor, tgt: torch.Tensor) -> dict[str, float]:
    """Top-1 retrieval (cosine, mean of both directions) and the share of pairs that are each other's
    mutual nearest neighbour (MEXA-style: row i's best target is ``tgt[i]`` *and* ``tgt[i]``'s best
    source is ``src[i]``), for parallel ``(N, H)`` inputs; ties go to the lowest index."""
    if src.shape != tgt.shape or src.shape[0] == 0:
        raise ValueError(f"src and tgt must be parallel and non-empty: got {tuple(src.shape)} and {tuple(tgt.shape)}")
    sim = cosine_matrix(src, tgt)
    gold = torch.arange(src.shape[0], device=sim.device)
    s2t, t2s = sim.argmax(dim=1) == gold, sim.argmax(dim=0) == gold
    return {"top1": (s2t.float().mean().item() + t2s.float().mean().item()) / 2,
            "mutual_nn": (s2t & t2s).float().mean().item()}


def peak_layer(scores: Mapping[int, float], *, include_embedding: bool = False) -> int:
    """The layer with the highest score; ties go to the lower layer (cheaper to train through).

    ``scores``: ``{layer: score}``, layer 0 being the embedding output. Layer 0 is skipped
    unless it is the only layer scored or ``include_embedding``: aligning there trains
    nothing but the embedding table.
    """
    if not scores:
        raise ValueError("no layer was scored")
    candidates = [layer for layer in scores if include_embedding or layer > 0] or list(scores)
    return max(candidates, key=lambda layer: (scores[layer], -layer))

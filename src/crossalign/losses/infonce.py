"""InfoNCE over cosine similarities with in-batch (and optional hard) negatives.

    loss_sum, n_pairs, n_correct = info_nce(anchors, candidates, temperature=0.05)
    loss = loss_sum / n_pairs

Row ``i`` of ``anchors`` (B, H) is a translation of row ``i`` of ``candidates``; the rows
``B..`` of ``candidates`` (K, H) are extra hard negatives shared by every anchor. The loss
of pair ``i`` is ``-log softmax_j(cos(a_i, c_j) / tau)[i]`` (the reference AFP loss). With
``symmetric`` it is the mean of that and the reverse direction ``-log softmax_j(cos(c_i,
a_j) / tau)[i]`` over the ``B`` positives (hard negatives have no anchor to pair with).
With ``center`` the mean of every row (anchors and candidates together) is subtracted
before the cosine: a component shared by every sentence (the massive-activation channels
of models such as Gemma-3, which put every cosine near 0.99) then no longer flattens the
softmax. The function returns the *sum* over pairs with the count explicit, so the caller can
normalise per pair across micro-batches and ranks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def similarity(anchors: torch.Tensor, candidates: torch.Tensor, temperature: float) -> torch.Tensor:
    """(B, H), (C, H) -> (B, C) cosine similarities divided by ``temperature``, in float32."""
    a = F.normalize(anchors.float(), dim=-1)
    c = F.normalize(candidates.float(), dim=-1)
    return a @ c.T / temperature


def info_nce(
    anchors: torch.Tensor,
    candidates: torch.Tensor,
    temperature: float = 0.05,
    *,
    symmetric: bool = False,
    center: bool = False,
) -> tuple[torch.Tensor, int, torch.Tensor]:
    """``(loss summed over the B pairs, B, number of anchors whose top-1 candidate is right)``."""
    b = anchors.shape[0]
    if candidates.shape[0] < b:
        raise ValueError(f"need at least {b} candidates for {b} anchors, got {candidates.shape[0]}")
    if b == 0:
        zero = anchors.sum() * 0.0 + candidates.sum() * 0.0  # keeps the graph connected
        return zero, 0, torch.zeros((), dtype=torch.long, device=anchors.device)
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if center:
        dtype = torch.promote_types(anchors.dtype, torch.float32)  # bf16 rows: centre in float32
        anchors, candidates = anchors.to(dtype), candidates.to(dtype)
        mean = torch.cat([anchors, candidates]).mean(dim=0)
        anchors, candidates = anchors - mean, candidates - mean
    scores = similarity(anchors, candidates, temperature)  # (B, B + K)
    target = torch.arange(b, device=scores.device)
    loss = F.cross_entropy(scores, target, reduction="sum")
    if symmetric:
        reverse = scores[:, :b].T  # (B, B): row i = positive candidate i against every anchor
        loss = (loss + F.cross_entropy(reverse, target, reduction="sum")) / 2
    correct = (scores.detach().argmax(dim=1) == target).sum()
    return loss, b, correct

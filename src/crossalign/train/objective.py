"""The AFP objective from the outputs of :class:`~crossalign.model.alignment.AlignmentModel`.

    loss, stats = afp_loss(out, pairs_total, tokens_total, world_size, w_cl=1.0, w_clm=1.5)

``pairs_total`` and ``tokens_total`` count the pairs and response tokens of the whole
optimizer step (every micro-batch on every rank). The contrastive part gathers every
rank's representations in rank order (:func:`~crossalign.losses.gather.all_gather_with_grad`)
and every rank computes the loss over all of them; since only the local rows carry a
graph, the ranks' gradients sum to the gradient of the global loss, and the factor
``world_size`` undoes DDP's averaging. The LM part of each rank covers its own tokens and
takes the same factor. With one process and one micro-batch the result is simply
``w_cl * mean per-pair InfoNCE + w_clm * mean per-token NLL``.

``stats`` (detached floats) are what the trainer logs: the global contrastive sum, pairs
and correct top-1 anchors (identical on every rank) and the local LM sum and tokens.
"""

from __future__ import annotations

import torch

from crossalign.losses.gather import all_gather_with_grad
from crossalign.losses.infonce import info_nce


def afp_loss(
    out: dict[str, torch.Tensor],
    pairs_total: float,
    tokens_total: float,
    world_size: int = 1,
    w_cl: float = 1.0,
    w_clm: float = 1.5,
    temperature: float = 0.05,
    symmetric: bool = False,
    center: bool = False,
    hidden_size: int | None = None,
    device: torch.device | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    device = device or next((v.device for v in out.values() if torch.is_tensor(v)), torch.device("cpu"))
    loss = torch.zeros((), device=device)
    stats = {"cl_sum": 0.0, "pairs": 0.0, "correct": 0.0, "clm_sum": 0.0, "tokens": 0.0}
    if w_cl > 0:
        # Every rank must join the gathers, even one whose micro-batch has no pair.
        width = hidden_size if hidden_size is not None else out["anchors"].shape[-1]
        empty = torch.zeros(0, width, device=device)
        anchors = all_gather_with_grad(out.get("anchors", empty))  # (P, H), rank order
        positives = all_gather_with_grad(out.get("positives", empty))  # (P, H)
        negatives = all_gather_with_grad(out.get("negatives", empty))  # (K, H)
        candidates = torch.cat([positives, negatives])  # (P + K, H)
        cl_sum, n_pairs, correct = info_nce(anchors, candidates, temperature, symmetric, center)
        if pairs_total > 0:
            loss = loss + w_cl * cl_sum * (world_size / pairs_total)
        stats.update(cl_sum=float(cl_sum.detach()), pairs=float(n_pairs), correct=float(correct))
    if w_clm > 0 and "clm_sum" in out:
        if tokens_total > 0:
            loss = loss + w_clm * out["clm_sum"] * (world_size / tokens_total)
        stats.update(clm_sum=float(out["clm_sum"].detach()), tokens=float(out["clm_count"]))
    return loss, stats

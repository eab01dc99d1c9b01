"""Gathering representations across data-parallel ranks so contrastive negatives are global.

``all_gather_with_grad(x)`` returns the rows of every rank concatenated in rank order. The
rows of other ranks are constants (their gradient is computed on their own rank); the
local rows are the local autograd tensor itself, so the gradient of the local loss flows
into this rank's encoder. If every rank computes the loss over *all* gathered rows, the
sum over ranks of the local gradients is exactly the gradient of the global loss (DDP
then averages, which the caller undoes by scaling with the world size): see
:mod:`crossalign.train.trainer`. Ranks may hold different numbers of rows.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside distributed training."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """(n_r, H) on each rank r -> (sum_r n_r, H), rank order preserved, local slot differentiable."""
    rank, size = world()
    if size == 1:
        return x
    n = torch.tensor([x.shape[0]], device=x.device, dtype=torch.long)
    sizes = [torch.zeros_like(n) for _ in range(size)]
    dist.all_gather(sizes, n)
    counts = [int(s.item()) for s in sizes]
    top = max(counts)
    padded = x.new_zeros((top, *x.shape[1:]))  # (max n_r, H): all_gather needs equal shapes
    padded[: x.shape[0]] = x.detach()
    parts = [torch.zeros_like(padded) for _ in range(size)]
    dist.all_gather(parts, padded.contiguous())
    rows = [p[:c] for p, c in zip(parts, counts, strict=True)]
    rows[rank] = x  # keep the autograd graph for the local rows
    return torch.cat(rows, dim=0)


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of a (detached) tensor over ranks; the tensor itself outside distributed training."""
    _, size = world()
    if size == 1:
        return x
    x = x.clone()
    dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x

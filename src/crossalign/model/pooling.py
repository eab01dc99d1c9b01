"""Sentence representations from token states: pure functions of ``(hidden, mask)``.

``hidden`` is ``(B, T, H)`` and ``mask`` is ``(B, T)`` with 1 on the tokens to pool over.
Both functions are correct for left and right padding because they look only at the mask,
never at positions. :func:`crossalign.masks.pooling_mask` builds the mask (the collator needs
it too, so it lives below both): by default it leaves out special tokens such as BOS.
"""

from __future__ import annotations

import torch

POOLING_METHODS = ("mean", "last")


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average of ``hidden`` over the masked tokens: (B, T, H), (B, T) -> (B, H)."""
    weights = mask.to(hidden.dtype).unsqueeze(-1)  # (B, T, 1)
    total = (hidden * weights).sum(dim=1)  # (B, H)
    count = weights.sum(dim=1).clamp(min=1.0)  # (B, 1)
    return total / count


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """Index of the last masked token of each row (B,), for left or right padding."""
    t = mask.shape[1]
    positions = torch.arange(t, device=mask.device).expand_as(mask)
    return torch.where(mask.bool(), positions, torch.full_like(positions, -1)).max(dim=1).values.clamp(min=0)


def last_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """State of the last masked token of each row: (B, T, H), (B, T) -> (B, H)."""
    idx = last_token_index(mask)  # (B,)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), idx]


def pool(hidden: torch.Tensor, mask: torch.Tensor, method: str = "mean") -> torch.Tensor:
    if method == "mean":
        return mean_pool(hidden, mask)
    if method == "last":
        return last_pool(hidden, mask)
    raise ValueError(f"unknown pooling {method!r}; choose from {list(POOLING_METHODS)}")

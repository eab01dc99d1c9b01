"""Sentence representations from token states: pure functions of ``(hidden, mask)``.

``hidden`` is ``(B, T, H)`` and ``mask`` is ``(B, T)`` with 1 on the tokens to pool over.
Both functions are correct for left and right padding because they look only at the mask,
never at positions. :func:`pooling_mask` builds the mask: by default it leaves out special
tokens such as BOS, whose state in Gemma is large and identical for every input (keeping
it costs 6-16 points of Tatoeba retrieval on Gemma-3-270M, see ``../shared/AFP.md``).
"""

from __future__ import annotations

import torch

POOLING_METHODS = ("mean", "last")


def pooling_mask(
    attention_mask: torch.Tensor,
    special_tokens_mask: torch.Tensor | None = None,
    include_special: bool = False,
) -> torch.Tensor:
    """``(B, T)`` mask of the tokens to pool: real tokens, minus special ones unless asked.

    A row whose only tokens are special (an empty sentence) keeps its special tokens, so
    every row pools over at least one token.
    """
    mask = attention_mask.bool()
    if include_special or special_tokens_mask is None:
        return mask.long()
    content = mask & ~special_tokens_mask.bool()
    empty = ~content.any(dim=1, keepdim=True)  # (B, 1)
    return torch.where(empty, mask, content).long()


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

"""Which tokens of a padded batch count: the tokens a sentence representation pools over, and the
label of a position the LM loss skips.

    mask = pooling_mask(enc["attention_mask"], enc["special_tokens_mask"])   # (B, T) long

Both the batches (:mod:`crossalign.data.collate`) and the model (:mod:`crossalign.model.encode`,
:mod:`crossalign.model.alignment`) need these, so they live below both. By default the pooling
mask leaves out special tokens such as BOS, whose state in Gemma is large and identical for
every input (keeping it costs 6-16 points of Tatoeba retrieval on Gemma-3-270M, see
``../shared/AFP.md``); the pooling itself is :func:`crossalign.model.pooling.pool`.
"""

from __future__ import annotations

import torch

IGNORE = -100  # label of a position without a target (the prompt, padding): the LM loss skips it


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

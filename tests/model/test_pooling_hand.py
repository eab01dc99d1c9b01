"""Acceptance 1: mean and last pooling against hand-computed answers, left and right padding."""

from __future__ import annotations

import torch

from crossalign.masks import pooling_mask
from crossalign.model.pooling import pool

# Two sequences, H = 2. Sequence A has 3 tokens [BOS, a1, a2], sequence B has 2 [BOS, b1].
BOS = [100.0, 100.0]
A = [BOS, [1.0, 2.0], [3.0, 6.0]]
B = [BOS, [5.0, -1.0]]
PAD = [7.0, 7.0]  # a padded position's state (must never count)


def batch(side: str):
    if side == "right":
        hidden = torch.tensor([A, [*B, PAD]])
        attn = torch.tensor([[1, 1, 1], [1, 1, 0]])
        special = torch.tensor([[1, 0, 0], [1, 0, 1]])
    else:
        hidden = torch.tensor([A, [PAD, *B]])
        attn = torch.tensor([[1, 1, 1], [0, 1, 1]])
        special = torch.tensor([[1, 0, 0], [1, 1, 0]])
    return hidden, attn, special


def test_mean_and_last_by_hand_both_paddings():
    for side in ("left", "right"):
        hidden, attn, special = batch(side)
        no_bos = pooling_mask(attn, special, include_special=False)
        with_bos = pooling_mask(attn, special, include_special=True)
        assert pool(hidden, no_bos, "mean").tolist() == [[2.0, 4.0], [5.0, -1.0]], side
        assert torch.allclose(
            pool(hidden, with_bos, "mean"), torch.tensor([[104 / 3, 36.0], [52.5, 49.5]])
        ), side
        assert pool(hidden, no_bos, "last").tolist() == [[3.0, 6.0], [5.0, -1.0]], side
        assert pool(hidden, with_bos, "last").tolist() == [[3.0, 6.0], [5.0, -1.0]], side


def test_only_special_tokens_keeps_them():
    hidden = torch.tensor([[BOS, PAD]])
    mask = pooling_mask(torch.tensor([[1, 0]]), torch.tensor([[1, 1]]), include_special=False)
    assert pool(hidden, mask, "mean").tolist() == [BOS]

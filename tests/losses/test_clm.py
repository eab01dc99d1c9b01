"""The fused chunked LM loss equals full-logits cross-entropy in value and gradients."""

from __future__ import annotations

import pytest
import torch

from crossalign.losses.clm import lm_loss, lm_loss_reference


@pytest.mark.parametrize("softcap,scale,bias", [(None, 1.0, False), (3.0, 1.0, False), (None, 0.5, True)])
@pytest.mark.parametrize("chunk", [1, 4, 100])
def test_matches_reference(softcap, scale, bias, chunk):
    torch.manual_seed(0)
    n, h, v = 11, 8, 37
    hid = torch.randn(n, h, dtype=torch.float64, requires_grad=True)
    w = torch.randn(v, h, dtype=torch.float64, requires_grad=True)
    b = torch.randn(v, dtype=torch.float64, requires_grad=True) if bias else None
    y = torch.randint(0, v, (n,))
    loss, count = lm_loss(hid, y, w, b, scale, softcap, chunk_size=chunk)
    ref, _ = lm_loss_reference(hid, y, w, b, scale, softcap)
    assert count == n
    assert torch.allclose(loss.double(), ref.double(), rtol=1e-6)
    inputs = (hid, w) + ((b,) if bias else ())
    got = torch.autograd.grad(loss * 2.0, inputs)  # a non-unit upstream gradient
    want = torch.autograd.grad(ref * 2.0, inputs)
    for g, r in zip(got, want, strict=True):
        assert torch.allclose(g, r, rtol=1e-4, atol=1e-5)


def test_frozen_weight_and_empty():
    hid = torch.randn(3, 4, requires_grad=True)
    w = torch.randn(9, 4)  # frozen head: no weight gradient is computed
    loss, _ = lm_loss(hid, torch.tensor([1, 2, 3]), w, chunk_size=2)
    (g,) = torch.autograd.grad(loss, hid)
    ref, _ = lm_loss_reference(hid, torch.tensor([1, 2, 3]), w)
    assert torch.allclose(g, torch.autograd.grad(ref, hid)[0], atol=1e-5)
    loss, n = lm_loss(hid[:0], torch.tensor([], dtype=torch.long), w)
    assert n == 0 and loss.item() == 0.0
    with pytest.raises(ValueError, match="targets"):
        lm_loss(hid, torch.tensor([1]), w)

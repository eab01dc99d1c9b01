"""The fused chunked LM loss equals full-logits cross-entropy in value and gradients."""

from __future__ import annotations

import pytest
import torch

from crossalign.losses.clm import lm_loss, lm_loss_reference
from crossalign.testing import assert_close


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
    assert_close(loss, ref, rtol=1e-6)
    inputs = (hid, w) + ((b,) if bias else ())
    got = torch.autograd.grad(loss * 2.0, inputs)  # a non-unit upstream gradient
    want = torch.autograd.grad(ref * 2.0, inputs)
    for g, r in zip(got, want, strict=True):
        assert_close(g, r)


def test_frozen_weight_and_empty():
    hid = torch.randn(3, 4, requires_grad=True)
    w = torch.randn(9, 4)  # frozen head: no weight gradient is computed
    loss, _ = lm_loss(hid, torch.tensor([1, 2, 3]), w, chunk_size=2)
    (g,) = torch.autograd.grad(loss, hid)
    ref, _ = lm_loss_reference(hid, torch.tensor([1, 2, 3]), w)
    assert_close(g, torch.autograd.grad(ref, hid)[0])
    loss, n = lm_loss(hid[:0], torch.tensor([], dtype=torch.long), w)
    assert n == 0 and loss.item() == 0.0
    with pytest.raises(ValueError, match="targets"):
        lm_loss(hid, torch.tensor([1]), w)


@pytest.mark.parametrize("group_elements", [1, 80, 10**9])
@pytest.mark.parametrize("softcap,scale,bias", [(None, 1.0, False), (3.0, 0.5, True)])
def test_row_groups_match_reference(monkeypatch, group_elements, softcap, scale, bias):
    """The element-wise steps run over groups of rows (one row, two rows, the whole chunk):
    the loss and every gradient stay those of full-logits cross-entropy."""
    import crossalign.losses.clm as clm

    monkeypatch.setattr(clm, "_GROUP_ELEMENTS", group_elements)  # V = 37: groups of 1, 2, all rows
    torch.manual_seed(1)
    n, h, v = 9, 6, 37
    hid = torch.randn(n, h, dtype=torch.float64, requires_grad=True)
    w = torch.randn(v, h, dtype=torch.float64, requires_grad=True)
    b = torch.randn(v, dtype=torch.float64, requires_grad=True) if bias else None
    y = torch.randint(0, v, (n,))
    y[0] = y[1]  # a target shared by two rows of one group
    loss, _ = lm_loss(hid, y, w, b, scale, softcap, chunk_size=4)
    ref, _ = lm_loss_reference(hid, y, w, b, scale, softcap)
    assert_close(loss, ref, rtol=1e-6)  # both take float32 logits
    inputs = (hid, w) + ((b,) if bias else ())
    for g, r in zip(torch.autograd.grad(loss * 0.3, inputs), torch.autograd.grad(ref * 0.3, inputs), strict=True):
        assert_close(g, r)


def test_float32_large_vocab_matches_float64():
    """Gemma-like float32 case (cap 30, one chunk and several): close to a float64 reference."""
    torch.manual_seed(2)
    n, h, v = 7, 16, 5000
    hid = torch.randn(n, h) * 3
    w = torch.randn(v, h)
    y = torch.randint(0, v, (n,))
    ref_in = (hid.double().requires_grad_(), w.double().requires_grad_())
    ref, _ = lm_loss_reference(*ref_in[:1], y, ref_in[1], softcap=30.0)
    want = torch.autograd.grad(ref, ref_in)
    for chunk in (3, 1024):
        ins = (hid.clone().requires_grad_(), w.clone().requires_grad_())
        loss, _ = lm_loss(ins[0], y, ins[1], softcap=30.0, chunk_size=chunk)
        assert loss.dtype == torch.float32
        assert abs(loss.item() - ref.item()) < 1e-4 * abs(ref.item())
        for g, r in zip(torch.autograd.grad(loss, ins), want, strict=True):
            assert g.dtype == torch.float32
            assert_close(g, r, rtol=1e-4)


def test_weight_gradient_accumulates_into_an_existing_grad():
    """A tied head: the weight's gradient from the loss adds to the one already there."""
    torch.manual_seed(3)
    hid = torch.randn(5, 4, requires_grad=True)
    w = torch.randn(11, 4, requires_grad=True)
    y = torch.tensor([0, 3, 3, 10, 7])
    w.grad = torch.ones_like(w)
    loss, _ = lm_loss(hid, y, w, chunk_size=2)
    loss.backward()
    ref, _ = lm_loss_reference(hid, y, w)
    (g,) = torch.autograd.grad(ref, w)
    assert_close(w.grad, g + 1.0)


def test_second_backward_is_refused():
    hid = torch.randn(3, 4, requires_grad=True)
    w = torch.randn(9, 4, requires_grad=True)
    loss, _ = lm_loss(hid, torch.tensor([1, 2, 3]), w)
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="one backward"):
        loss.backward()

"""InfoNCE against a naive per-pair reference (acceptance 2)."""

from __future__ import annotations

import math

import pytest
import torch

from crossalign.losses.infonce import info_nce
from crossalign.testing import assert_close


def naive(anchors, candidates, tau, symmetric):
    """Loops over pairs: -log(exp(cos(a_i,c_i)/tau) / sum_j exp(cos(a_i,c_j)/tau))."""
    b = anchors.shape[0]

    def cos(x, y):
        return (x @ y) / (x.norm() * y.norm())

    total = 0.0
    for i in range(b):
        fwd = [cos(anchors[i], candidates[j]) / tau for j in range(candidates.shape[0])]
        loss = -(fwd[i] - torch.logsumexp(torch.stack(fwd), 0))
        if symmetric:
            rev = [cos(candidates[i], anchors[j]) / tau for j in range(b)]
            loss = (loss - (rev[i] - torch.logsumexp(torch.stack(rev), 0))) / 2
        total = total + loss
    return total


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("hard", [0, 3])
def test_info_nce_matches_naive_value_and_gradients(symmetric, hard):
    torch.manual_seed(0)
    a = torch.randn(5, 8, dtype=torch.float64, requires_grad=True)
    c = torch.randn(5 + hard, 8, dtype=torch.float64, requires_grad=True)
    loss, n, _ = info_nce(a, c, temperature=0.05, symmetric=symmetric)
    ref = naive(a, c, 0.05, symmetric)
    assert n == 5
    assert_close(loss, ref, rtol=1e-6, scale=1 / 0.05)  # float32 inside, on logits of size 1 / temperature
    ga, gc = torch.autograd.grad(loss, (a, c))
    ra, rc = torch.autograd.grad(ref, (a, c))
    assert_close(ga, ra, what="anchors")
    assert_close(gc, rc, what="candidates")


def test_accuracy_counts_top1_and_perfect_pairs_give_low_loss():
    a = torch.eye(4)
    c = torch.eye(4)
    c_wrong = c[[1, 0, 2, 3]]
    loss, n, correct = info_nce(a, c, temperature=0.05)
    assert int(correct) == 4 and loss.item() / n < 1e-6
    _, _, correct = info_nce(a, c_wrong, temperature=0.05)
    assert int(correct) == 2
    # orthogonal candidates at tau = 1: every logit 0 except the positive's 1
    loss, n, _ = info_nce(a, c, temperature=1.0)
    assert math.isclose(loss.item() / n, -1 + math.log(math.e + 3), rel_tol=1e-6)


def test_bad_inputs():
    with pytest.raises(ValueError, match="candidates"):
        info_nce(torch.randn(3, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match="temperature"):
        info_nce(torch.randn(3, 4), torch.randn(3, 4), temperature=0)
    loss, n, _ = info_nce(torch.zeros(0, 4, requires_grad=True), torch.zeros(0, 4))
    assert n == 0 and loss.item() == 0.0


@pytest.mark.parametrize("symmetric", [False, True])
def test_centered_info_nce_matches_naive_on_centred_rows_and_ignores_a_shared_direction(symmetric):
    torch.manual_seed(1)
    a = torch.randn(6, 8, dtype=torch.float64)
    # candidates: noisy copies of the anchors (translations), then 2 hard negatives
    c = torch.cat([a + 0.1 * torch.randn(6, 8, dtype=torch.float64), torch.randn(2, 8, dtype=torch.float64)])
    a.requires_grad_(True)
    c.requires_grad_(True)
    loss, n, _ = info_nce(a, c, temperature=0.05, symmetric=symmetric, center=True)
    mean = torch.cat([a, c]).mean(0)  # every row, anchors and candidates together
    ref = naive(a - mean, c - mean, 0.05, symmetric)
    assert n == 6
    assert_close(loss, ref, rtol=1e-6, scale=1 / 0.05)  # float32 inside, on logits of size 1 / temperature
    ga, gc = torch.autograd.grad(loss, (a, c))  # the mean is part of the graph
    ra, rc = torch.autograd.grad(ref, (a, c))
    assert_close(ga, ra, what="anchors")
    assert_close(gc, rc, what="candidates")

    # A huge channel shared by every sentence (a massive activation) puts every cosine near 1:
    # the plain loss goes flat at log(candidates); the centred one does not see it.
    shared = torch.zeros(8, dtype=torch.float64)
    shared[3] = 1e4
    with torch.no_grad():
        plain, _, _ = info_nce(a + shared, c + shared, temperature=0.05, symmetric=symmetric)
        centred, _, _ = info_nce(a + shared, c + shared, temperature=0.05, symmetric=symmetric, center=True)
        base, _, _ = info_nce(a, c, temperature=0.05, symmetric=symmetric, center=True)
    assert math.isclose(centred.item(), base.item(), rel_tol=1e-4)  # float32 inside
    assert abs(plain.item() / n - math.log(8 if not symmetric else math.sqrt(8 * 6))) < 0.05
    assert centred.item() / n < plain.item() / n - 0.5

"""Causal-LM loss at supervised positions only, without materialising full logits.

    loss_sum, n_tokens = lm_loss(hidden, targets, weight, softcap=30.0, chunk_size=1024)

``hidden`` (N, H) are the final hidden states at the N positions whose *next* token is a
response token, ``targets`` (N,) those next tokens, and ``weight`` (V, H) the output layer
(with an optional ``bias`` (V,)). Logits are ``softcap * tanh(z / softcap)`` when the model
caps them (Gemma-2/3 ``final_logit_softcapping``), with ``z = scale * (hidden @ weight.T +
bias)``. For a 262k vocabulary the (N, V) float32 logits of a batch would be the largest
tensor of the step, so the loss runs over chunks of ``chunk_size`` positions and computes
each chunk's gradient during the forward (as Liger's fused linear cross-entropy does): the
peak extra memory is one (chunk, V) block, and the head's matmul runs once forward and
twice for the gradient, never again in the backward. Returns the summed loss and the count
so that normalisation per response token across micro-batches and ranks stays explicit.
"""

from __future__ import annotations

import torch
from torch.utils.checkpoint import checkpoint


def _chunk_logits(h, weight, bias, scale, softcap):
    """(n, H) -> (n, V) float32 logits and the tanh (or None) needed by the gradient."""
    z = h @ weight.T  # (n, V) in the weights' dtype
    if bias is not None:
        z = z + bias
    z = z.float()
    if scale != 1.0:
        z = z * scale
    if softcap is None:
        return z, None
    t = torch.tanh(z / softcap)
    return softcap * t, t


# Rows of logits processed together by the element-wise steps: about 1 MiB of float32, so
# that the chain of in-place operations on a row group runs in cache instead of streaming a
# (chunk, V) block through memory once per operation.
_GROUP_ELEMENTS = 1 << 18


def _loss_and_logit_grad(z, targets, scale, softcap, need_grad):
    """Summed NLL of the (n, V) float32 pre-scale logits ``z``; with ``need_grad``, ``z`` is
    overwritten in place by d(loss)/dz (softmax minus one-hot, through the cap and the scale)."""
    n, vocab = z.shape
    total = z.new_zeros(())
    group = max(1, _GROUP_ELEMENTS // vocab)
    for start in range(0, n, group):
        blk = z[start : start + group]  # (r, V), a view: every step below writes into z
        y = targets[start : start + group, None]  # (r, 1)
        if scale != 1.0:
            blk.mul_(scale)
        if softcap is not None:
            blk.div_(softcap).tanh_().mul_(softcap)
        lse = torch.logsumexp(blk, dim=-1, keepdim=True)  # (r, 1)
        logit_y = blk.gather(1, y)  # (r, 1)
        total += (lse - logit_y).sum()
        if not need_grad:
            continue
        # d logit / dz = scale * (1 - tanh^2) with tanh = logit / softcap
        deriv = None if softcap is None else torch.square(blk / softcap).neg_().add_(1.0)
        blk.sub_(lse).exp_()  # softmax
        onehot = torch.ones_like(logit_y)
        if deriv is not None:
            blk.mul_(deriv)
            onehot = onehot.sub_(torch.square(logit_y / softcap))
        if scale != 1.0:
            blk.mul_(scale)
            onehot *= scale
        blk.scatter_add_(1, y, -onehot)
    return total


class _FusedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, scale, softcap, chunk_size):
        need_h, need_w, need_b = ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        need_b = need_b and bias is not None
        need_grad = need_h or need_w or need_b
        grad_h = torch.empty_like(hidden) if need_h else None
        grad_w = grad_b = None  # float32, created by the first chunk's product (no zero fill)
        total = hidden.new_zeros((), dtype=torch.float32)
        for start in range(0, hidden.shape[0], chunk_size):
            h = hidden[start : start + chunk_size]  # (n, H)
            z = h @ weight.T  # (n, V) in the weights' dtype
            if bias is not None:
                z += bias
            z = z.float()  # no copy for float32 weights
            total += _loss_and_logit_grad(z, targets[start : start + chunk_size], scale, softcap, need_grad)
            if not need_grad:
                continue
            g = z  # (n, V) gradient w.r.t. the head's output, computed in place
            if need_h:
                grad_h[start : start + chunk_size] = (g.to(weight.dtype) @ weight).to(hidden.dtype)
            if need_w:
                hf = h.float()
                if grad_w is None:
                    grad_w = (g.T @ hf).float()  # (V, H)
                elif torch.is_autocast_enabled(g.device.type):
                    grad_w += g.T @ hf
                else:
                    grad_w.addmm_(g.T, hf)  # accumulate without a (V, H) temporary
            if need_b:
                part = g.sum(dim=0)
                grad_b = part if grad_b is None else grad_b.add_(part)
            del g, z
        # Kept as attributes, not saved tensors: backward scales them in place and returns them,
        # so no second (V, H) buffer is allocated.
        ctx.grads = (grad_h, grad_w, grad_b)
        ctx.dtypes = (weight.dtype, None if bias is None else bias.dtype)
        return total

    @staticmethod
    def backward(ctx, grad_out):
        if ctx.grads is None:
            raise RuntimeError("the fused LM loss supports one backward per forward (no retain_graph)")
        grad_h, grad_w, grad_b = ctx.grads
        ctx.grads = None  # the returned tensors become the only references
        w_dtype, b_dtype = ctx.dtypes
        scaled = []
        for g, dtype in ((grad_h, None), (grad_w, w_dtype), (grad_b, b_dtype)):
            if g is not None:
                g = g.mul_(grad_out.to(g.dtype))
                if dtype is not None:
                    g = g.to(dtype)
            scaled.append(g)
        return (*scaled, None, None, None, None)


def lm_loss(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    scale: float = 1.0,
    softcap: float | None = None,
    chunk_size: int = 1024,
) -> tuple[torch.Tensor, int]:
    """``(sum over the N positions of -log p(target), N)``; see the module docstring."""
    if hidden.shape[0] != targets.shape[0]:
        raise ValueError(f"{hidden.shape[0]} hidden states for {targets.shape[0]} targets")
    n = int(targets.shape[0])
    if n == 0:
        return hidden.sum() * 0.0, 0
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    loss = _FusedLinearCrossEntropy.apply(
        hidden, weight, bias, targets, float(scale), softcap, int(chunk_size)
    )
    return loss, n


def lm_loss_reference(hidden, targets, weight, bias=None, scale=1.0, softcap=None):
    """Naive full-logits version of :func:`lm_loss`, for tests and benchmarks."""
    logits, _ = _chunk_logits(hidden, weight, bias, scale, softcap)
    return torch.nn.functional.cross_entropy(logits, targets, reduction="sum"), int(targets.shape[0])


def lm_loss_checkpointed(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    project,
    chunk_size: int = 1024,
) -> tuple[torch.Tensor, int]:
    """:func:`lm_loss` through a projection *function* ``project((n, H)) -> (n, V) float32 logits``.

    For sharded training (DeepSpeed ZeRO-3, FSDP) the output layer's weight is only whole
    inside its module's forward, so the head must be called as a module. Each chunk runs
    under activation checkpointing: its (chunk, V) logits are freed after the forward and
    recomputed in the backward, so memory stays at one block (one extra head matmul per
    chunk compared with the fused path).
    """
    n = int(targets.shape[0])
    if n == 0:
        return hidden.sum() * 0.0, 0

    def chunk_sum(h, y):
        return torch.nn.functional.cross_entropy(project(h), y, reduction="sum")

    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, n, chunk_size):
        total = total + checkpoint(
            chunk_sum,
            hidden[start : start + chunk_size],
            targets[start : start + chunk_size],
            use_reentrant=False,
        )
    return total, n

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


class _FusedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, scale, softcap, chunk_size):
        need_h, need_w, need_b = ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        grad_h = torch.zeros_like(hidden) if need_h else None
        grad_w = torch.zeros_like(weight, dtype=torch.float32) if need_w else None
        grad_b = torch.zeros_like(bias, dtype=torch.float32) if (need_b and bias is not None) else None
        total = hidden.new_zeros((), dtype=torch.float32)
        for start in range(0, hidden.shape[0], chunk_size):
            h = hidden[start : start + chunk_size]  # (n, H)
            y = targets[start : start + chunk_size]  # (n,)
            logits, t = _chunk_logits(h, weight, bias, scale, softcap)  # (n, V)
            lse = torch.logsumexp(logits, dim=-1)  # (n,)
            total += (lse - logits.gather(1, y[:, None]).squeeze(1)).sum()
            if not (need_h or need_w or need_b):
                continue
            # d(lse - logit_y)/d logits = softmax - onehot; chain through the cap and the scale.
            g = logits.sub_(lse[:, None]).exp_()  # (n, V) softmax, in place: one block per chunk
            g[torch.arange(y.shape[0], device=y.device), y] -= 1.0
            if t is not None:
                g *= 1.0 - t * t
                del t
            if scale != 1.0:
                g *= scale
            if need_h:
                grad_h[start : start + chunk_size] = (g.to(weight.dtype) @ weight).to(hidden.dtype)
            if need_w:
                grad_w += g.T @ h.float()  # (V, H)
            if grad_b is not None:
                grad_b += g.sum(dim=0)
        ctx.save_for_backward(grad_h, grad_w, grad_b)
        ctx.dtypes = (weight.dtype, None if bias is None else bias.dtype)
        return total

    @staticmethod
    def backward(ctx, grad_out):
        grad_h, grad_w, grad_b = ctx.saved_tensors
        w_dtype, b_dtype = ctx.dtypes
        return (
            None if grad_h is None else grad_h * grad_out.to(grad_h.dtype),
            None if grad_w is None else (grad_w * grad_out).to(w_dtype),
            None if grad_b is None else (grad_b * grad_out).to(b_dtype),
            None,
            None,
            None,
            None,
        )


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
    from torch.utils.checkpoint import checkpoint

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

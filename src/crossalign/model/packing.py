"""Padding-free packing of instruction samples into one row, with attention kept per sample.

    mode = packing_mode(model)                                  # checked on the model itself
    kwargs = packed_model_inputs(input_ids, lengths, mode, dtype)  # model(**kwargs, use_cache=False)

A batch of samples of lengths ``L_1..L_n`` becomes one row of ``sum(L_i)`` tokens whose
position ids restart at 0 for every sample. Attention must not cross samples; how a
model is told so depends on its attention code, so :func:`packing_mode` asks the model:

- ``"position_ids"``: no attention mask, restarting position ids. transformers' mask
  utilities then build a block-diagonal causal mask (sliding windows included), and
  FlashAttention uses its variable-length kernel. Llama, Gemma, GPT-2 and most recent
  models take this path. ``use_cache=False`` is required: with a KV cache transformers
  does not look for packed position ids and the samples attend to each other.
- ``"mask4d"``: an explicit (1, 1, T, T) additive block-diagonal causal mask plus the
  position ids, for models that take a custom 4D mask but do not read packing from the
  position ids (XGLM). Never chosen for a model with sliding-window layers, whose window a
  hand-made mask would drop.
- ``"padding"``: the model can do neither (BLOOM builds ALiBi from a 2D mask), so batches
  are padded instead. Nothing leaks; the caller is told why.

The choice is verified, not assumed: two short random samples packed together must give
the logits they give alone. The row itself (tokens concatenated, with their lengths) is laid
out by the collator, :class:`crossalign.data.collate.AlignmentCollator`, which needs no model.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from crossalign.model.layers import backbone, text_config

log = logging.getLogger(__name__)

PACKING_MODES = ("position_ids", "mask4d", "padding")


def packed_positions(lengths: list[int], device=None) -> torch.Tensor:
    """(1, sum L) position ids restarting at 0 for every sample."""
    return torch.cat([torch.arange(n, device=device) for n in lengths]).unsqueeze(0)


def block_causal_mask(lengths: list[int], dtype: torch.dtype, device=None) -> torch.Tensor:
    """(1, 1, T, T) additive mask: 0 where query t may see key s (same sample, s <= t), else -inf-ish."""
    seq = torch.repeat_interleave(
        torch.arange(len(lengths), device=device), torch.tensor(lengths, device=device)
    )
    t = seq.shape[0]
    causal = torch.ones(t, t, dtype=torch.bool, device=device).tril()
    allowed = causal & (seq[:, None] == seq[None, :])  # (T, T)
    mask = torch.zeros(t, t, dtype=dtype, device=device)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[None, None]


def packed_model_inputs(input_ids: torch.Tensor, lengths: list[int], mode: str, dtype: torch.dtype) -> dict:
    """Keyword arguments for ``model(...)`` on a packed (1, T) row in the given mode."""
    positions = packed_positions(lengths, device=input_ids.device)
    if mode == "position_ids":
        return {"input_ids": input_ids, "position_ids": positions}
    if mode == "mask4d":
        return {
            "input_ids": input_ids,
            "position_ids": positions,
            "attention_mask": block_causal_mask(lengths, dtype, device=input_ids.device),
        }
    raise ValueError(f"unknown packing mode {mode!r}; choose from {list(PACKING_MODES[:2])}")


def _has_sliding_window(model: nn.Module) -> bool:
    cfg = text_config(model)
    types = getattr(cfg, "layer_types", None) or []
    return any("sliding" in str(t) for t in types) or bool(getattr(cfg, "sliding_window", None) and not types)


@torch.no_grad()
def packing_mode(model: nn.Module, vocab_size: int | None = None, atol: float = 1e-4) -> str:
    """The first of ``position_ids``, ``mask4d`` that gives packed logits equal to unpacked ones,
    else ``padding``. Runs the model in eval mode on two random samples of 11 and 13 tokens."""
    vocab = vocab_size or int(text_config(model).vocab_size)
    gen = torch.Generator().manual_seed(0)
    lengths = [11, 13]
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    samples = [torch.randint(3, vocab, (1, n), generator=gen).to(device) for n in lengths]
    body = backbone(model)
    was_training = model.training
    model.eval()
    try:
        alone = torch.cat([body(input_ids=s, use_cache=False).last_hidden_state for s in samples], dim=1)
        packed_ids = torch.cat(samples, dim=1)
        candidates = ["position_ids"] + ([] if _has_sliding_window(model) else ["mask4d"])
        for mode in candidates:
            try:
                out = body(
                    **packed_model_inputs(packed_ids, lengths, mode, dtype), use_cache=False
                ).last_hidden_state
            except Exception as exc:  # a model that rejects the inputs simply cannot pack this way
                log.debug("packing mode %s failed: %s", mode, exc)
                continue
            err = (out.float() - alone.float()).abs().max().item()
            if err <= atol * max(1.0, alone.abs().max().item()):
                return mode
    finally:
        model.train(was_training)
    return "padding"

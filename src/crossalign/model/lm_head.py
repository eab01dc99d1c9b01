"""The model's output layer as plain tensors, so the LM loss and the scorer apply it only where needed.

    head = output_head(model)            # weight (V, H), bias, scale, softcap
    logits = head_logits(head, hidden)   # equals model(...).logits at those positions
    logits = finish_logits(output_layer(model)(hidden), head)  # the same through the layer module

Models differ in what they do after the output projection: Gemma-2/3 cap the logits
(``final_logit_softcapping``), Cohere multiplies them (``logit_scale``), Granite divides them
(``logits_scaling``). :func:`output_head` reads those config attributes and
:func:`finish_logits` applies them; tied input/output embeddings need nothing special because
the head's weight *is* the embedding matrix. :func:`check_output_head` compares against the
model's own forward on a short input and raises for an architecture whose head does something
else, instead of training on a wrong loss. The training loss (:mod:`crossalign.model.alignment`)
and the ICL scorer (:mod:`crossalign.eval.scoring`) both take the head from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from crossalign.model.layers import backbone, text_config, unwrap_peft


@dataclass
class OutputHead:
    """What the model does from the final hidden state to its logits (see :func:`head_logits`)."""

    weight: torch.Tensor  # (V, H)
    bias: torch.Tensor | None = None  # (V,)
    scale: float = 1.0
    softcap: float | None = None


def output_layer(model: nn.Module) -> nn.Module:
    """The output projection module (V, H) of ``model``, through a PEFT wrapper."""
    lm = unwrap_peft(model)
    head = lm.get_output_embeddings()
    if head is None or not hasattr(head, "weight"):
        raise ValueError(f"{type(lm).__name__} has no output embedding layer with a weight")
    return head


def output_head(model: nn.Module) -> OutputHead:
    """The output layer of ``model`` as tensors, with the scale and soft-cap its config sets. A
    LoRA-adapted output layer is refused: its weight alone is not what the forward applies."""
    lm = unwrap_peft(model)
    head = output_layer(lm)
    if hasattr(head, "base_layer") or hasattr(head, "lora_A"):
        raise ValueError("LoRA on the output layer is not supported: remove lm_head from lora.target_modules")
    cfg = text_config(lm)
    scale = 1.0
    if getattr(cfg, "logit_scale", None) is not None:
        scale *= float(cfg.logit_scale)
    if getattr(cfg, "logits_scaling", None) is not None:
        scale /= float(cfg.logits_scaling)
    softcap = getattr(cfg, "final_logit_softcapping", None)
    return OutputHead(
        head.weight, getattr(head, "bias", None), scale, None if softcap is None else float(softcap)
    )


def finish_logits(z: torch.Tensor, head: OutputHead) -> torch.Tensor:
    """(..., V) output of the projection -> (..., V) float32 logits: the model's scale, then its soft-cap."""
    z = z.float() * head.scale
    if head.softcap is not None:
        z = head.softcap * torch.tanh(z / head.softcap)
    return z


def head_logits(head: OutputHead, hidden: torch.Tensor) -> torch.Tensor:
    """(..., H) -> (..., V) float32 logits exactly as the model's forward computes them."""
    z = hidden @ head.weight.T
    if head.bias is not None:
        z = z + head.bias
    return finish_logits(z, head)


@torch.no_grad()
def check_output_head(model: nn.Module, input_ids: torch.Tensor, atol: float = 1e-3) -> None:
    """Raise if :func:`head_logits` on the backbone's output differs from ``model(...).logits``."""
    was_training = model.training
    model.eval()
    try:
        ref = model(input_ids=input_ids, use_cache=False).logits.float()  # (B, T, V)
        hidden = backbone(model)(input_ids=input_ids, use_cache=False).last_hidden_state
        ours = head_logits(output_head(model), hidden)
    finally:
        model.train(was_training)
    err = (ours - ref).abs().max().item()
    tol = atol * max(1.0, ref.abs().max().item())
    if err > tol:
        raise ValueError(
            f"the output layer of {type(unwrap_peft(model)).__name__} does something crossalign cannot reproduce "
            f"(max logit difference {err:.3g}); its LM loss would be wrong. Please report this architecture."
        )

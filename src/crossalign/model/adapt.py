"""Preparing a loaded causal LM for training: LoRA adapters, frozen embeddings, gradient
checkpointing. Each is a plain function of the model; none is architecture-specific.

    lm = add_lora(lm, r=16, alpha=32, target_modules=["all-linear"])
    freeze_embeddings(lm)
    enable_gradient_checkpointing(lm)
"""

from __future__ import annotations

from torch import nn

from crossalign.model.layers import unwrap_peft


def add_lora(
    model: nn.Module,
    r: int = 16,
    alpha: int = 32,
    dropout: float = 0.0,
    target_modules: list[str] | None = None,
) -> nn.Module:
    """Wrap ``model`` in a PEFT LoRA model; only the adapters are trainable.

    ``["all-linear"]`` adapts every linear layer except the output layer. The output layer
    cannot be a target: the LM loss applies its weight directly.
    """
    # Here, not at the top: peft takes ~2 s to import even after torch and transformers (measured),
    # and only LoRA runs need it; `crossalign train --help` must not pay for it.
    from peft import LoraConfig, get_peft_model

    targets = target_modules or ["all-linear"]
    if any(t in ("lm_head", "embed_out", "output") for t in targets):
        raise ValueError("lora.target_modules must not include the output layer (lm_head)")
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        task_type="CAUSAL_LM",
        target_modules="all-linear" if targets == ["all-linear"] else list(targets),
    )
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        names = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, nn.Linear)})
        raise ValueError(f"LoRA: {exc}; linear layers of this model: {names}") from None


def freeze_embeddings(model: nn.Module) -> None:
    """Stop training the input embedding matrix (and an output layer tied to it)."""
    base = unwrap_peft(model)
    base.get_input_embeddings().weight.requires_grad_(False)


def enable_gradient_checkpointing(model: nn.Module) -> None:
    """Non-reentrant checkpointing, which works with frozen inputs, LoRA and early exit."""
    base = unwrap_peft(model)
    if not getattr(base, "supports_gradient_checkpointing", False):
        raise ValueError(f"{type(base).__name__} does not support gradient checkpointing")
    kwargs = {"use_reentrant": False}
    if hasattr(base, "activation_checkpointing_enable"):  # transformers >= 5.x name
        base.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    base.config.use_cache = False


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts (shared tensors counted once)."""
    seen, trainable, total = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return trainable, total

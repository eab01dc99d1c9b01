"""Hidden states at chosen layers of any decoder-only model, stopping at the highest one.

``hidden_states[L]`` follows the transformers convention: index 0 is the embedding output
(the input of the first decoder block) and index ``n`` is the output of the last block
after the final norm. For ``L < n`` the state is exactly the input of decoder block ``L``,
so a forward pre-hook on that block captures it and then stops the forward by raising
:class:`_StopForward`: the layers above ``L``, the final norm and the LM head are never
run. This is one code path for every architecture (Llama, Gemma, XGLM, GPT-2, BLOOM...):
it needs only the model's list of decoder blocks, found by :func:`decoder_layers`.
"""

from __future__ import annotations

import torch
from torch import nn


class _StopForward(Exception):
    """Raised inside a hook once every requested state is captured."""


def unwrap_peft(model: nn.Module) -> nn.Module:
    """The transformers model inside a PEFT wrapper (its adapter layers stay injected), or ``model``."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def text_config(model: nn.Module):
    config = model.config
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def num_layers(model: nn.Module) -> int:
    return int(text_config(model).num_hidden_layers)


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The model's list of decoder blocks (works through PEFT wrappers)."""
    n = num_layers(model)
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == n and "vision" not in name:
            return module
    raise ValueError(f"could not find the {n} decoder layers of {type(model).__name__}")


def backbone(model: nn.Module) -> nn.Module:
    """The transformer without its LM head (through a PEFT wrapper, whose layers stay injected)."""
    model = unwrap_peft(model)
    return getattr(model, "base_model", model)


def resolve_layer(layer: int | str, n_layers: int) -> int:
    """Map a layer spec to an index in ``0..n_layers``.

    ``0`` is the embedding output, ``n_layers`` the last block's output; negative indices
    count from the top (``-1`` = ``n_layers``); ``"middle"`` is ``n_layers // 2``.
    """
    if isinstance(layer, str):
        if layer == "middle":
            return n_layers // 2
        try:
            layer = int(layer)
        except ValueError:
            raise ValueError(
                f"layer {layer!r} is not an integer, 'middle' or 'auto'; valid integers are "
                f"{-(n_layers + 1)}..{n_layers}"
            ) from None
    idx = layer + n_layers + 1 if layer < 0 else layer
    if not 0 <= idx <= n_layers:
        raise ValueError(
            f"layer {layer} does not exist: the model has {n_layers} layers, so valid layers are "
            f"0..{n_layers} (0 = embedding output) or {-(n_layers + 1)}..-1 counted from the top"
        )
    return idx


def hidden_states_at(
    model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    layers: list[int],
    position_ids: torch.Tensor | None = None,
) -> dict[int, torch.Tensor]:
    """``{layer: (B, T, H)}`` for resolved ``layers``, running only the blocks below the highest.

    Gradients flow through the returned tensors when grad is enabled. ``position_ids`` (and a
    4D ``attention_mask``) pass through to the model, for packed rows
    (:func:`crossalign.model.packing.packed_model_inputs`).
    """
    n = num_layers(model)
    wanted = sorted(set(layers))
    if not wanted:
        raise ValueError("no layers requested")
    for idx in wanted:
        if not 0 <= idx <= n:
            raise ValueError(f"layer {idx} is out of range 0..{n}")
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if position_ids is not None:
        inputs["position_ids"] = position_ids
    if wanted[-1] == n:
        # The top state includes the final norm: that needs the full forward (minus LM head
        # when the model exposes its base, which transformers models do).
        out = backbone(model)(**inputs, output_hidden_states=True, use_cache=False)
        return {idx: out.hidden_states[idx] for idx in wanted}

    blocks = decoder_layers(model)
    captured: dict[int, torch.Tensor] = {}
    top = wanted[-1]

    def make_hook(idx: int):
        def hook(module, args, kwargs):
            captured[idx] = args[0] if args else kwargs["hidden_states"]
            if idx == top:
                raise _StopForward

        return hook

    # prepend: run before any hook a sharding wrapper (FSDP, ZeRO-3) put on the block, so the
    # forward stops before that block's weights are gathered.
    handles = [
        blocks[idx].register_forward_pre_hook(make_hook(idx), with_kwargs=True, prepend=True)
        for idx in wanted
    ]
    try:
        model(**inputs, use_cache=False)
    except _StopForward:
        pass
    finally:
        for h in handles:
            h.remove()
    missing = [i for i in wanted if i not in captured]
    if missing:
        raise RuntimeError(f"layers {missing} were not reached in the forward of {type(model).__name__}")
    return captured

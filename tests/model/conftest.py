"""Fixtures for the model-loading tests: tiny checkpoints on disk (safetensors, pickle only, and a
fake Hugging Face hub cache) and a guard that fails any test that reaches for the hub."""

from __future__ import annotations

from pathlib import Path

import pytest

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def save_tiny_llama(folder: Path, pickle_only: bool = False) -> Path:
    """A tiny random Llama and its tokenizer saved like ``save_pretrained`` does (safetensors);
    with ``pickle_only`` the weights are rewritten as ``pytorch_model.bin`` (a pickle) instead."""
    import torch
    from safetensors.torch import load_file

    from crossalign.testing import tiny_model, tiny_tokenizer

    tok = tiny_tokenizer()
    tiny_model("llama", tok, layers=2).save_pretrained(folder)
    tok.save_pretrained(folder)
    if pickle_only:
        weights = folder / "model.safetensors"
        torch.save(load_file(weights), folder / "pytorch_model.bin")
        weights.unlink()
    return folder


@pytest.fixture(scope="session")
def tiny_folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {"safe": save_tiny_llama(root / "safe"), "pickle": save_tiny_llama(root / "pickle", pickle_only=True)}


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """``HF_HUB_OFFLINE=1`` with an empty hub cache in tmp_path; ``add(repo_id, folder)`` puts a
    checkpoint folder into that cache as the snapshot of ``main``, the way a download leaves it."""
    import shutil

    from huggingface_hub import constants

    cache = tmp_path / "hub-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))

    def add(repo_id: str, folder: Path) -> str:
        repo = cache / f"models--{repo_id.replace('/', '--')}"
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(COMMIT)
        shutil.copytree(folder, repo / "snapshots" / COMMIT)
        return repo_id

    return add


@pytest.fixture
def no_hub(monkeypatch):
    """Any metadata request to the hub (what every download starts with) fails the test."""
    import huggingface_hub.file_download as fd

    def boom(*args, **kwargs):
        raise AssertionError(f"the hub was contacted: {kwargs.get('repo_id')} {kwargs.get('filename')}")

    monkeypatch.setattr(fd, "_get_metadata_or_catch_error", boom)
    return boom

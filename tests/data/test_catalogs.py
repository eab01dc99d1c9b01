"""Catalogs inside wheels: found by locale, .po preferred over .mo, extraction reused; members that
would escape the extraction folder refuse the wheel; the default wheels are pinned by sha256 and
fetch_catalogs checks the pin (the download itself: tests/core/test_wheels.py)."""

from __future__ import annotations

import re
import shutil
import zipfile

import polib
import pytest

from crossalign.data import catalogs
from crossalign.data.catalogs import DEFAULT_CATALOG_SOURCES, extract_catalogs, fetch_catalogs
from crossalign.data.gettext import read_gettext
from crossalign.testing import make_wheel
from crossalign.wheels import WheelIntegrityError


def _po(msgstr: str) -> str:
    cat = polib.POFile()
    cat.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
    cat.append(polib.POEntry(msgid="Save the changes to this page.", msgstr=msgstr))
    return str(cat)


def test_extract_catalogs_from_a_wheel(tmp_path):
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/locale/de/LC_MESSAGES/django.po", _po("Speichern Sie die Änderungen."))
        zf.writestr("pkg/locale/de/LC_MESSAGES/django.mo", b"not used: the .po wins")
        zf.writestr("pkg/contrib/locale/pt_BR/LC_MESSAGES/django.po", _po("Salve as alterações."))
        zf.writestr("pkg/templates/locale.html", "<p>not a catalog</p>")
    out = extract_catalogs(wheel, tmp_path / "x")
    assert sorted(out) == ["de", "pt_BR"]
    assert [p.suffix for p in out["de"]] == [".po"]
    pairs = list(read_gettext(out["pt_BR"][0]))
    assert [(p.src_lang, p.tgt_lang, p.tgt) for p in pairs] == [("en", "pt", "Salve as alterações.")]
    # Extraction is cached: a second call returns the same files without rewriting them.
    mtime = out["de"][0].stat().st_mtime_ns
    again = extract_catalogs(wheel, tmp_path / "x")
    assert again == out and again["de"][0].stat().st_mtime_ns == mtime


# ---------------------------------------------------------------- unsafe members


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("member", [
    "pkg/locale/../LC_MESSAGES/x.po",           # locale '..': would land beside the extraction folder
    "pkg/../../evil/locale/de/LC_MESSAGES/django.po",
    "/etc/locale/de/LC_MESSAGES/django.po",      # absolute
    "pkg\\..\\..\\locale/de/LC_MESSAGES/django.po",  # Windows separators
    "pkg/README.txt/../../../x",                 # not even a catalog: the whole wheel is refused
])
def test_a_member_outside_the_wheel_refuses_the_wheel(member, tmp_path):
    wheel = make_wheel(tmp_path / "evil-1.0-py3-none-any.whl",
                   {"pkg/locale/de/LC_MESSAGES/django.po": _po("Gut."), member: _po("Böse.")})
    before = _files(tmp_path)
    with pytest.raises(WheelIntegrityError, match=r"absolute path or has a '\.\.' component") as info:
        extract_catalogs(wheel, tmp_path / "out" / "x")
    assert str(wheel) in str(info.value) and repr(member) in str(info.value)
    assert _files(tmp_path) == before  # nothing extracted at all, inside or outside


@pytest.mark.parametrize("member", ["pkg/locale/.hidden/LC_MESSAGES/django.po", "pkg/locale/de/LC_MESSAGES/..po",
                                    "pkg/locale/de;rm -rf/LC_MESSAGES/django.po", "pkg/locale/de/LC_MESSAGES/ x.po"])
def test_locale_and_domain_must_be_plain_names(member, tmp_path):
    wheel = make_wheel(tmp_path / "odd-1.0-py3-none-any.whl", {member: _po("Komisch.")})
    with pytest.raises(WheelIntegrityError, match="not a plain file name"):
        extract_catalogs(wheel, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_real_locale_spellings_are_accepted(tmp_path):
    names = ["sr@latin", "zh_TW.Big5", "es_419", "zh_Hans", "ca@valencia", "pt_BR"]
    wheel = make_wheel(tmp_path / "ok-1.0-py3-none-any.whl",
                   {f"pkg/locale/{n}/LC_MESSAGES/django.po": _po("Salve.") for n in names})
    assert sorted(extract_catalogs(wheel, tmp_path / "x")) == sorted(names)


# ---------------------------------------------------------------- pinned hashes


def test_fetch_catalogs_checks_the_pinned_hash(fake_index, tmp_path, monkeypatch):
    monkeypatch.setitem(catalogs.WHEEL_SHA256, ("fake_catalogs", "1.0"), fake_index["sha256"])
    out = fetch_catalogs([("fake-catalogs", "1.0")], tmp_path / "cache")
    assert sorted(out) == ["de"] and fake_index["asked_sha256"] == fake_index["sha256"]
    monkeypatch.setitem(catalogs.WHEEL_SHA256, ("fake_catalogs", "1.0"), "0" * 64)
    shutil.rmtree(tmp_path / "cache")
    with pytest.raises(WheelIntegrityError):
        fetch_catalogs([("fake-catalogs", "1.0")], tmp_path / "cache")


def test_every_default_source_is_pinned_by_sha256():
    for dist, version in DEFAULT_CATALOG_SOURCES:
        assert re.fullmatch(r"[0-9a-f]{64}", catalogs.pinned_sha256(dist, version) or ""), (dist, version)

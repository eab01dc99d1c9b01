"""Gettext catalogs: .po parsing, a real .mo compiled here, the drop rules and the language rules."""

from __future__ import annotations

import gettext as stdlib_gettext
from collections import Counter

import polib
import pytest

from crossalign.data.gettext import has_markup, has_placeholder, read_gettext
from crossalign.data.sources import PairsSpec, read_pairs
from crossalign.errors import InputError

KEPT = [
    ("Open file", "Datei öffnen"),
    ("Save the document before closing?", "Dokument vor dem Schließen speichern?"),
]


def catalog(language: str | None = "de") -> polib.POFile:
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Project-Id-Version": "test"}
    if language:
        po.metadata["Language"] = language
    for msgid, msgstr in KEPT:
        po.append(polib.POEntry(msgid=msgid, msgstr=msgstr))
    dropped = [
        polib.POEntry(msgid="%s file", msgstr="%s Datei"),  # placeholder
        polib.POEntry(msgid="Hello {name}", msgstr="Hallo {name}"),  # placeholder
        polib.POEntry(msgid="Delete %(count)d items", msgstr="%(count)d löschen"),  # placeholder
        polib.POEntry(msgid="Ready", msgstr="Bereit", flags=["python-format"]),  # placeholder (flag)
        polib.POEntry(msgid="<b>Bold</b> move", msgstr="<b>Fett</b>"),  # markup
        polib.POEntry(msgid="Fish &amp; chips", msgstr="Fisch &amp; Pommes"),  # markup
        polib.POEntry(msgid="Quit", msgstr=""),  # empty
        polib.POEntry(msgid="OK", msgstr="OK"),  # untranslated
        polib.POEntry(
            msgid="One file", msgid_plural="Many files", msgstr_plural={0: "Eine Datei", 1: "Viele Dateien"}
        ),  # plural
        polib.POEntry(msgid="Maybe", msgstr="Vielleicht", flags=["fuzzy"]),  # fuzzy
    ]
    for e in dropped:
        po.append(e)
    return po


EXPECTED_DROPS = Counter(
    {"placeholder": 4, "markup": 2, "empty": 1, "untranslated": 1, "plural": 1, "fuzzy": 1}
)


def test_po_keeps_sentences_and_counts_drops(tmp_path):
    path = tmp_path / "app.po"
    catalog().save(str(path))
    drops = Counter()
    pairs = list(read_gettext(path, drops=drops))
    assert [(p.src, p.tgt) for p in pairs] == KEPT
    assert {(p.src_lang, p.tgt_lang) for p in pairs} == {("en", "de")}
    assert drops == EXPECTED_DROPS
    # origins point at the msgid line of the entry in the .po file
    lines = path.read_text(encoding="utf-8").splitlines()
    for pair in pairs:
        _, line = pair.origin.rsplit(":", 1)
        assert lines[int(line) - 1] == f'msgid "{pair.src}"'


def test_real_compiled_mo(tmp_path):
    mo = tmp_path / "locale" / "fr" / "LC_MESSAGES" / "app.mo"
    mo.parent.mkdir(parents=True)
    po = catalog(language=None)
    for e in po:  # make it French
        e.msgstr = e.msgstr.replace("Datei", "fichier")
    po.save_as_mofile(str(mo))
    # the stdlib reads it: this is a genuine compiled catalog, not a .po in disguise
    with open(mo, "rb") as handle:
        assert stdlib_gettext.GNUTranslations(handle).gettext("Open file") == "fichier öffnen"
    drops = Counter()
    pairs = list(read_gettext(mo, drops=drops))
    assert {p.tgt_lang for p in pairs} == {"fr"}  # from locale/fr/LC_MESSAGES
    # compiling drops fuzzy and empty entries and every flag, so "Ready" (python-format, no placeholder
    # in its text) survives in the .mo; the rest is dropped by the reader from the text alone
    assert sorted(p.src for p in pairs) == sorted([*(src for src, _ in KEPT), "Ready"])
    assert drops == EXPECTED_DROPS - Counter({"fuzzy": 1, "empty": 1, "placeholder": 1})
    assert all("#" in p.origin for p in pairs)


def test_language_rules(tmp_path):
    (tmp_path / "pt_BR.po").write_text('msgid "Yes"\nmsgstr "Sim"\n', encoding="utf-8")
    assert [p.langs for p in read_gettext(tmp_path / "pt_BR.po")] == ["en-pt"]
    assert [p.langs for p in read_gettext(tmp_path / "pt_BR.po", src_lang="es", tgt_lang="gl")] == ["es-gl"]
    (tmp_path / "messages.po").write_text('msgid "Yes"\nmsgstr "Sim"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"messages\.po: cannot tell the language"):
        list(read_gettext(tmp_path / "messages.po"))
    bad = tmp_path / "x.po"
    catalog(language="xx-unknown").save(str(bad))
    with pytest.raises(InputError, match=r"x\.po: unknown language code"):
        list(read_gettext(bad))


def test_bad_catalogs_name_file_and_line(tmp_path):
    po = tmp_path / "de.po"
    po.write_text('msgid "a"\nmsgstr "b"\n\nthis is not po\nmsgid "c"\nmsgstr "d"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"de\.po:4: not a valid \.po file"):
        list(read_gettext(po))
    po.write_bytes(b'msgid "a"\nmsgstr "b"\n\nmsgid "c"\nmsgstr "\xff"\n')
    with pytest.raises(InputError, match=r"de\.po:5: not valid"):
        list(read_gettext(po))
    mo = tmp_path / "de.mo"
    mo.write_bytes(b"not a catalog at all")
    with pytest.raises(InputError, match=r"de\.mo: not a valid \.mo file"):
        list(read_gettext(mo))


def test_folder_of_catalogs_through_read_pairs(tmp_path):
    for lang in ("de", "fr"):
        d = tmp_path / lang / "LC_MESSAGES"
        d.mkdir(parents=True)
        catalog(language=None).save_as_mofile(str(d / "app.mo"))
    drops = Counter()
    pairs = list(read_pairs(PairsSpec(paths=[str(tmp_path)]), drops))
    assert Counter(p.langs for p in pairs) == Counter({"en-de": 3, "en-fr": 3})
    assert drops["placeholder"] == 6


@pytest.mark.parametrize(
    "text", ["%s", "%d files", "%(name)s", "%1$s", "{0}", "{}", "{name}", "%1 of %2", "${HOME}"]
)
def test_placeholders_detected(text):
    assert has_placeholder(text)


@pytest.mark.parametrize("text", ["100% sure", "50% off", "{{literal}}", "plain text", "a { b } c"])
def test_not_placeholders(text):
    assert not has_placeholder(text)


def test_markup_detection():
    assert (
        has_markup("<b>x</b>")
        and has_markup("line<br/>")
        and has_markup('<a href="x">')
        and has_markup("&amp;")
    )
    assert not has_markup("a < b and c > d") and not has_markup("R&D")


def test_language_from_folder_when_header_is_empty_or_a_name(tmp_path):
    for folder, header in (("et", "Estonian"), ("hr", "")):
        (tmp_path / folder).mkdir()
        po = catalog(language=None)
        po.metadata["Language"] = header
        po.save(str(tmp_path / folder / "allauth__django.po"))
    assert {p.tgt_lang for p in read_gettext(tmp_path / "et" / "allauth__django.po")} == {"et"}
    assert {p.tgt_lang for p in read_gettext(tmp_path / "hr" / "allauth__django.po")} == {"hr"}


def test_language_selection_skips_unknown_and_unlisted_catalogs(tmp_path):
    for lang in ("de", "fr", "xx", "en"):  # xx is no language (tlh, Klingon, is one: ISO 639-3)
        (tmp_path / lang).mkdir()
        catalog(language=lang).save(str(tmp_path / lang / "app.po"))
    with pytest.raises(InputError, match=r"xx.app\.po: unknown language code 'xx'"):
        list(read_pairs(PairsSpec(paths=[str(tmp_path)])))
    drops = Counter()
    pairs = list(read_pairs(PairsSpec(paths=[str(tmp_path)], languages=["en", "deu"]), drops))
    assert Counter(p.langs for p in pairs) == {"en-de": 2}
    entries = len([e for e in catalog() if e.msgid])
    assert drops["language_not_selected"] == 2 * entries  # fr and xx
    assert drops["same_language"] == entries  # the en catalog of an English-source project


def test_script_of_a_locale_is_kept_and_the_domain_is_never_a_language(tmp_path):
    # Django and Sphinx ship zh_Hans/zh_Hant and zh_CN/zh_TW: Traditional Chinese is its own language.
    for locale, header in (("zh_Hant", None), ("zh_TW", "zh_TW"), ("zh_Hans", None), ("zh_CN", "zh_CN"),
                           ("sr@latin", None), ("nso", None)):
        (tmp_path / locale / "LC_MESSAGES").mkdir(parents=True)
        catalog(language=header).save(str(tmp_path / locale / "LC_MESSAGES" / "app.po"))
    langs = {p.parts[-3]: {x.tgt_lang for x in read_gettext(p)} for p in tmp_path.glob("*/LC_MESSAGES/app.po")}
    assert langs == {"zh_Hant": {"zh-Hant"}, "zh_TW": {"zh-Hant"}, "zh_Hans": {"zh"}, "zh_CN": {"zh"},
                     "sr@latin": {"sr-Latn"}, "nso": {"nso"}}
    # "app" is an ISO 639-3 code (Apma), but under LC_MESSAGES the file name is the domain
    (tmp_path / "xx" / "LC_MESSAGES").mkdir(parents=True)
    catalog(language=None).save(str(tmp_path / "xx" / "LC_MESSAGES" / "app.po"))
    with pytest.raises(InputError, match="cannot tell the language of this catalog"):
        list(read_gettext(tmp_path / "xx" / "LC_MESSAGES" / "app.po"))


def test_wrapped_messages_are_joined_and_trac_markup_dropped(tmp_path):
    po = catalog()
    po.append(
        polib.POEntry(msgid="A long message\n        wrapped in the source.", msgstr="Eine lange\nNachricht.")
    )
    po.append(polib.POEntry(msgid="[1:Note:] See [2:TracGuide]", msgstr="[1:Hinweis:] Siehe [2:TracGuide]"))
    po.save(str(tmp_path / "de.po"))
    drops = Counter()
    pairs = list(read_gettext(tmp_path / "de.po", drops=drops))
    assert ("A long message wrapped in the source.", "Eine lange Nachricht.") in [
        (p.src, p.tgt) for p in pairs
    ]
    assert drops["placeholder"] == EXPECTED_DROPS["placeholder"] + 1

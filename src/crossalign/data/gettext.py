"""Translation pairs from gettext catalogs (``.po`` and compiled ``.mo``): msgid -> msgstr.

Software localisation catalogs are a large, clean and freely licensed source of short
parallel text (menu items, messages). Not every entry is usable as a natural-language pair;
these are dropped and counted by reason:

=================  ===========================================================================
``header``         the catalog header (msgid ``""``); not counted as a drop
``obsolete``       ``#~`` entries kept only for history
``fuzzy``          translations marked ``#, fuzzy`` (unreviewed guesses)
``plural``         plural forms (``msgid_plural``): one msgid, several msgstr
``empty``          an empty or blank msgid or msgstr
``untranslated``   msgstr identical to msgid (copied, not translated)
``placeholder``    a format placeholder on either side (``%s %d %(name)s %1$s {0} {name}
                   ${var}``, Trac's ``[1:...]``) or a ``*-format`` flag: the text is a
                   template, not a sentence
``markup``         HTML/XML tags or entities (``<b>``, ``<br/>``, ``&amp;``)
``same_language``  every entry of a catalog in the msgid language (an ``en`` catalog)
``language_not_selected``  every entry of a catalog outside the selected ``languages``
=================  ===========================================================================

Texts wrapped over several source lines are joined with single spaces.

The msgid language defaults to English (``src_lang``). The msgstr language is ``tgt_lang``
if given, else the first known code among: the catalog's ``Language`` header, the
``<lang>`` of ``<lang>/LC_MESSAGES/<domain>.po`` or ``<lang>/<domain>.po``, a file named
``<lang>.po`` (when the catalog has no ``Language`` header).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterator
from pathlib import Path

import polib

from crossalign.data.pairs import Pair, lang_code
from crossalign.errors import InputError
from crossalign.languages import is_known

_PLACEHOLDER = re.compile(
    r"%(?:\d+\$)?(?:\([^)]*\))?[-+#0]*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|L|q|j|z|t)?[diouxXeEfFgGcrsaAp]"
    r"|%\d"  # Qt-style %1
    r"|(?<!\{)\{[^{}\s]*\}(?!\})"  # {} {0} {name} {name!r:>8}; {{ }} are escaped braces
    r"|\$\{\w+\}"
    r"|\[\d+:"  # Genshi/Trac numbered markup: "[1:Note:] see [2:Link]"
)
_MARKUP = re.compile(r"</?[A-Za-z][\w:.-]*(?:\s[^<>]*)?/?>|&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);")

_WRAP = re.compile(r"[ \t]*\n\s*")

DROP_REASONS = (
    "obsolete", "fuzzy", "plural", "empty", "untranslated", "placeholder", "markup",
    "same_language", "language_not_selected",
)


def has_placeholder(text: str) -> bool:
    return _PLACEHOLDER.search(text) is not None


def has_markup(text: str) -> bool:
    return _MARKUP.search(text) is not None


def catalog_language(path: Path, metadata: dict[str, str]) -> str | None:
    """The msgstr language: the first known code of the ``Language`` header, the path, or None.

    A header that is not a known code (``"Estonian"``, ``"xx"``) gives way to the folder; when
    the folder says nothing either, the header's unknown code is the error. The file name is
    read as a code (``<lang>.po``) only without a header and outside ``LC_MESSAGES``: it is
    usually the domain, and most three-letter words are ISO 639-3 codes (``app``, ``new``).
    """
    header = (metadata.get("Language") or "").strip()
    parts = path.parts
    candidates = [header] if header else []
    if len(parts) >= 3 and parts[-2] == "LC_MESSAGES":
        candidates.append(parts[-3])
    else:
        if len(parts) >= 2:
            candidates.append(parts[-2])  # <lang>/<domain>.po
        if not header:
            candidates.append(path.stem)  # <lang>.po
    for code in candidates:
        if is_known(code):
            return lang_code(code, path)
    if header:
        lang_code(header, path)  # raises, naming the file and the code
    return None


def _load(path: Path) -> polib._BaseFile:
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "expected a file", path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".mo":
            return polib.mofile(str(path))
        if suffix == ".po":
            return polib.pofile(str(path))
    except UnicodeDecodeError as exc:
        line = None
        if isinstance(exc.object, bytes) and exc.object == path.read_bytes():
            line = exc.object.count(b"\n", 0, exc.start) + 1
        msg = f"not valid in the catalog's encoding {exc.encoding} ({exc.reason})"
        raise InputError(msg, path, line) from None
    except (OSError, ValueError) as exc:
        m = re.search(r"\(line (\d+)\)", str(exc))
        line = int(m.group(1)) if m else None
        what = "not a valid .mo file" if suffix == ".mo" else "not a valid .po file"
        reason = re.sub(r"\s*\(line \d+\)|\s*in po file \S+", "", str(exc)).strip()
        raise InputError(f"{what}: {reason}", path, line) from None
    raise InputError(f"not a gettext catalog (expected .po or .mo, got {suffix or 'no suffix'!r})", path)


def _drop_reason(entry) -> str | None:
    if getattr(entry, "obsolete", False):
        return "obsolete"
    if "fuzzy" in entry.flags:
        return "fuzzy"
    if entry.msgid_plural:
        return "plural"
    src, tgt = entry.msgid.strip(), entry.msgstr.strip()
    if not src or not tgt:
        return "empty"
    if src == tgt:
        return "untranslated"
    if any(f.endswith("-format") and not f.startswith("no-") for f in entry.flags):
        return "placeholder"
    if has_placeholder(src) or has_placeholder(tgt):
        return "placeholder"
    if has_markup(src) or has_markup(tgt):
        return "markup"
    return None


def read_gettext(
    path: str | Path,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    drops: Counter | None = None,
    languages: Collection[str] | None = None,
) -> Iterator[Pair]:
    """Pairs ``(msgid, msgstr)`` of a ``.po`` or ``.mo`` file; unusable entries are counted in ``drops``.

    ``src_lang`` (the msgid language) defaults to English. The origin of each pair is
    ``file:line`` of its msgid for ``.po`` files and ``file#index`` for ``.mo`` files, which
    have no lines. With ``languages`` (canonical codes), a catalog in another language, or in
    a language crossalign does not know, is skipped and its entries counted as
    ``language_not_selected``; a catalog in the msgid language counts as ``same_language``.
    """
    path = Path(path)
    catalog = _load(path)
    sl = lang_code(src_lang or "en", path)
    counter = drops if drops is not None else Counter()
    try:
        tl = lang_code(tgt_lang, path) if tgt_lang else catalog_language(path, catalog.metadata)
    except InputError:
        if languages is None:
            raise
        tl = None
    if tl is None and languages is None:
        raise InputError(
            "cannot tell the language of this catalog: it has no known 'Language' header and the path is "
            "not <lang>/LC_MESSAGES/<domain>.po, <lang>/<domain>.po or <lang>.po; give tgt_lang", path,
        )
    skip = None
    if languages is not None and (tl not in languages or sl not in languages):
        skip = "language_not_selected"
    elif tl == sl:
        skip = "same_language"  # e.g. an en catalog of an English-source project
    if skip is not None:
        counter[skip] += sum(1 for e in catalog if e.msgid)
        return
    for index, entry in enumerate(catalog):
        if entry.msgid == "" and not entry.msgctxt:
            continue  # the header entry
        reason = _drop_reason(entry)
        if reason is not None:
            counter[reason] += 1
            continue
        line = getattr(entry, "linenum", 0)
        origin = f"{path}:{line}" if line else f"{path}#{index}"
        yield Pair(sl, tl, _unwrap(entry.msgid), _unwrap(entry.msgstr), origin)


def _unwrap(text: str) -> str:
    # Messages wrapped in the source code keep the line breaks and indentation; one space each.
    return _WRAP.sub(" ", text.strip())

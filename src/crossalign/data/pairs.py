"""Translation pairs and the plain-text readers: two-column TSV, JSON lines, line-aligned files.

Every :class:`Pair` carries its two canonical language codes (see
:func:`crossalign.languages.normalize`) and, where it came from a file, the ``file:line`` it
was read from. Readers raise :class:`~crossalign.errors.InputError` naming the file and line
of the first bad line (no tab, a missing field, empty text, an unknown language code,
parallel files of different lengths). With ``skip_invalid=True`` they instead skip such
lines and count them by reason in the ``drops`` mapping the caller passes in.

Language codes can be read off file names that follow the usual conventions::

    ddtp.en-de.tsv                        -> ('en', 'de')   column order = name order
    tatoeba.deu-eng.deu / .eng            -> ('de', 'en')   Tatoeba / LASER
    corpus.de-en.de / corpus.de-en.en     -> ('de', 'en')   Moses

Other formats (Hugging Face datasets, gettext catalogs) live in ``hf.py`` and
``gettext.py``; ``sources.py`` dispatches on a format name.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from crossalign.errors import InputError
from crossalign.languages import UnknownLanguageError, normalize


@dataclass(frozen=True)
class Pair:
    """One translation pair: ``src`` in ``src_lang`` and its translation ``tgt`` in ``tgt_lang``."""

    src_lang: str
    tgt_lang: str
    src: str
    tgt: str
    origin: str | None = None  # "file:line" (or "dataset:row") it was read from

    def swapped(self) -> Pair:
        return Pair(self.tgt_lang, self.src_lang, self.tgt, self.src, self.origin)

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["origin"] is None:
            del d["origin"]
        return d

    @property
    def langs(self) -> str:
        return f"{self.src_lang}-{self.tgt_lang}"


def lang_code(code: str, path: str | Path | None = None, line: int | None = None) -> str:
    """:func:`normalize` that reports an unknown code as an :class:`InputError` at ``path:line``."""
    try:
        return normalize(code)
    except UnknownLanguageError as exc:
        raise InputError(str(exc), path, line) from None


# "<anything>.<xx>-<yy>[.<ext>]" where xx/yy are 2-3 letter codes; the last such match wins.
_NAME_LANGS = re.compile(r"(?:^|[._])([a-z]{2,3})-([a-z]{2,3})(?=[._]|$)", re.IGNORECASE)


def langs_from_name(path: str | Path) -> tuple[str, str] | None:
    """Language codes in a file name like ``ddtp.en-de.tsv`` or ``tatoeba.deu-eng.deu``, or None.

    Raises :class:`InputError` (naming the file) when the name has the pattern but a code is
    not a known language.
    """
    matches = _NAME_LANGS.findall(Path(path).name)
    if not matches:
        return None
    a, b = matches[-1]
    return lang_code(a, path), lang_code(b, path)


class _Invalid(InputError):
    """A bad line that ``skip_invalid`` may turn into a counted skip under ``reason``."""

    def __init__(self, reason: str, message: str, path: Path, line: int):
        super().__init__(message, path, line)
        self.kind = reason


def _check_text(text: str, what: str, path: Path, line: int) -> str:
    text = text.strip()
    if not text:
        raise _Invalid("empty_text", f"empty {what} text", path, line)
    return text


def _skip(exc: _Invalid, skip_invalid: bool, drops: Counter) -> None:
    if not skip_invalid:
        raise exc
    drops[exc.kind] += 1


def read_tsv(
    path: str | Path,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    header: bool = False,
    skip_invalid: bool = False,
    drops: Counter | None = None,
) -> Iterator[Pair]:
    """Pairs from a ``src<TAB>tgt`` file, one per line.

    Languages default to the ones in the file name (``x.en-de.tsv``). ``header=True`` skips
    the first line. Blank lines are ignored. A line without exactly one tab or with an empty
    side is an error naming the line, or (``skip_invalid``) a skip counted in ``drops``.
    """
    path = Path(path)
    src_lang, tgt_lang = _resolve_langs(path, src_lang, tgt_lang)
    counter = drops if drops is not None else Counter()
    for lineno, text in iter_lines(path):
        if header and lineno == 1:
            continue
        if not text.strip():
            continue
        fields = text.split("\t")
        try:
            if len(fields) != 2:
                raise _Invalid(
                    "malformed_line",
                    f"expected 2 tab-separated fields (source<TAB>target), found {len(fields)}",
                    path, lineno,
                )
            src = _check_text(fields[0], "source", path, lineno)
            tgt = _check_text(fields[1], "target", path, lineno)
        except _Invalid as exc:
            _skip(exc, skip_invalid, counter)
            continue
        yield Pair(src_lang, tgt_lang, src, tgt, f"{path}:{lineno}")


def read_jsonl(
    path: str | Path,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    src_field: str = "src",
    tgt_field: str = "tgt",
    src_lang_field: str | None = None,
    tgt_lang_field: str | None = None,
    skip_invalid: bool = False,
    drops: Counter | None = None,
) -> Iterator[Pair]:
    """Pairs from JSON lines with configurable field names.

    Languages are fixed (``src_lang``/``tgt_lang``, or the file name) unless
    ``src_lang_field``/``tgt_lang_field`` name per-line fields; an unknown per-line code is
    an error at that line (never skipped: it is a data error, not noise).
    """
    path = Path(path)
    per_line = src_lang_field is not None and tgt_lang_field is not None
    if (src_lang_field is None) != (tgt_lang_field is None):
        raise InputError("give both src_lang_field and tgt_lang_field, or neither", path)
    fixed = (None, None) if per_line else _resolve_langs(path, src_lang, tgt_lang)
    counter = drops if drops is not None else Counter()
    for lineno, raw in iter_lines(path):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg} (column {exc.colno})", path, lineno) from None
        if not isinstance(row, dict):
            raise InputError(f"expected a JSON object, got {type(row).__name__}", path, lineno)
        if per_line:
            langs = []
            for field in (src_lang_field, tgt_lang_field):
                if not isinstance(row.get(field), str):
                    raise InputError(f"missing language field {field!r}", path, lineno)
                langs.append(lang_code(row[field], path, lineno))
            sl, tl = langs
        else:
            sl, tl = fixed
        try:
            sides = []
            for field, what in ((src_field, "source"), (tgt_field, "target")):
                value = row.get(field)
                if not isinstance(value, str):
                    found = ", ".join(map(repr, row)) or "none"
                    raise _Invalid(
                        "missing_field", f"missing {what} field {field!r} (fields found: {found})",
                        path, lineno,
                    )
                sides.append(_check_text(value, what, path, lineno))
        except _Invalid as exc:
            _skip(exc, skip_invalid, counter)
            continue
        yield Pair(sl, tl, sides[0], sides[1], f"{path}:{lineno}")


def aligned_partner(path: str | Path) -> tuple[Path, Path, str, str] | None:
    """For one file (or the common prefix) of a Tatoeba/Moses pair, ``(src_file, tgt_file, src, tgt)``.

    ``corpus.de-en`` (prefix), ``corpus.de-en.de`` and ``corpus.de-en.en`` all give
    ``(corpus.de-en.de, corpus.de-en.en, 'de', 'en')``. Returns None when the name does not
    follow the convention.
    """
    path = Path(path)
    name = path.name
    m = re.search(r"([a-z]{2,3})-([a-z]{2,3})$", name, re.IGNORECASE)
    prefix = path
    if m is None:
        stem, _, ext = name.rpartition(".")
        m = re.search(r"([a-z]{2,3})-([a-z]{2,3})$", stem, re.IGNORECASE)
        if m is None or ext.lower() not in (m.group(1).lower(), m.group(2).lower()):
            return None
        prefix = path.with_name(stem)
    a, b = m.group(1), m.group(2)
    src_file = prefix.with_name(f"{prefix.name}.{a}")
    tgt_file = prefix.with_name(f"{prefix.name}.{b}")
    return src_file, tgt_file, lang_code(a, path), lang_code(b, path)


def read_aligned(
    src_path: str | Path,
    tgt_path: str | Path,
    src_lang: str,
    tgt_lang: str,
    skip_invalid: bool = False,
    drops: Counter | None = None,
) -> Iterator[Pair]:
    """Pairs from two line-aligned files (line i of one translates line i of the other).

    Files of different lengths are an error naming the shorter file and the first line that
    has no partner. An empty line on either side is an error, or a counted skip.
    """
    src_path, tgt_path = Path(src_path), Path(tgt_path)
    sl, tl = lang_code(src_lang, src_path), lang_code(tgt_lang, tgt_path)
    counter = drops if drops is not None else Counter()
    src_lines, tgt_lines = iter_lines(src_path), iter_lines(tgt_path)
    while True:
        a, b = next(src_lines, None), next(tgt_lines, None)
        if a is None and b is None:
            return
        if a is None or b is None:
            lineno = (a or b)[0]
            short, other = (src_path, tgt_path) if a is None else (tgt_path, src_path)
            raise InputError(
                f"parallel files have different lengths: this file has {lineno - 1} lines "
                f"but {other} continues at line {lineno}", short, lineno,
            )
        lineno = a[0]
        try:
            src = _check_text(a[1], "source", src_path, lineno)
            tgt = _check_text(b[1], "target", tgt_path, lineno)
        except _Invalid as exc:
            _skip(exc, skip_invalid, counter)
            continue
        yield Pair(sl, tl, src, tgt, f"{src_path}:{lineno}")


def _resolve_langs(path: Path, src_lang: str | None, tgt_lang: str | None) -> tuple[str, str]:
    if src_lang is not None and tgt_lang is not None:
        return lang_code(src_lang, path), lang_code(tgt_lang, path)
    named = langs_from_name(path)
    if named is None:
        raise InputError(
            "cannot tell the languages of this file: give src_lang and tgt_lang, or name the "
            "file like 'name.en-de.tsv'", path,
        )
    return (
        lang_code(src_lang, path) if src_lang is not None else named[0],
        lang_code(tgt_lang, path) if tgt_lang is not None else named[1],
    )


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` for each line of a UTF-8 file, without its line ending.

    Lines are split on ``\\n`` only and decoded one by one, so that a stray ``\\r`` inside a
    text or an invalid byte is reported at its own line.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    if path.is_dir():
        raise InputError("expected a file, found a directory", path)
    with open(path, "rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                msg = f"not valid UTF-8 ({exc.reason} at byte {exc.start})"
                raise InputError(msg, path, lineno) from None
            if lineno == 1:
                text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the text
            yield lineno, text.rstrip("\r\n")

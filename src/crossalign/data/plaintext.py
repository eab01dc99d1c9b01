"""The plain-text pair readers: two-column TSV, JSON lines, line-aligned files.

    pairs = list(read_tsv("ddtp.en-de.tsv"))            # languages from the file name
    pairs = list(read_aligned("x.de", "x.en", "de", "en"))

Readers raise :class:`~crossalign.errors.InputError` naming the file and line of the first bad
line (no tab, a missing or null field, empty text, an unknown language code, the same language
on both sides, parallel files of different lengths), or naming the file when it holds no pairs
at all (empty, or only a header). With ``skip_invalid=True`` they instead skip such lines (and
empty files) and count them by reason in the ``drops`` mapping the caller passes in.

A file named ``x.en-en.tsv`` (or given ``src_lang == tgt_lang``) is an error naming the file,
and a JSON line whose language fields agree is a bad line (``same_language``).

Line endings: ``\n`` and ``\r\n``; a file with old Mac OS endings (``\r`` only, no ``\n``
anywhere) is read line by line too. A ``\r`` inside a ``\n``-terminated line (mixed line
endings) is an error at that line rather than a confusing column count
(:func:`crossalign.io.iter_lines`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from crossalign.data.pairs import Pair, lang_code, langs_from_name, same_language_error
from crossalign.errors import InputError
from crossalign.io import iter_jsonl, iter_lines


class _Invalid(InputError):
    """A bad line that ``skip_invalid`` may turn into a counted skip under ``reason``."""

    def __init__(self, reason: str, message: str, path: Path, line: int):
        super().__init__(message, path, line)
        self.kind = reason


_JSON_TYPES = {dict: "an object", list: "an array", bool: "true/false", int: "a number", float: "a number"}


def _field_problem(row: dict, field: str, what: str) -> tuple[str, str] | None:
    """``(reason, message)`` when ``row[field]`` is not a string: missing, null, or another JSON type."""
    if field not in row:
        found = ", ".join(map(repr, row)) or "none"
        return "missing_field", f"missing {what} field {field!r} (fields found: {found})"
    value = row[field]
    if value is None:
        return "null_field", f"{what} field {field!r} is null"
    if not isinstance(value, str):
        return "not_a_string", f"{what} field {field!r} holds {_JSON_TYPES.get(type(value), 'a value')}, not a string"
    return None


_EMPTY = "the file is empty (no non-blank lines)"


def _empty_file(path: Path, what: str, skip_invalid: bool, drops: Counter) -> None:
    """An input without a single pair line: an error naming it, or (``skip_invalid``) a counted skip."""
    if skip_invalid:
        drops["empty_file"] += 1
        return
    raise InputError(f"{what}: no translation pairs to read", path)


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
    seen = header_seen = False
    for lineno, text in iter_lines(path):
        if header and lineno == 1:
            header_seen = True
            continue
        if not text.strip():
            continue
        seen = True
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
    if not seen:
        _empty_file(path, "the file holds only its header line" if header_seen else _EMPTY, skip_invalid, counter)


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
    seen = False
    for lineno, row in iter_jsonl(path):  # blank lines skipped, invalid JSON an error at its line
        seen = True
        if not isinstance(row, dict):
            raise InputError(f"expected a JSON object, got {type(row).__name__}", path, lineno)
        if per_line:
            langs = []
            for field in (src_lang_field, tgt_lang_field):
                problem = _field_problem(row, field, "language")
                if problem is not None:
                    raise InputError(problem[1], path, lineno)
                langs.append(lang_code(row[field], path, lineno))
            sl, tl = langs
        else:
            sl, tl = fixed
        try:
            if sl == tl:
                how = f"fields {src_lang_field!r} and {tgt_lang_field!r}"
                raise _Invalid("same_language", same_language_error(sl, how, path).reason, path, lineno)
            sides = []
            for field, what in ((src_field, "source"), (tgt_field, "target")):
                problem = _field_problem(row, field, what)
                if problem is not None:
                    raise _Invalid(*problem, path, lineno)
                sides.append(_check_text(row[field], what, path, lineno))
        except _Invalid as exc:
            _skip(exc, skip_invalid, counter)
            continue
        yield Pair(sl, tl, sides[0], sides[1], f"{path}:{lineno}")
    if not seen:
        _empty_file(path, _EMPTY, skip_invalid, counter)


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
    sl, tl = lang_code(a, path), lang_code(b, path)
    if sl == tl:
        raise same_language_error(sl, f"from the file name {prefix.name!r}", path)
    return src_file, tgt_file, sl, tl


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
    if sl == tl:
        raise same_language_error(sl, f"given for this file and {tgt_path}", src_path)
    counter = drops if drops is not None else Counter()
    src_lines, tgt_lines = iter_lines(src_path), iter_lines(tgt_path)
    lineno_seen = 0
    while True:
        a, b = next(src_lines, None), next(tgt_lines, None)
        if a is None and b is None:
            if lineno_seen == 0:
                _empty_file(src_path, f"this file and {tgt_path} are both empty", skip_invalid, counter)
            return
        if a is None or b is None:
            lineno = (a or b)[0]
            short, other = (src_path, tgt_path) if a is None else (tgt_path, src_path)
            has = "is empty" if lineno == 1 else f"has {lineno - 1} lines"
            raise InputError(
                f"parallel files have different lengths: this file {has} "
                f"but {other} continues at line {lineno}", short, lineno,
            )
        lineno = lineno_seen = a[0]
        try:
            src = _check_text(a[1], "source", src_path, lineno)
            tgt = _check_text(b[1], "target", tgt_path, lineno)
        except _Invalid as exc:
            _skip(exc, skip_invalid, counter)
            continue
        yield Pair(sl, tl, src, tgt, f"{src_path}:{lineno}")


def _resolve_langs(path: Path, src_lang: str | None, tgt_lang: str | None) -> tuple[str, str]:
    if src_lang is not None and tgt_lang is not None:
        named, how = None, "src_lang and tgt_lang as given"
    else:
        named = langs_from_name(path)
        if named is None:
            raise InputError(
                "cannot tell the languages of this file: give src_lang and tgt_lang, or name the "
                "file like 'name.en-de.tsv'", path,
            )
        how = (
            f"from the file name {path.name!r}" if src_lang is None and tgt_lang is None
            else f"{'src_lang' if src_lang is not None else 'tgt_lang'} as given, the other from the file name"
        )
    sl = lang_code(src_lang, path) if src_lang is not None else named[0]
    tl = lang_code(tgt_lang, path) if tgt_lang is not None else named[1]
    if sl == tl:
        raise same_language_error(sl, how, path)
    return sl, tl

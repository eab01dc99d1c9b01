"""Translation pairs and the language codes they carry.

Every :class:`Pair` carries its two canonical language codes (see
:func:`crossalign.languages.normalize`) and, where it came from a file, the ``file:line`` it
was read from. A translation pair needs two languages: the same language on both sides is an
error (:func:`same_language_error`). Language codes can be read off file names that follow the
usual conventions (:func:`langs_from_name`)::

    ddtp.en-de.tsv                        -> ('en', 'de')   column order = name order
    tatoeba.deu-eng.deu / .eng            -> ('de', 'en')   Tatoeba / LASER
    corpus.de-en.de / corpus.de-en.en     -> ('de', 'en')   Moses

The readers live by format: ``plaintext.py`` (TSV, JSON lines, line-aligned files), ``hf.py``
(Hugging Face datasets) and ``gettext.py`` (gettext catalogs); ``sources.py`` dispatches on a
format name.
"""

from __future__ import annotations

import re
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


def same_language_error(lang: str, how: str, path: str | Path, line: int | None = None) -> InputError:
    """The error for a pair declared with one language on both sides; ``how`` says where they came from."""
    return InputError(
        f"source and target language are both {lang!r} ({how}): a translation pair needs two different "
        "languages", path, line,
    )

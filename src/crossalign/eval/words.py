"""Per-language words that prompt templates need (``eval/words.yaml``).

Templates refer to a word as ``{@name}``; the word comes from the template's word set in the
*prompt* language. A missing set, language or word is a :class:`MissingWordError` naming the
task, the language and the word, never a silent English fallback.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from crossalign.errors import ConfigError

WORDS_FILE = Path(__file__).parent / "words.yaml"


class MissingWordError(ConfigError):
    """A template needs a word that the table does not have for a language."""


@cache
def word_table(path: str = str(WORDS_FILE)) -> dict[str, dict[str, dict[str, str]]]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of word sets")
    return data


def word(word_set: str | None, lang: str, name: str, task: str = "?") -> str:
    """The word ``name`` of ``word_set`` in language ``lang`` (canonical code)."""
    table = word_table()
    if word_set is None:
        raise MissingWordError(f"task {task}: the template uses the word {name!r} but names no word set")
    if word_set not in table:
        raise MissingWordError(f"task {task}: unknown word set {word_set!r}; known sets: {', '.join(table)}")
    per_lang = table[word_set].get(lang)
    if per_lang is None:
        raise MissingWordError(
            f"task {task}: no words for language {lang!r} in word set {word_set!r} (needed: {name!r}); "
            f"languages with words: {', '.join(table[word_set])}; add them to {WORDS_FILE}"
        )
    if name not in per_lang:
        raise MissingWordError(
            f"task {task}: language {lang!r} has no word {name!r} in word set {word_set!r}; "
            f"it has: {', '.join(per_lang)}; add it to {WORDS_FILE}"
        )
    return per_lang[name]

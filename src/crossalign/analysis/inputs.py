"""From translation pairs (any reader of :mod:`crossalign.data`) to the analysis input.

    pairs = read_pairs(PairsSpec(paths=["../shared/data/tatoeba"]))
    by_lang = group_by_language(pairs, pivot="en", max_per_language=500)
    by_lang["de"]  # ([English sentences], [German sentences]), row i are translations

The analysis library itself takes plain ``{lang: (pivot_sentences, lang_sentences)}``; this
adapter orients every pair so the pivot comes first and reports a pair with no pivot side
at the ``file:line`` it came from. Pairs need only the attributes ``src_lang``, ``tgt_lang``,
``src``, ``tgt`` and optionally ``origin`` (``"file:line"``).
"""

from __future__ import annotations

from collections.abc import Iterable

from crossalign.errors import InputError
from crossalign.languages import normalize


def _where(pair) -> tuple[str | None, int | None]:
    origin = getattr(pair, "origin", None)
    if not origin:
        return None, None
    path, _, line = str(origin).rpartition(":")
    if path and line.isdigit():
        return path, int(line)
    return str(origin), None


def group_by_language(
    pairs: Iterable, pivot: str = "en", max_per_language: int | None = None, min_per_language: int = 2
) -> dict[str, tuple[list[str], list[str]]]:
    """``{lang: (pivot sentences, lang sentences)}`` in input order, the first ``max_per_language``
    pairs of each language kept. Languages keep the order in which they first appear."""
    pivot = normalize(pivot)
    out: dict[str, tuple[list[str], list[str]]] = {}
    for pair in pairs:
        if pair.tgt_lang == pivot and pair.src_lang != pivot:
            lang, piv_text, text = pair.src_lang, pair.tgt, pair.src
        elif pair.src_lang == pivot and pair.tgt_lang != pivot:
            lang, piv_text, text = pair.tgt_lang, pair.src, pair.tgt
        else:
            path, line = _where(pair)
            raise InputError(
                f"pair {pair.src_lang}-{pair.tgt_lang} has no {pivot!r} (pivot) side, or both sides are "
                f"{pivot!r}: every pair must translate between the pivot and one other language "
                "(set pivot to change it)", path, line,
            )
        piv_list, lang_list = out.setdefault(lang, ([], []))
        if max_per_language is None or len(piv_list) < max_per_language:
            piv_list.append(piv_text)
            lang_list.append(text)
    if not out:
        raise InputError("the input holds no translation pairs")
    small = {lang: len(p) for lang, (p, _) in out.items() if len(p) < min_per_language}
    if small:
        raise InputError(f"languages with fewer than {min_per_language} pairs cannot be analysed: {small}")
    return out

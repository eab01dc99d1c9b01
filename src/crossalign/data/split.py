"""Train / held-out splits of translation pairs, with whole languages held out of training.

    train, heldout = split_pairs(pairs, heldout_pairs=100, heldout_languages=["id"], seed=0)

Pairs are pivot -> X (e.g. English msgid -> translation). Held-out pairs are chosen by
pivot sentence: a pivot sentence used by any held-out pair is reserved, and no training
pair may contain it, so retrieval on held-out pairs never scores a sentence seen in
training (UI catalogs translate the same English message into every language, so a split
per language alone would leak the English side). Every language gets the same number of
held-out pairs so retrieval accuracies (which depend on the candidate pool) compare.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from crossalign.data.filters import normalise
from crossalign.data.pairs import Pair
from crossalign.errors import InputError
from crossalign.languages import normalize


def _other(pair: Pair, pivot: str) -> str:
    if pair.src_lang == pivot:
        return pair.tgt_lang
    if pair.tgt_lang == pivot:
        return pair.src_lang
    raise InputError(f"pair {pair.src_lang}-{pair.tgt_lang} does not include the pivot language {pivot!r}",
                     pair.origin)


def oriented(pair: Pair, pivot: str) -> Pair:
    """The pair with the pivot sentence first."""
    return pair if pair.src_lang == pivot else pair.swapped()


def split_pairs(
    pairs: Sequence[Pair],
    heldout_pairs: int,
    heldout_languages: Sequence[str] = (),
    pivot: str = "en",
    seed: int = 0,
) -> tuple[list[Pair], dict[str, list[Pair]]]:
    """``(train pairs, {language: held-out pairs})``; every pair is oriented pivot -> language.

    Languages in ``heldout_languages`` contribute no training pair. A language with fewer
    than ``heldout_pairs`` usable pairs is an error naming it (retrieval on a smaller pool
    would not compare with the others).
    """
    pivot = normalize(pivot)
    held_langs = {normalize(x) for x in heldout_languages}
    by_lang: dict[str, list[Pair]] = {}
    for p in pairs:
        by_lang.setdefault(_other(p, pivot), []).append(oriented(p, pivot))
    missing = sorted(held_langs - set(by_lang))
    if missing:
        raise InputError(f"held-out language(s) {missing} have no pairs; languages with pairs: {sorted(by_lang)}")
    rng = random.Random(seed)
    # One random rank per pivot sentence, shared by all languages: the held-out sets of
    # different languages then overlap in their pivot sentences, so fewer are reserved.
    keys = sorted({normalise(p.src) for ps in by_lang.values() for p in ps})
    rank = {k: r for r, k in enumerate(rng.sample(keys, len(keys)))}
    heldout: dict[str, list[Pair]] = {}
    reserved: set[str] = set()
    for lang in sorted(by_lang):
        chosen, seen = [], set()
        for p in sorted(by_lang[lang], key=lambda p: rank[normalise(p.src)]):
            key = normalise(p.src)
            if key in seen:
                continue
            seen.add(key)
            chosen.append(p)
            if len(chosen) == heldout_pairs:
                break
        if len(chosen) < heldout_pairs:
            raise InputError(f"language {lang!r} has only {len(chosen)} distinct pairs, fewer than "
                             f"heldout_pairs={heldout_pairs}; lower heldout_pairs or drop the language")
        heldout[lang] = chosen
        reserved.update(normalise(p.src) for p in chosen)
    train = [
        p for lang in sorted(by_lang) if lang not in held_langs
        for p in by_lang[lang] if normalise(p.src) not in reserved
    ]
    return train, heldout

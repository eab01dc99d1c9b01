"""Fixtures for the analysis tests: a tiny model and small parallel sentence sets built in code."""

from __future__ import annotations

import random

import pytest

WORDS = ["the", "cat", "dog", "sits", "on", "mat", "green", "tea", "man", "broke", "his", "toe", "hammer",
         "foot", "bonjour", "katze"]


def _make_pairs(languages=("de", "fr", "zh"), n=12, seed=0, identical=False):
    """``{lang: (pivot sentences, lang sentences)}`` of random word strings of varied lengths."""
    rng = random.Random(seed)
    out = {}
    for lang in languages:
        piv = [" ".join(rng.choices(WORDS, k=rng.randint(2, 9))) for _ in range(n)]
        other = list(piv) if identical else [" ".join(rng.choices(WORDS, k=rng.randint(2, 9)))
                                             for _ in range(n)]
        out[lang] = (piv, other)
    return out


@pytest.fixture(scope="module")
def gemma(right_tokenizer):
    from crossalign.testing import tiny_model

    return tiny_model("gemma3", right_tokenizer)


@pytest.fixture(scope="session")
def make_pairs():
    return _make_pairs

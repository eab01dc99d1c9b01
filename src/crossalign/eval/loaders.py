"""Benchmark items from the Hugging Face hub or from local files in the published layouts.

Every loader returns a list of plain dicts with the hub's field names (which templates use),
an ``id`` (stable within a split; the same item has the same id in every language of a
parallel dataset) and an integer ``label`` (index of the gold choice).

Local layouts (``--data-dir``; patterns in each task file):

* ``xnli_tsv``: XTREME ``premise<TAB>hypothesis<TAB>label word`` lines, no header;
* ``xcopa_jsonl``: JSON lines with premise, choice1, choice2, question, label;
* ``pawsx_tsv``: header ``id sentence1 sentence2 label``;
* ``xwinograd_tsv``: the collection's ``dataset.tsv`` (language, source, ?, sentence, tokens,
  pronoun, candidates); the pronoun's token span becomes the blank ``_``;
* ``xstorycloze_tsv``: ``spring2016.val.{lang}.tsv.split_20_80_{train,eval}.tsv`` (story id,
  four sentences, two endings, right ending 1/2), with or without its header line.

A malformed line is an :class:`~crossalign.errors.InputError` naming the file, the line and
the missing field.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from crossalign.errors import ConfigError, InputError
from crossalign.eval.tasks import TaskSpec

XNLI_LABELS = {"entailment": 0, "neutral": 1, "contradiction": 2}
STORY_FIELDS = ["input_sentence_1", "input_sentence_2", "input_sentence_3", "input_sentence_4",
                "sentence_quiz1", "sentence_quiz2"]


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
    if layout == "xnli_tsv":
        items = _xnli_tsv(path)
    elif layout == "xcopa_jsonl":
        items = _xcopa_jsonl(path)
    elif layout == "pawsx_tsv":
        items = _pawsx_tsv(path)
    elif layout == "xwinograd_tsv":
        items = _xwinograd_tsv(path, spec.code(lang))
    elif layout == "xstorycloze_tsv":
        items = _xstorycloze_tsv(path)
    else:
        raise ConfigError(f"task {spec.name}: unknown local layout {layout!r}; valid layouts: xnli_tsv, "
                          "xcopa_jsonl, pawsx_tsv, xwinograd_tsv, xstorycloze_tsv")
    if not items:
        raise InputError(f"no items for language {lang}", path)
    return items


def _lines(path: Path):
    with open(path, encoding="utf-8", newline="") as handle:
        for n, line in enumerate(handle, 1):
            line = line.rstrip("\r\n")
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


def _xnli_tsv(path: Path) -> list[dict]:
    items = []
    names = ["premise", "hypothesis", "label"]
    for n, line in _lines(path):
        p, h, label = _columns(path, n, line, names)[:3]
        if n == 1 and label.strip() == "label":
            continue  # a header line
        if label.strip() not in XNLI_LABELS:
            raise InputError(f"field 'label' is {label!r}; expected one of {', '.join(XNLI_LABELS)}", path, n)
        items.append({"id": str(len(items)), "premise": p, "hypothesis": h,
                      "label": XNLI_LABELS[label.strip()]})
    return items


def _xcopa_jsonl(path: Path) -> list[dict]:
    items = []
    for n, line in _lines(path):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", path, n) from None
        if not isinstance(row, dict):
            raise InputError("expected a JSON object", path, n)
        for f in ("premise", "choice1", "choice2", "question", "label"):
            if f not in row or row[f] in (None, ""):
                raise InputError(f"missing field {f!r}", path, n)
        if row["question"] not in ("cause", "effect"):
            raise InputError(f"field 'question' is {row['question']!r}; expected cause or effect", path, n)
        if int(row["label"]) not in (0, 1):
            raise InputError(f"field 'label' is {row['label']!r}; expected 0 or 1", path, n)
        items.append({"id": str(row.get("idx", len(items))), "premise": row["premise"],
                      "choice1": row["choice1"], "choice2": row["choice2"],
                      "question": row["question"], "label": int(row["label"])})
    return items


def _pawsx_tsv(path: Path) -> list[dict]:
    items = []
    names = ["id", "sentence1", "sentence2", "label"]
    header = None
    for n, line in _lines(path):
        if header is None:
            header = line.split("\t")
            missing = [f for f in names if f not in header]
            if missing:
                raise InputError(f"header is missing field {missing[0]!r} (expected {' '.join(names)})",
                                 path, n)
            continue
        cols = line.split("\t")
        if len(cols) < len(header):
            raise InputError(f"missing field {header[len(cols)]!r}: expected {len(header)} columns", path, n)
        row = dict(zip(header, cols, strict=False))
        if row["label"].strip() not in ("0", "1"):
            raise InputError(f"field 'label' is {row['label']!r}; expected 0 or 1", path, n)
        items.append({"id": row["id"], "sentence1": row["sentence1"], "sentence2": row["sentence2"],
                      "label": int(row["label"])})
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


def _xwinograd_tsv(path: Path, code: str) -> list[dict]:
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


def _xstorycloze_tsv(path: Path) -> list[dict]:
    items = []
    names = ["story_id", *STORY_FIELDS, "answer_right_ending"]
    for n, line in _lines(path):
        if n == 1 and line.startswith("InputStoryid"):
            continue
        cols = _columns(path, n, line, names)
        if cols[7].strip() not in ("1", "2"):
            raise InputError(f"field 'answer_right_ending' is {cols[7]!r}; expected 1 or 2", path, n)
        item = {"id": cols[0], **dict(zip(STORY_FIELDS, cols[1:7], strict=True)), "label": int(cols[7]) - 1}
        items.append(item)
    return items


def _hub_dataset(path: str, name: str, split: str):
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
    name = hub.get("name", "{code}").format(code=spec.code(lang), lang=lang)
    rows = _hub_dataset(hub_id or hub["path"], name, split)
    return [_from_hub(spec.name, dict(row), i) for i, row in enumerate(rows)]


def _from_hub(task: str, row: dict, i: int) -> dict:
    where = f"{task} hub row {i}"

    def need(*fields):
        for f in fields:
            if f not in row or row[f] is None:
                raise ConfigError(f"{where}: missing field {f!r} (fields: {', '.join(row)})")

    if task == "xnli":
        need("premise", "hypothesis", "label")
        return {"id": str(i), "premise": row["premise"], "hypothesis": row["hypothesis"],
                "label": int(row["label"])}
    if task == "xcopa":
        need("premise", "choice1", "choice2", "question", "label")
        fields = ("premise", "choice1", "choice2", "question")
        return {"id": str(row.get("idx", i)), **{f: row[f] for f in fields},
                "label": int(row["label"])}
    if task == "pawsx":
        need("sentence1", "sentence2", "label")
        return {"id": str(row.get("id", i)), "sentence1": row["sentence1"], "sentence2": row["sentence2"],
                "label": int(row["label"])}
    if task == "xwinograd":
        need("sentence", "option1", "option2", "answer")
        return {"id": str(i), "sentence": row["sentence"], "option1": row["option1"],
                "option2": row["option2"],
                "label": int(row["answer"]) - 1}
    if task == "xstorycloze":
        need(*STORY_FIELDS, "answer_right_ending")
        return {"id": str(row.get("story_id", i)), **{f: row[f] for f in STORY_FIELDS},
                "label": int(row["answer_right_ending"]) - 1}
    raise ConfigError(f"no hub field mapping for task {task!r}; built-in tasks: xnli, xcopa, pawsx, "
                      "xwinograd, xstorycloze")


"""Translation pairs from a parallel benchmark: XCOPA items and their published English translations.

    pairs = xcopa_pairs("../shared/data", "sw", "validation", ["premise", "choice1", "choice2"])
    english, swahili = pairs                      # row i of the two lists translate each other

XCOPA ships every item of every language machine-translated to English (``data-gmt``, the same
``idx``): ``xcopa/data/{code}/{val,test}.{code}.jsonl`` and ``xcopa/data-gmt/{code}/...``. The study
fits its steering maps on the validation split (development data) and measures per-language
alignment on the test split's premises (the text the ICL items are made of).
"""

from __future__ import annotations

from pathlib import Path

from crossalign.errors import ConfigError, InputError
from crossalign.io import iter_jsonl

SPLIT_FILES = {"validation": "val", "test": "test"}
XCOPA_PARALLEL_LANGUAGES = ["et", "ht", "id", "it", "qu", "sw", "ta", "th", "tr", "vi", "zh"]


def _read(path: Path, fields: list[str]) -> dict:
    if not path.is_file():
        raise ConfigError(f"{path} not found (XCOPA in its published layout: xcopa/data and xcopa/data-gmt)")
    rows = {}
    for lineno, row in iter_jsonl(path):
        missing = [f for f in ["idx", *fields] if not isinstance(row, dict) or f not in row]
        if missing:
            raise InputError(f"missing field(s) {missing}", path, lineno)
        rows[row["idx"]] = [str(row[f]) for f in fields]
    return rows


def xcopa_pairs(data_dir: str | Path, lang: str, split: str, fields: list[str],
                limit: int | None = None) -> tuple[list[str], list[str]]:
    """``(English sentences, lang sentences)`` of ``fields`` of the first ``limit`` items of ``split``
    (items in file order, fields in the given order), matched by ``idx``."""
    if split not in SPLIT_FILES:
        raise ConfigError(f"xcopa split {split!r}: choose from {list(SPLIT_FILES)}")
    name = f"{SPLIT_FILES[split]}.{lang}.jsonl"
    root = Path(data_dir) / "xcopa"
    other = _read(root / "data" / lang / name, fields)
    english = _read(root / "data-gmt" / lang / name, fields)
    ids = list(other)[:limit] if limit else list(other)
    absent = [i for i in ids if i not in english]
    if absent:
        raise InputError(f"items {absent[:5]} have no English translation", root / "data-gmt" / lang / name)
    eng = [s for i in ids for s in english[i]]
    out = [s for i in ids for s in other[i]]
    return eng, out


def available_languages(data_dir: str | Path, split: str) -> list[str]:
    """The XCOPA languages with both files of ``split`` in ``data_dir``."""
    root, name = Path(data_dir) / "xcopa", SPLIT_FILES[split]
    return [x for x in XCOPA_PARALLEL_LANGUAGES
            if all((root / part / x / f"{name}.{x}.jsonl").is_file() for part in ("data", "data-gmt"))]

"""Translation pairs from a Hugging Face dataset: a hub id, a ``save_to_disk`` folder, or a data file.

Where the dataset comes from (:func:`load_hf`):

* a folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk`` -> ``load_from_disk``;
* any other folder (e.g. a clone of a hub repository) -> ``load_dataset(folder, name)``;
* a local ``.json``/``.jsonl``/``.csv``/``.tsv``/``.parquet`` file -> the matching builder;
* anything else is taken as a hub id -> ``load_dataset(id, name, split=split)``.
  Remote code is never run.

Which columns hold the pair (:func:`read_hf_pairs`): ``src_field``/``tgt_field`` when both
exist, else the dict column ``translation_field`` of the OPUS / WMT datasets
(``{"translation": {"de": "...", "en": "..."}}``) indexed by the language codes as the
dataset spells them. Languages come from ``src_lang``/``tgt_lang``, else from a config
name such as ``de-en``, else from per-row fields ``src_lang_field``/``tgt_lang_field``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from crossalign.data.pairs import Pair, lang_code, same_language_error
from crossalign.errors import InputError

_BUILDERS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet"}


def is_saved_dataset(path: Path) -> bool:
    """True for a folder written by ``save_to_disk`` (a Dataset or a DatasetDict)."""
    return path.is_dir() and ((path / "dataset_dict.json").exists() or (path / "state.json").exists())


def load_hf(source: str | Path, split: str = "train", name: str | None = None):
    """A ``datasets.Dataset`` for ``split`` of ``source`` (see the module docstring for the rules)."""
    # Here, not at the top: `crossalign generate --help` imports this module, and datasets takes
    # ~1 s to import (measured) where the whole command needs 0.15 s.
    import datasets

    path = Path(source)
    try:
        if is_saved_dataset(path):
            ds = datasets.load_from_disk(str(path))
            if isinstance(ds, datasets.DatasetDict):
                if split not in ds:
                    raise InputError(f"no split {split!r} in this dataset; it has {sorted(ds)}", path)
                ds = ds[split]
            return ds
        if path.is_file():
            builder = _BUILDERS.get(path.suffix.lower())
            if builder is None:
                raise InputError(
                    f"cannot load {path.suffix!r} files as a dataset; use one of {sorted(_BUILDERS)}", path
                )
            kwargs = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
            return datasets.load_dataset(builder, data_files=str(path), split="train", **kwargs)
        if path.is_dir():
            return datasets.load_dataset(str(path), name, split=split)
        return datasets.load_dataset(str(source), name, split=split)
    except InputError:
        raise
    except (FileNotFoundError, ValueError, OSError, datasets.exceptions.DatasetNotFoundError) as exc:
        raise InputError(f"cannot load dataset: {exc}", source) from None


def _langs_from_config(name: str | None) -> tuple[str, str] | None:
    if name and name.count("-") == 1:
        a, b = name.split("-")
        return a, b
    return None


def read_hf_pairs(
    source: str | Path,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    src_field: str = "src",
    tgt_field: str = "tgt",
    translation_field: str = "translation",
    src_lang_field: str | None = None,
    tgt_lang_field: str | None = None,
    split: str = "train",
    name: str | None = None,
    skip_invalid: bool = False,
    drops: Counter | None = None,
) -> Iterator[Pair]:
    """Pairs from the rows of a Hugging Face dataset; bad rows are errors naming the row, or counted skips."""
    ds = load_hf(source, split=split, name=name)
    columns = list(ds.column_names)
    where = f"{source}[{split}]"
    counter = drops if drops is not None else Counter()
    per_row = src_lang_field is not None and tgt_lang_field is not None
    if (src_lang_field is None) != (tgt_lang_field is None):
        raise InputError("give both src_lang_field and tgt_lang_field, or neither", source)
    raw_langs = (src_lang, tgt_lang) if src_lang and tgt_lang else _langs_from_config(name)
    if src_field in columns and tgt_field in columns:
        dict_column = None
    elif translation_field in columns:
        dict_column = translation_field
        if raw_langs is None and not per_row:
            raise InputError(
                f"column {translation_field!r} holds translations keyed by language: give src_lang and "
                "tgt_lang as the dataset spells them (e.g. 'de' and 'en')", where,
            )
    else:
        raise InputError(
            f"no columns {src_field!r}/{tgt_field!r} and no {translation_field!r} column; the dataset has "
            f"{columns}: set src_field/tgt_field", where,
        )
    if not per_row and raw_langs is None:
        raise InputError("cannot tell the languages of this dataset: give src_lang and tgt_lang", where)
    fixed = None if per_row else (lang_code(raw_langs[0], where), lang_code(raw_langs[1], where))
    if fixed is not None and fixed[0] == fixed[1]:
        how = "src_lang and tgt_lang as given" if src_lang and tgt_lang else f"from the configuration name {name!r}"
        raise same_language_error(fixed[0], how, where)
    needed = [src_field, tgt_field] if dict_column is None else [dict_column]
    if per_row:
        missing = [c for c in (src_lang_field, tgt_lang_field) if c not in columns]
        if missing:
            raise InputError(f"no language column(s) {missing}; the dataset has {columns}", where)
        needed += [src_lang_field, tgt_lang_field]
    ds = ds.select_columns(list(dict.fromkeys(needed)))  # rows of wide datasets stay cheap
    for i, row in enumerate(ds):
        rowno = i + 1  # 1-based, as for lines
        if per_row:
            sl = lang_code(str(row.get(src_lang_field)), where, rowno)
            tl = lang_code(str(row.get(tgt_lang_field)), where, rowno)
            keys = (row.get(src_lang_field), row.get(tgt_lang_field))
        else:
            sl, tl = fixed
            keys = raw_langs
        if dict_column is None:
            values = (row.get(src_field), row.get(tgt_field))
        else:
            d = row.get(dict_column) or {}
            values = (d.get(keys[0]), d.get(keys[1]))
        bad = None
        if dict_column is None:
            names = (repr(src_field), repr(tgt_field))
        else:
            names = (f"{dict_column}[{keys[0]!r}]", f"{dict_column}[{keys[1]!r}]")
        wrong = [(n, v) for n, v in zip(names, values, strict=True) if not isinstance(v, str)]
        if sl == tl:
            how = f"columns {src_lang_field!r} and {tgt_lang_field!r}"
            bad = ("same_language", same_language_error(sl, how, where).reason)
        elif wrong:
            n, v = wrong[0]
            bad = ("null_field", f"{n} is missing or null") if v is None else (
                "not_a_string", f"{n} holds {type(v).__name__}, not a string")
        elif not values[0].strip() or not values[1].strip():
            bad = ("empty_text", "empty text")
        if bad is not None:
            if not skip_invalid:
                raise InputError(f"{bad[1]} (row {rowno})", where, rowno)
            counter[bad[0]] += 1
            continue
        yield Pair(sl, tl, values[0].strip(), values[1].strip(), f"{where}:{rowno}")

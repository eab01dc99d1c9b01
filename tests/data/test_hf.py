"""Hugging Face datasets as pair sources, offline: save_to_disk folders and local data files."""

from __future__ import annotations

import json
from collections import Counter

import datasets
import pytest

from crossalign.data.hf import read_hf_pairs
from crossalign.data.sources import PairsSpec, infer_format, read_pairs
from crossalign.errors import InputError


def test_saved_dataset_dict_with_translation_column(tmp_path):
    # the OPUS / WMT layout: {"translation": {"de": ..., "en": ...}}, config name "de-en"
    rows = [{"de": "Guten Morgen", "en": "Good morning"}, {"de": "Danke", "en": "Thanks"}]
    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"translation": rows}),
            "validation": datasets.Dataset.from_dict({"translation": rows[:1]}),
        }
    )
    folder = tmp_path / "opus_de_en"
    dd.save_to_disk(str(folder))
    assert infer_format(str(folder)) == "hf"
    pairs = list(read_pairs(PairsSpec(paths=[str(folder)], hf_name="de-en")))
    assert [(p.langs, p.src, p.tgt) for p in pairs] == [
        ("de-en", "Guten Morgen", "Good morning"),
        ("de-en", "Danke", "Thanks"),
    ]
    # the other direction, another split, languages given explicitly
    val = list(read_hf_pairs(folder, src_lang="en", tgt_lang="de", split="validation"))
    assert [(p.langs, p.src) for p in val] == [("en-de", "Good morning")]
    with pytest.raises(InputError, match=r"no split 'test'.*\['train', 'validation'\]"):
        list(read_hf_pairs(folder, src_lang="en", tgt_lang="de", split="test"))
    with pytest.raises(InputError, match="give src_lang and tgt_lang"):
        list(read_hf_pairs(folder))


def test_saved_dataset_with_columns_and_bad_rows(tmp_path):
    ds = datasets.Dataset.from_dict({"english": ["Yes", "No", ""], "french": ["Oui", "Non", "Rien"]})
    folder = tmp_path / "yn"
    ds.save_to_disk(str(folder))
    spec = PairsSpec(
        paths=[str(folder)], src_field="english", tgt_field="french", src_lang="en", tgt_lang="fr"
    )
    with pytest.raises(InputError, match=r"yn\[train\]:3: empty text"):
        list(read_pairs(spec))
    drops = Counter()
    spec.skip_invalid = True
    assert [p.tgt for p in read_pairs(spec, drops)] == ["Oui", "Non"]
    assert drops == Counter({"empty_text": 1})
    with pytest.raises(InputError, match=r"no columns 'src'/'tgt'.*\['english', 'french'\]"):
        list(read_hf_pairs(folder, src_lang="en", tgt_lang="fr"))


def test_local_json_and_csv_data_files(tmp_path):
    jl = tmp_path / "pairs.json"
    jl.write_text(
        "\n".join(json.dumps({"src": s, "tgt": t}) for s, t in [("cat", "gato"), ("dog", "perro")]) + "\n"
    )
    pairs = list(read_pairs(PairsSpec(paths=[str(jl)], src_lang="en", tgt_lang="es")))
    assert [(p.src, p.tgt, p.langs) for p in pairs] == [("cat", "gato", "en-es"), ("dog", "perro", "en-es")]
    csv = tmp_path / "pairs.csv"
    csv.write_text("src,tgt,sl,tl\nhello,ciao,en,it\nbye,tschüss,eng,deu\n", encoding="utf-8")
    spec = PairsSpec(paths=[str(csv)], src_lang_field="sl", tgt_lang_field="tl")
    assert [(p.langs, p.tgt) for p in read_pairs(spec)] == [("en-it", "ciao"), ("en-de", "tschüss")]


def test_missing_dataset_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot load dataset"):
        list(read_hf_pairs(tmp_path / "nothing-here", src_lang="en", tgt_lang="de"))


def test_null_texts_and_one_language_on_both_sides(tmp_path):
    ds = datasets.Dataset.from_dict(
        {"s": ["Yes", "No", "Hi"], "t": ["Ja", None, "Hallo"], "sl": ["en", "en", "de"], "tl": ["de", "de", "deu"]}
    )
    folder = tmp_path / "rows"
    ds.save_to_disk(str(folder))
    spec = PairsSpec(paths=[str(folder)], src_field="s", tgt_field="t", src_lang_field="sl", tgt_lang_field="tl")
    with pytest.raises(InputError, match=r"rows\[train\]:2: 't' is missing or null \(row 2\)"):
        list(read_pairs(spec))
    spec.skip_invalid = True
    drops = Counter()
    assert [p.src for p in read_pairs(spec, drops)] == ["Yes"]
    assert drops == Counter({"null_field": 1, "same_language": 1})
    with pytest.raises(InputError, match=r"rows\[train\]: source and target language are both 'de' \(from the conf"):
        list(read_hf_pairs(folder, src_field="s", tgt_field="t", name="de-deu"))

"""Bactrian-X-layout instruction data: alignment by id, mismatches, empty outputs, bad files."""

from __future__ import annotations

import gzip
import json

import datasets
import pytest

from crossalign.data.instructions import read_instruction_file, read_instructions
from crossalign.errors import InputError


def items(lang: str, n: int, empty_output: tuple[int, ...] = (), shuffle: bool = False) -> list[dict]:
    rows = [
        {
            "id": f"alpaca-{i}",
            "instruction": f"[{lang}] instruction {i}",
            "input": f"[{lang}] input {i}" if i % 3 == 0 else "",
            "output": "" if i in empty_output else f"[{lang}] output {i}",
        }
        for i in range(n)
    ]
    return rows[::-1] if shuffle else rows


def write_bx(folder, data: dict[str, list[dict]]):
    folder.mkdir(parents=True, exist_ok=True)
    for lang, rows in data.items():
        (folder / f"{lang}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    return folder


def test_aligned_by_id_not_by_position(tmp_path):
    folder = write_bx(tmp_path / "bx", {"en": items("en", 6), "zh": items("zh", 6, shuffle=True)})
    data = read_instructions(folder, ["en", "zho"])  # any code of the language finds zh.json
    assert data.languages == ["en", "zh"] and data.pivot == "en"
    assert data.ids == [f"alpaca-{i}" for i in range(6)]  # the pivot's order
    for en, zh in zip(data.items["en"], data.items["zh"], strict=True):
        assert en.id == zh.id and en.output.replace("[en]", "[zh]") == zh.output


def test_a_script_subtag_names_its_own_language_file(tmp_path):
    # Traditional Chinese is its own language: zh-Hant.json, found by any spelling of it, never zho.json
    folder = write_bx(tmp_path / "bx", {"en": items("en", 4), "zho": items("zh", 4), "zh-Hant": items("zh-Hant", 4),
                                        "nso": items("nso", 4)})
    for code in ("zh-Hant", "zho_Hant", "zh_TW"):
        data = read_instructions(folder, ["en", code])
        assert data.languages == ["en", "zh-Hant"] and data.items["zh-Hant"][0].output == "[zh-Hant] output 0"
    assert read_instructions(folder, ["en", "zh-Hans"]).items["zh"][0].output == "[zh] output 0"
    assert read_instructions(folder, ["en", "nso_Latn"]).languages == ["en", "nso"]  # a FLORES-200 code
    (folder / "zh-Hant.json").unlink()
    with pytest.raises(InputError, match=r"no zh_TW\.json"):
        read_instructions(folder, ["en", "zh_TW"])


def test_empty_outputs_are_dropped_in_every_language_and_counted(tmp_path):
    folder = write_bx(
        tmp_path / "bx", {"en": items("en", 10, (2,)), "de": items("de", 10, (5, 7)), "sw": items("sw", 10)}
    )
    data = read_instructions(folder, ["en", "de", "sw"])
    assert len(data) == 7
    assert "alpaca-2" not in data.ids and "alpaca-5" not in data.ids
    assert data.drops == {"empty_output (en)": 1, "empty_output (de)": 2}
    assert all(len(v) == 7 for v in data.items.values())


def test_id_mismatch_lists_examples(tmp_path):
    de = items("de", 8)
    de[3]["id"] = "dolly-99"
    folder = write_bx(tmp_path / "bx", {"en": items("en", 8), "de": de})
    with pytest.raises(InputError) as err:
        read_instructions(folder, ["en", "de"])
    msg = str(err.value)
    assert msg.startswith(str(folder / "de.json"))
    assert "'alpaca-3'" in msg and "'dolly-99'" in msg and "allow_id_mismatch" in msg
    data = read_instructions(folder, ["en", "de"], allow_id_mismatch=True)
    assert len(data) == 7 and data.drops["id_not_in_every_language"] == 2


@pytest.mark.parametrize(
    ("mutate", "line", "needle"),
    [
        (lambda rows: rows[2].pop("output"), 14, "missing field(s) ['output']"),
        (lambda rows: rows[1].update(instruction=["not", "text"]), 8, "field 'instruction' must be a string"),
        (lambda rows: rows[3].update(id="alpaca-1"), 20, "duplicate id 'alpaca-1'"),
    ],
)
def test_bad_items_name_file_and_line(tmp_path, mutate, line, needle):
    rows = items("de", 5)
    mutate(rows)
    folder = write_bx(tmp_path / "bx", {"en": items("en", 5), "de": rows})
    with pytest.raises(InputError) as err:
        read_instructions(folder, ["en", "de"])
    assert str(err.value).startswith(f"{folder / 'de.json'}:{line}: ") and needle in str(err.value)


def test_malformed_json_and_missing_language(tmp_path):
    folder = write_bx(tmp_path / "bx", {"en": items("en", 3)})
    text = json.dumps(items("de", 3), indent=2).replace('"output": "[de] output 1"', '"output": "x",,')
    (folder / "de.json").write_text(text)
    with pytest.raises(InputError, match=r"de\.json:\d+: not valid JSON"):
        read_instructions(folder, ["en", "de"])
    with pytest.raises(InputError, match=r"no fr\.json"):
        read_instructions(folder, ["en", "fr"])
    with pytest.raises(InputError, match="unknown language code 'xx'"):
        read_instructions(folder, ["en", "xx"])
    with pytest.raises(InputError, match="at least two languages"):
        read_instructions(folder, ["en"])


def test_json_lines_and_null_input(tmp_path):
    f = tmp_path / "en.jsonl"
    f.write_text('{"id": 1, "instruction": "Say hi", "input": null, "output": "hi"}\n', encoding="utf-8")
    (item,) = read_instruction_file(f)
    assert (item.id, item.input, item.origin) == ("1", "", f"{f}:1")


def test_hub_layout_through_saved_datasets(tmp_path):
    # MBZUAI/Bactrian-X has one configuration per language; offline we use the same layout on disk
    for lang in ("en", "ar"):
        datasets.Dataset.from_list(items(lang, 4)).save_to_disk(str(tmp_path / "hub" / lang))
    data = read_instructions(tmp_path / "hub", ["en", "ar"])
    assert len(data) == 4 and data.items["ar"][1].output == "[ar] output 1"
    assert data.items["ar"][1].origin.endswith("ar:2")


def test_clone_of_the_hub_repository_with_gzipped_files(tmp_path):
    data = tmp_path / "Bactrian-X" / "data"
    data.mkdir(parents=True)
    for lang in ("en", "vi"):
        (data / f"{lang}.json.gz").write_bytes(gzip.compress(json.dumps(items(lang, 5)).encode()))
    loaded = read_instructions(tmp_path / "Bactrian-X", ["en", "vi"])
    assert len(loaded) == 5 and loaded.items["vi"][4].output == "[vi] output 4"


def test_hub_script_dataset_falls_back_to_raw_files(tmp_path, monkeypatch):
    import huggingface_hub

    from crossalign.data import hf

    def refuse(source, split="train", name=None):
        raise InputError("Dataset scripts are no longer supported", source)

    fetched = []

    def download(repo_id, filename, repo_type=None):
        assert (repo_id, repo_type) == ("MBZUAI/Bactrian-X", "dataset")
        fetched.append(filename)
        lang = filename.split("/")[-1].split(".")[0]
        path = tmp_path / filename.replace("/", "_")
        path.write_bytes(gzip.compress(json.dumps(items(lang, 3)).encode()))
        return str(path)

    monkeypatch.setattr(hf, "load_hf", refuse)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    loaded = read_instructions("MBZUAI/Bactrian-X", ["en", "zho"])
    assert fetched == ["data/en.json.gz", "data/zh.json.gz"]
    assert loaded.languages == ["en", "zh"] and len(loaded) == 3

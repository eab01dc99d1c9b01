"""Loading: every task in the shared data in every language it has, the XStoryCloze layout,
the hub path through save_to_disk folders, and clear errors for files in the wrong layout."""

from __future__ import annotations

import json

import pytest

from crossalign.errors import ConfigError, InputError
from crossalign.eval.loaders import load_items
from crossalign.eval.tasks import load_task

# What ../shared/data holds: task -> {language: splits}
SHARED = {
    "xnli": {lang: ["validation"] for lang in ("en", "zh")},
    "xcopa": {
        lang: ["validation", "test"] for lang in ("en", "et", "id", "it", "sw", "th", "tr", "vi", "zh")
    },
    "pawsx": {lang: ["validation", "test"] for lang in ("de", "en", "es", "fr", "ja", "ko", "zh")},
    "xwinograd": {lang: ["test"] for lang in ("en", "fr", "ja", "pt", "ru", "zh")},
}
SIZES = {
    ("xcopa", "validation"): 100,
    ("xcopa", "test"): 500,
    ("pawsx", "validation"): 2000,
    ("pawsx", "test"): 2000,
    ("xnli", "validation"): 2490,
}


@pytest.mark.parametrize("task", list(SHARED))
def test_every_shared_language_loads(task, shared_data):
    spec = load_task(task)
    n_choices = {"xnli": 3}.get(task, 2)
    for lang, splits in SHARED[task].items():
        for split in splits:
            items = load_items(spec, lang, split, shared_data)
            assert len(items) == SIZES.get((task, split), len(items)) > 0
            assert len({it["id"] for it in items}) == len(items)
            assert {it["label"] for it in items} <= set(range(n_choices))
            assert len({it["label"] for it in items}) == n_choices  # every class occurs


def test_xnli_labels_and_parallel_ids(shared_data):
    spec = load_task("xnli")
    en, zh = (load_items(spec, lang, "validation", shared_data) for lang in ("en", "zh"))
    assert [it["label"] for it in en] == [it["label"] for it in zh]
    assert en[0]["premise"] == "And he said, Mama, I'm home." and en[0]["label"] == 1  # neutral


def test_xwinograd_blank_conversion(shared_data):
    items = load_items(load_task("xwinograd"), "en", "test", shared_data)
    first = items[0]
    assert (
        first["sentence"]
        == "The city councilmen refused the demonstrators a permit because _ feared violence."
    )
    assert (first["option1"], first["option2"], first["label"]) == (
        "The city councilmen",
        "the demonstrators",
        0,
    )
    assert all(it["sentence"].count("_") >= 1 for it in items)
    ja = load_items(load_task("xwinograd"), "jp", "test", shared_data)  # dataset spelling accepted
    assert len(ja) == 959 and "_" in ja[0]["sentence"]


def test_xstorycloze_published_layout(tmp_path, xstorycloze_files):
    for header in (True, False):
        root = xstorycloze_files(tmp_path / f"h{header}", header=header)
        spec = load_task("xstorycloze")
        train = load_items(spec, "en", "train", root)
        ev = load_items(spec, "es", "eval", root)
        assert len(train) == 6 and len(ev) == 3
        assert train[0]["input_sentence_1"] == "Tom went to the store." and train[0]["label"] == 1
        assert ev[0]["sentence_quiz2"] == "Lee aprobó el examen." and ev[0]["label"] == 1


NEW_TASK = """# a task of one's own: nothing else to write for a file in a known layout
name: quiz
languages: [en, de]
splits: [dev, test]
eval_split: test
demo_split: dev
test_splits: [test]
fields: [question, a, b]
hub:
  path: someone/quiz
  id: qid
  label: {field: answer, values: {A: 0, B: 1}}
local:
  layout: tsv
  header: true
  id: qid
  columns: [qid, question, a, b, answer]
  label: {field: answer, values: {A: 0, B: 1}}
  files: {dev: "quiz/{lang}.dev.tsv", test: "quiz/{lang}.test.tsv"}
default_template: plain
templates:
  plain: {context: "{question}", choices: [" {a}", " {b}"]}
"""


def test_a_new_task_in_a_known_layout_is_one_file(tmp_path):
    import datasets

    from crossalign.eval.render import render

    task = tmp_path / "quiz.yaml"
    task.write_text(NEW_TASK, encoding="utf-8")
    for split in ("dev", "test"):
        _write(tmp_path / "data" / "quiz" / f"en.{split}.tsv",
               "answer\tqid\tquestion\ta\tb\nB\tq1\tSky?\tgreen\tblue\nA\tq2\tGrass?\tgreen\tred\n")
    spec = load_task(str(task))
    items = load_items(spec, "en", "test", tmp_path / "data")
    assert items == [{"id": "q1", "question": "Sky?", "a": "green", "b": "blue", "label": 1},
                     {"id": "q2", "question": "Grass?", "a": "green", "b": "red", "label": 0}]
    assert render(spec, None, items[0], "en", "en").pairs == [("Sky?", " green"), ("Sky?", " blue")]
    _write(tmp_path / "data" / "quiz" / "en.dev.tsv", "qid\tquestion\ta\tb\tanswer\nq1\tSky?\tx\ty\tC\n")
    with pytest.raises(InputError, match="field 'answer' is 'C'; expected A or B"):
        load_items(spec, "en", "dev", tmp_path / "data")
    rows = {"qid": [5], "question": ["Q"], "a": ["x"], "b": ["y"], "answer": ["B"]}
    datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows)}).save_to_disk(str(tmp_path / "hub" / "de"))
    assert load_items(spec, "de", "test", hub_id=str(tmp_path / "hub")) == [
        {"id": "5", "question": "Q", "a": "x", "b": "y", "label": 1}]


@pytest.mark.parametrize("old,new,words", [
    ("layout: tsv", "layout: csv", "unknown local layout 'csv'; valid layouts: tsv, jsonl, xwinograd_tsv"),
    ("header: true", "header: true\n  allowed: {colour: [red]}", "local.allowed names 'colour'"),
    ("columns: [qid, question, a, b, answer]", "columns: [qid, question, a, answer]", "has no 'b'"),
    ("  id: qid\n  label: {field: answer, values: {A: 0, B: 1}}\nlocal:", "local:", "hub has no `label`"),
])
def test_mistakes_in_a_field_map_are_named(tmp_path, old, new, words):
    assert old in NEW_TASK
    task = tmp_path / "quiz.yaml"
    task.write_text(NEW_TASK.replace(old, new), encoding="utf-8")
    _write(tmp_path / "data" / "quiz" / "en.test.tsv", "qid\tquestion\ta\tb\tanswer\nq1\tSky?\tx\ty\tA\n")
    source = {"hub_id": str(tmp_path / "nowhere")} if "hub" in words else {"data_dir": tmp_path / "data"}
    with pytest.raises(ConfigError, match=words):
        load_items(load_task(str(task)), "en", "test", **source)


def test_hub_path_through_save_to_disk(tmp_path):
    import datasets

    rows = {
        "premise": ["P1.", "P2."],
        "choice1": ["A", "B"],
        "choice2": ["C", "D"],
        "question": ["cause", "effect"],
        "label": [1, 0],
        "idx": [7, 8],
        "changed": [False, False],
    }
    datasets.DatasetDict(
        {"validation": datasets.Dataset.from_dict(rows), "test": datasets.Dataset.from_dict(rows)}
    ).save_to_disk(str(tmp_path / "zh"))
    items = load_items(load_task("xcopa"), "zh", "test", hub_id=str(tmp_path))
    assert items[1] == {
        "id": "8",
        "premise": "P2.",
        "choice1": "B",
        "choice2": "D",
        "question": "effect",
        "label": 0,
    }
    story = {
        "story_id": ["s"],
        "input_sentence_1": ["a"],
        "input_sentence_2": ["b"],
        "input_sentence_3": ["c"],
        "input_sentence_4": ["d"],
        "sentence_quiz1": ["e"],
        "sentence_quiz2": ["f"],
        "answer_right_ending": [2],
    }
    datasets.DatasetDict({"eval": datasets.Dataset.from_dict(story)}).save_to_disk(str(tmp_path / "s" / "en"))
    (item,) = load_items(load_task("xstorycloze"), "en", "eval", hub_id=str(tmp_path / "s"))
    assert item["label"] == 1 and item["sentence_quiz2"] == "f"
    wino = {"sentence": ["A _ b."], "option1": ["x"], "option2": ["y"], "answer": ["2"]}
    datasets.DatasetDict({"test": datasets.Dataset.from_dict(wino)}).save_to_disk(str(tmp_path / "w" / "jp"))
    (item,) = load_items(load_task("xwinograd"), "ja", "test", hub_id=str(tmp_path / "w"))
    assert item["label"] == 1


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path.parent.parent


@pytest.mark.parametrize(
    "task,rel,text,line,field",
    [
        ("xnli", "xnli/dev-en.tsv", "a\tb\tneutral\nc\td\n", 2, "label"),
        ("xnli", "xnli/dev-en.tsv", "a\tb\tmaybe\n", 1, "label"),
        (
            "xcopa",
            "xcopa/data/it/val.it.jsonl",
            json.dumps({"premise": "p", "choice1": "a", "question": "cause", "label": 0}) + "\n",
            1,
            "choice2",
        ),
        ("xcopa", "xcopa/data/it/val.it.jsonl", "{not json\n", 1, "JSON"),
        ("pawsx", "pawsx/de/dev_2k.tsv", "id\tsentence1\tlabel\n1\ta\t1\n", 1, "sentence2"),
        ("pawsx", "pawsx/de/dev_2k.tsv", "id\tsentence1\tsentence2\tlabel\n1\ta\n", 2, "sentence2"),
        (
            "xwinograd",
            "xwinograd/dataset.tsv",
            'fr\tsrc\t?\tIl pleut.\t["Il"]\n',
            1,
            "missing field 'pronoun'",
        ),
    ],
)
def test_wrong_layout_names_file_line_field(tmp_path, task, rel, text, line, field):
    _write(tmp_path / rel, text)
    split = {"xnli": "validation", "xcopa": "validation", "pawsx": "validation", "xwinograd": "test"}[task]
    lang = {"xnli": "en", "xcopa": "it", "pawsx": "de", "xwinograd": "fr"}[task]
    with pytest.raises(InputError) as err:
        load_items(load_task(task), lang, split, tmp_path)
    assert err.value.path == str(tmp_path / rel) and err.value.line == line
    assert field in str(err.value)


def test_missing_local_split_lists_present_ones(shared_data):
    with pytest.raises(ConfigError, match=r"test-en.tsv not found.*splits present.*validation"):
        load_items(load_task("xnli"), "en", "test", shared_data)

"""Task files, words and templates: every shipped template renders in every language of its
task, and bad names are errors that list the valid options."""

from __future__ import annotations

import pytest

from crossalign.errors import ConfigError
from crossalign.eval.render import render
from crossalign.eval.runner import EvalConfig
from crossalign.eval.tasks import TASK_DIR, TASKS, load_task, parse_task, select_task, task_names
from crossalign.eval.words import MissingWordError, word
from crossalign.languages import UnknownLanguageError

ITEMS = {
    "xnli": {"id": "0", "premise": "P.", "hypothesis": "H.", "label": 2},
    "xcopa": {"id": "0", "premise": "P.", "choice1": "A.", "choice2": "B.", "question": "effect", "label": 1},
    "pawsx": {"id": "0", "sentence1": "S one.", "sentence2": "S two.", "label": 1},
    "xstorycloze": {
        "id": "0",
        "input_sentence_1": "a",
        "input_sentence_2": "b",
        "input_sentence_3": "c",
        "input_sentence_4": "d",
        "sentence_quiz1": "e",
        "sentence_quiz2": "f",
        "label": 0,
    },
    "xwinograd": {
        "id": "0",
        "sentence": "The cup fell because _ was full.",
        "option1": "the cup",
        "option2": "the table",
        "label": 0,
    },
}


@pytest.mark.parametrize("task", TASKS)
def test_every_template_renders_in_every_language(task):
    assert task in ITEMS, f"add an example item of task {task} to ITEMS"
    spec = load_task(task)
    for template in spec.templates:
        for lang in spec.languages:
            for prompt_lang in {lang, "en"} & set(spec.languages):
                r = render(spec, template, ITEMS[task], lang, prompt_lang)
                assert len({p for p in r.pairs}) == len(r.pairs) >= 2  # choices differ
                assert all(cont for _, cont in r.pairs)


def test_reference_templates():
    assert render(load_task("xnli"), "afp", ITEMS["xnli"], "en", "en").pairs[2] == ("P., right?", " No, H.")
    zh = render(load_task("pawsx"), "afp", ITEMS["pawsx"], "zh", "zh").pairs
    assert zh[1] == ("S one.，对吗？", " 对，S two.")
    copa = render(load_task("xcopa"), "afp", ITEMS["xcopa"], "it", "en")
    assert copa.pairs[0] == ("effect: P. so", " A.") and copa.demo() == "effect: P. so B."
    lm = render(load_task("xcopa"), "lm_eval", ITEMS["xcopa"], "zh", "zh").pairs
    assert lm == [("P 所以", " a."), ("P 所以", " b.")]
    wino = render(load_task("xwinograd"), "lm_eval", ITEMS["xwinograd"], "en", "en")
    assert wino.pairs == [
        ("The cup fell because the cup", " was full."),
        ("The cup fell because the table", " was full."),
    ]
    assert wino.demo() == "The cup fell because the cup was full."


def test_missing_word_names_task_language_word():
    with pytest.raises(MissingWordError, match=r"task xnli: .*language 'ja'.*'right'"):
        word("xnli", "ja", "right", task="xnli")
    with pytest.raises(MissingWordError, match=r"task xcopa: language 'zh' has no word 'maybe'"):
        word("xcopa", "zh", "maybe", task="xcopa")
    # a cross-lingual prompt in a language without words is an error, not an English fallback
    with pytest.raises(MissingWordError, match="task xcopa"):
        render(load_task("xcopa"), "afp", ITEMS["xcopa"], "it", "de")


def test_bad_names_list_valid_options():
    with pytest.raises(ConfigError, match="valid tasks: xnli, xcopa, pawsx, xstorycloze, xwinograd"):
        load_task("copa")
    spec = load_task("pawsx")
    with pytest.raises(ConfigError, match="valid languages: de, en, es, fr, ja, ko, zh"):
        spec.check_language("it")
    with pytest.raises(UnknownLanguageError, match="'xx'"):
        spec.check_language("xx")
    with pytest.raises(ConfigError, match="valid splits: train, validation, test"):
        spec.check_split("dev")
    with pytest.raises(ConfigError, match="valid templates: afp, lm_eval"):
        spec.template("gpt3", "en")


def test_tasks_are_the_files_of_the_task_folder(tmp_path):
    assert sorted(TASKS) == sorted(p.stem for p in TASK_DIR.glob("*.yaml"))
    assert TASKS[:5] == ("xnli", "xcopa", "pawsx", "xstorycloze", "xwinograd")  # by their `order`
    for name, order in (("b", None), ("a", None), ("c", 2), ("d", 1)):
        text = GOOD_YAML.replace("name: t", f"name: {name}") + ("" if order is None else f"order: {order}\n")
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    assert task_names(tmp_path) == ("d", "c", "a", "b")  # ordered ones first, then by name
    (tmp_path / "e.yaml").write_text(GOOD_YAML, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"e\.yaml: name 't' differs from the file name"):
        task_names(tmp_path)


GOOD_YAML = """name: t
languages: [en]
splits: [test]
eval_split: test
demo_split: test
test_splits: [test]
hub: {path: x}
local: {}
default_template: a
templates: {a: {context: "{x}", choices: [" a", " b"]}}
"""


def test_task_file_checks():
    good = {
        "name": "t",
        "languages": ["en"],
        "splits": ["test"],
        "eval_split": "test",
        "demo_split": "test",
        "test_splits": ["test"],
        "hub": {"path": "x"},
        "local": {},
        "default_template": "a",
        "templates": {"a": {"context": "{x}", "choices": [" a", " b"]}},
    }
    assert parse_task(good, "t.yaml").name == "t"
    with pytest.raises(ConfigError, match=r"t\.yaml: split 'validation' is not in splits"):
        parse_task({**good, "demo_split": "validation"}, "t.yaml")
    with pytest.raises(ConfigError, match="either `context` \\+ `choices`"):
        parse_task({**good, "templates": {"a": {"context": "{x}"}}}, "t.yaml")
    with pytest.raises(ConfigError, match="missing key 'splits'"):
        parse_task({k: v for k, v in good.items() if k != "splits"}, "t.yaml")
    with pytest.raises(ConfigError, match="order must be an integer"):
        parse_task({**good, "order": "first"}, "t.yaml")
    with pytest.raises(ConfigError, match=r"local\.label must be a field name or \{field"):
        parse_task({**good, "local": {"label": {"values": {"a": 0}}}}, "t.yaml")


# lm-evaluation-harness 0.4.13's per-language task names, by group (lm_eval/tasks/{xnli,xcopa,paws-x,
# xwinograd,xstorycloze}/*.yaml); its group names are ours
LM_EVAL = {
    "xnli": ["xnli_ar", "xnli_bg", "xnli_de", "xnli_el", "xnli_en", "xnli_es", "xnli_fr", "xnli_hi",
             "xnli_ru", "xnli_sw", "xnli_th", "xnli_tr", "xnli_ur", "xnli_vi", "xnli_zh"],
    "xcopa": ["xcopa_et", "xcopa_ht", "xcopa_id", "xcopa_it", "xcopa_qu", "xcopa_sw", "xcopa_ta", "xcopa_th",
              "xcopa_tr", "xcopa_vi", "xcopa_zh"],
    "pawsx": ["paws_de", "paws_en", "paws_es", "paws_fr", "paws_ja", "paws_ko", "paws_zh"],
    "xwinograd": ["xwinograd_en", "xwinograd_fr", "xwinograd_jp", "xwinograd_pt", "xwinograd_ru",
                  "xwinograd_zh"],
    "xstorycloze": ["xstorycloze_ar", "xstorycloze_en", "xstorycloze_es", "xstorycloze_eu", "xstorycloze_hi",
                    "xstorycloze_id", "xstorycloze_my", "xstorycloze_ru", "xstorycloze_sw", "xstorycloze_te",
                    "xstorycloze_zh"],
}


def test_lm_eval_names_select_a_task_and_a_language():
    for group, names in LM_EVAL.items():
        assert select_task(group) == (load_task(group), None)  # every language (or --languages)
        for name in names:
            spec, langs = select_task(name)
            assert spec.name == group and len(langs) == 1 and spec.lm_eval_name(langs[0]) == name
    assert select_task("xwinograd_jp")[1] == ["ja"] == select_task("xwinograd_ja")[1]
    assert select_task("pawsx_de")[1] == ["de"] and select_task("paws_de")[1] == ["de"]
    assert select_task("xcopa_en")[1] == ["en"]  # ours (the published translation), not lm-eval's
    assert load_task("paws_de") is load_task("pawsx")


def test_unknown_names_list_every_valid_one():
    with pytest.raises(ConfigError, match=r"unknown task 'paws_xx' \(did you mean pawsx, paws_.*\); valid tasks: xnli, "
                                          r"xcopa, pawsx, xstorycloze, xwinograd \(or a task .yaml file\); one "
                                          r"language: xnli_\{ar,bg,.*paws_\{de,en,es,fr,ja,ko,zh\}.*"
                                          r"xwinograd_\{en,fr,jp,pt,ru,zh,ja\}"):
        load_task("paws_xx")


def test_languages_apply_to_names_without_one():
    EvalConfig(tasks=["xcopa_zh", "pawsx"], languages=["de"]).validate()
    with pytest.raises(ConfigError, match=r"'de' is in none .*valid languages: none \(xcopa_zh name their"):
        EvalConfig(tasks=["xcopa_zh"], languages=["de"]).validate()
    with pytest.raises(ConfigError, match="xcopa and xcopa_zh both select xcopa in zh; give it once"):
        EvalConfig(tasks=["xcopa", "xcopa_zh"]).validate()
    EvalConfig(tasks=["xcopa", "xcopa_zh"], languages=["it"]).validate()  # xcopa: it only

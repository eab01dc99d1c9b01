"""Acceptance 2 on a tiny model: every task present in the shared data (and XStoryCloze from
fixture files) runs 0-shot and 5-shot cross-lingual; results, table and predictions."""

from __future__ import annotations

import json

import pytest

from crossalign.errors import ConfigError
from crossalign.eval.outputs import write_outputs
from crossalign.eval.runner import EvalConfig, evaluate

LANGS = {
    "xnli": ["zh"],
    "xcopa": ["et", "id", "it", "sw", "th", "tr", "vi", "zh"],
    "pawsx": ["de", "es", "fr", "ja", "ko", "zh"],
    "xwinograd": ["fr", "ja", "pt", "ru", "zh"],
    "xstorycloze": ["es"],
}


def quiet(*_):
    pass


def test_zero_and_five_shot_cross_lingual_all_tasks(data_dir, right_tokenizer, long_model_factory, tmp_path):
    model = long_model_factory("gemma3", right_tokenizer)
    runs = []
    for task, langs in LANGS.items():
        cfg = EvalConfig(
            tasks=[task],
            languages=langs,
            prompt_language="en",
            shots=[0, 5],
            seeds=[0],
            data_dir=str(data_dir),
            limit=2,
            progress=False,
            split="validation" if task == "xnli" else None,
            demo_split="validation" if task == "xnli" else ("train" if task == "xstorycloze" else None),
        )
        res = evaluate(model, right_tokenizer, cfg, log=quiet)
        runs += res["runs"]
        assert {(r["sample_language"], r["shots"]) for r in res["runs"]} == {
            (x, k) for x in langs for k in (0, 5)
        }
    for r in runs:
        assert r["setting"] == "cross-lingual" and r["prompt_language"] == "en"
        assert r["n_items"] == 2 and 0.0 <= r["metrics"]["acc"] <= 1.0


def test_outputs_seeds_and_predictions(data_dir, right_tokenizer, long_model_factory, tmp_path):
    model = long_model_factory("llama", right_tokenizer)
    cfg = EvalConfig(
        tasks=["xcopa"],
        languages=["it"],
        prompt_language="same",
        shots=[0, 2],
        seeds=[0, 1, 2],
        template="lm_eval",
        data_dir=str(data_dir),
        limit=6,
        progress=False,
        seq=True,
    )
    res = evaluate(model, right_tokenizer, cfg, log=quiet)
    runs = res["runs"]
    assert [(r["shots"], r["seed"]) for r in runs] == [(0, 0), (2, 0), (2, 1), (2, 2)]  # 0-shot: one seed
    assert all(r["setting"] == "in-language" for r in runs)
    two = next(r for r in res["summary"] if r["shots"] == 2)
    accs = [r["metrics"]["acc"] for r in runs if r["shots"] == 2]
    assert two["acc"] == pytest.approx(sum(accs) / 3) and two["seeds"] == [0, 1, 2]
    assert set(two) >= {"acc_std", "acc_norm", "acc_seq"}
    path = write_outputs(res, tmp_path / "out", config={"tasks": ["xcopa"]}, predictions=True)
    doc = json.loads(path.read_text())
    assert doc["versions"]["transformers"] and doc["config"] == {"tasks": ["xcopa"]}
    assert doc["runs"][1]["demo_split"] == "validation" and doc["runs"][1]["split"] == "test"
    table = (tmp_path / "out" / "results.md").read_text()
    assert "| xcopa | lm_eval | it | it | 2 | 3 | 6 |" in table
    lines = (tmp_path / "out" / "predictions" / "xcopa.it-it.2shot.seed1.jsonl").read_text().splitlines()
    rows = [json.loads(x) for x in lines]
    assert len(rows) == 6 and all(len(r["demos"]) == 2 and len(r["ll"]) == 2 for r in rows)
    # different seeds, different fixed demonstrations; same demonstrations for every item of a run
    assert len({tuple(r["demos"]) for r in rows}) == 1
    seed0 = json.loads(
        (tmp_path / "out" / "predictions" / "xcopa.it-it.2shot.seed0.jsonl").read_text().splitlines()[0]
    )
    assert seed0["demos"] != rows[0]["demos"]


def test_unknown_names_are_listed(data_dir):
    with pytest.raises(ConfigError, match="valid tasks"):
        EvalConfig(tasks=["xcopa", "copa"]).validate()
    with pytest.raises(ConfigError, match=r"'ko' is in none of the tasks.*valid languages: en, et, ht"):
        EvalConfig(tasks=["xcopa"], languages=["ko"]).validate()
    with pytest.raises(ConfigError, match="no template 'gpt3'; valid templates: afp, lm_eval"):
        EvalConfig(tasks=["xnli"], template="gpt3").validate()
    with pytest.raises(ConfigError, match="xwinograd has no split 'validation'; valid splits: test"):
        EvalConfig(tasks=["xnli", "xwinograd"], split="validation").validate()
    with pytest.raises(ConfigError, match="shots must be >= 0"):
        EvalConfig(shots=[-1]).validate()


def test_task_splits_choose_one_tasks_split(data_dir, right_tokenizer, long_model_factory):
    """task_splits evaluates XNLI on validation beside XWinograd on test (its only split), the same items as
    XNLI alone with split=validation; and it is refused where it names no task of the run or a bad split."""
    model = long_model_factory("llama", right_tokenizer)
    both = EvalConfig(tasks=["xwinograd_fr", "xnli_zh"], task_splits=["xnli=validation"], shots=[0],
                      data_dir=str(data_dir), limit=3, progress=False)
    both.validate()
    res = evaluate(model, right_tokenizer, both, log=quiet)
    assert {r["task"]: r["split"] for r in res["runs"]} == {"xwinograd": "test", "xnli": "validation"}
    alone = evaluate(model, right_tokenizer, EvalConfig(tasks=["xnli_zh"], split="validation", shots=[0],
                                                        data_dir=str(data_dir), limit=3, progress=False),
                     log=quiet)
    name = next(n for n in res["predictions"] if n.startswith("xnli"))
    assert res["details"]["items"][name] == alone["details"]["items"][name]
    for bad, match in ((["xnli"], "not task=split"), (["pawsx=validation"], "not among the tasks"),
                       (["xnli=dev"], "no split 'dev'")):
        with pytest.raises(ConfigError, match=match):
            EvalConfig(tasks=["xwinograd_fr", "xnli_zh"], task_splits=bad).validate()

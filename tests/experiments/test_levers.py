"""The study's lever search end to end on a tiny model and the real shared data: every candidate is
trained and scored on the dev splits only (ICL on XCOPA validation, every checkpoint), the one with the
best non-English dev accuracy is the only one measured on test, and the report shows the search."""

from __future__ import annotations

import json

import pytest
import yaml

import crossalign.experiments.study as study_module
from crossalign.cli import main as cli_main
from crossalign.errors import ConfigError
from crossalign.eval.runner import EvalConfig, evaluate
from crossalign.experiments.checkpoints import load_checkpoint
from crossalign.experiments.config import StudyConfig
from crossalign.experiments.results import dev_icl_paired, select_lever
from crossalign.experiments.study import load_experiment, planned
from crossalign.experiments.tables import pct, signed
from crossalign.model.load import ModelConfig, load_model, load_tokenizer
from crossalign.options import load_config
from crossalign.testing import tiny_model, tiny_tokenizer

LANGS = ["en", "tr", "zh"]


def _exp(name, model_dir, shared, align=True, **train):
    cfg = {
        "name": name, "description": f"tiny {name}", "group": train.pop("group", "afp") if align else "base",
        "model": {"name_or_path": str(model_dir)}, "align": align, "pretraining_tokens": 1.0e9,
        "data": {"pairs": [str(shared / "parallel" / "ddtp.en-de.tsv")], "train_languages": ["de"],
                 "heldout_pairs": 5, "max_train_pairs_per_language": 40},
        "tatoeba": {"data_dir": str(shared / "tatoeba"), "languages": ["deu", "tur"], "pairs": 8, "dev_pairs": 8,
                    "batch_size": 8},
        "evaluate": {"tasks": ["xcopa"], "languages": LANGS, "shots": [0], "seeds": [0], "limit": 6,
                     "data_dir": str(shared), "batch_size": 8},
        "settings": ["same"], "dev_icl": {"split": "validation"},
    }
    if align:
        cfg["baseline"] = "base_tiny"
        cfg["train"] = {
            "lora": {"enabled": train.pop("lora", True), "r": 4, "alpha": 8},
            "contrastive": {"layer": 1, "weight": 1.0, "max_length": 24, "center": True},
            "clm": {"weight": train.pop("clm", 1.5), "max_length": 48},
            "training": {"max_steps": 4, "per_device_train_batch_size": 4, "learning_rate": train.pop("lr", 1e-3),
                         "logging_steps": 1, "save_steps": 2, "report_to": ["none"], "seed": 0},
            "monitor": {"heldout": 0},
        }
    assert not train, train
    return cfg


@pytest.fixture
def levers(tmp_path, shared_data):
    tok = tiny_tokenizer(padding_side="right")
    model_dir = tmp_path / "tiny-llama"
    tiny_model("llama", tok, layers=2, max_positions=1024).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    files = []
    for name, kw in [("base_tiny", {"align": False}), ("afp_tiny", {"lr": 3e-2}),
                     ("clm3_tiny", {"clm": 3.0, "group": "lever", "lr": 3e-3}),
                     ("full_tiny", {"lora": False, "group": "lever", "lr": 3e-3})]:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(_exp(name, model_dir, shared_data, **kw)))
        files.append(str(path))
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump({
        "output_dir": str(tmp_path / "runs"), "experiments": files, "report": str(tmp_path / "docs" / "results.md"),
        "levers": {"recipe": "afp_tiny", "candidates": ["clm3_tiny", "full_tiny"]}}))
    return study, tmp_path


def _runs(tmp):
    return {p.parent.name: json.loads(p.read_text()) for p in (tmp / "runs").glob("*/results.json")}


def test_lever_search_selects_on_dev_and_tests_only_the_selected(levers, shared_data, monkeypatch):
    path, tmp = levers
    assert cli_main(["study", "--config", str(path)]) == 0
    runs = _runs(tmp)
    names = ["afp_tiny", "clm3_tiny", "full_tiny"]

    # every run scored on the dev split: the validation items, the final model and every saved checkpoint
    for name in ["base_tiny", *names]:
        dev = runs[name]["dev_icl"]
        assert dev["split"] == "validation"
        steps = [m["step"] for m in dev["models"]]
        assert steps == ([0] if name == "base_tiny" else [2, 4])
        for m in dev["models"]:
            assert {r["split"] for r in m["icl"]["runs"]} == {"validation"}
            assert {r["n_items"] for r in m["icl"]["runs"]} == {100}  # every validation item, not the test limit
            langs = {r["sample_language"]: r["metrics"]["acc"] for r in m["icl"]["runs"]}
            assert m["non_en_mean"] == pytest.approx((langs["tr"] + langs["zh"]) / 2)

    # the stored dev predictions are those of the checkpoint's own weights (step 2) and of the final model
    cfg = load_experiment(tmp / "afp_tiny.yaml")
    base_path = str(tmp / "tiny-llama")
    tok = load_tokenizer(ModelConfig(name_or_path=base_path))
    ev = EvalConfig(tasks=["xcopa"], languages=["tr", "zh"], shots=[0], seeds=[0], split="validation",
                    data_dir=str(shared_data), batch_size=8, progress=False)
    by_step = {m["step"]: m for m in runs["afp_tiny"]["dev_icl"]["models"]}
    final = load_model(ModelConfig(name_or_path=runs["afp_tiny"]["train"]["model"])).eval()
    ckpt = load_checkpoint(cfg, base_path, tmp / "runs" / "afp_tiny" / "train" / "checkpoint-2")
    hand = {}
    for step, lm in [(2, ckpt), (4, final)]:
        preds = evaluate(lm, tok, ev, model_name="m", log=lambda m: None)["predictions"]
        for run_name, rows in preds.items():
            stored = by_step[step]["icl"]["predictions"][run_name]
            assert [r["pred"] for r in rows] == stored["pred"] and [r["pred_norm"] for r in rows] == stored["pred_norm"]
        hand[step] = [r["pred_norm"] for rows in preds.values() for r in rows]
    assert hand[2] != hand[4]  # the two models differ on these items (else the check above proves little)

    # the selection: the best final dev score, the recipe on ties; only the selected run has test measurements
    scores = {n: next(m for m in runs[n]["dev_icl"]["models"] if m["final"])["non_en_mean"] for n in names}
    best = max(names, key=lambda n: scores[n])
    assert select_lever(runs, names) == (best, scores)
    for n in names:
        tested = n in ("afp_tiny", best)
        assert runs[n]["tested"] is tested
        assert (runs[n]["icl"] is not None) is tested and (tmp / "runs" / n / "measure").exists() is tested
        if tested:
            assert {r["split"] for r in runs[n]["icl"]["runs"]} == {"test"}

    report = (tmp / "docs" / "results.md").read_text()
    section = report.split("## Levers, selected on dev")[1].split("\n## ")[0]
    assert f"**Selected on dev: {best}**" in section
    row = next(line for line in section.splitlines() if line.startswith("| full_tiny |"))
    assert "train.lora.enabled True → False" in row and "train.training.learning_rate 0.03 → 0.003" in row
    c = dev_icl_paired(runs["full_tiny"], runs["base_tiny"])
    assert f"{signed(c['diff'])} [{signed(c['ci'][0])}, {signed(c['ci'][1])}]" in row
    assert f"| {pct(scores['full_tiny'])} |" in row
    # a candidate measured on dev only is in the compute table, not in the test tables
    untested = [n for n in names if n not in ("afp_tiny", best)]
    tables = report.split("## Levers, selected on dev")[0]
    for n in untested:
        assert f"| {n} |" not in tables and f"| {n} |" in report.split("## Compute")[1]

    # a candidate that wins on dev is measured on test (the rest still are not)
    forced = untested[0]
    monkeypatch.setattr(study_module, "select_lever", lambda runs, names: (forced, scores))
    assert cli_main(["study", "--config", str(path)]) == 0
    again = _runs(tmp)
    assert again[forced]["tested"] is True and {r["split"] for r in again[forced]["icl"]["runs"]} == {"test"}
    assert again[forced]["dev_icl"] == runs[forced]["dev_icl"]  # reused, not re-scored
    assert all(again[n]["tested"] is False for n in untested[1:])


def test_select_lever_prefers_the_recipe_on_ties_and_names_a_missing_score():
    def run(score):
        return {"dev_icl": {"models": [{"step": 4, "final": True, "non_en_mean": score}]}}

    assert select_lever({"r": run(0.5), "a": run(0.5), "b": run(0.4)}, ["r", "a", "b"])[0] == "r"
    assert select_lever({"r": run(0.5), "a": run(0.6), "b": run(0.6)}, ["r", "a", "b"])[0] == "a"
    with pytest.raises(ValueError, match="b has no dev ICL score"):
        select_lever({"r": run(0.5), "a": run(0.6), "b": {"dev_icl": None}}, ["r", "a", "b"])


def test_lever_config_errors(levers):
    path, _ = levers
    data = yaml.safe_load(path.read_text())
    data["levers"] = {"recipe": "", "candidates": ["clm3_tiny"]}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"needs levers\.recipe"):
        load_config(StudyConfig, path)
    data["levers"] = {"recipe": "afp_tiny", "candidates": ["nope"]}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="'nope' is not an experiment"):
        planned(load_config(StudyConfig, path))
    data["levers"] = {"recipe": "afp_tiny", "candidates": ["base_tiny"]}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="base_tiny must be an aligned run with a dev ICL split"):
        planned(load_config(StudyConfig, path))

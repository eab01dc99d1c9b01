"""The evidence study's additions end to end on a tiny model and the real shared data: steered
baselines (fitted on XCOPA's validation split, scored per language), per-language alignment at
every layer, and the report's baseline, correlation and compute sections."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from crossalign.analysis.correlation import spearman
from crossalign.cli import main as cli_main
from crossalign.errors import ConfigError
from crossalign.eval.runner import EvalConfig, evaluate
from crossalign.experiments.parallel_items import xcopa_pairs
from crossalign.experiments.results import alignment_accuracy, icl_cells, icl_comparison, icl_language_table
from crossalign.experiments.study import load_experiment
from crossalign.experiments.tables import pct, signed
from crossalign.model.load import ModelConfig, load_model, load_tokenizer
from crossalign.model.steering import fit_steering, steered
from crossalign.testing import tiny_model, tiny_tokenizer

LANGS = ["en", "id", "tr", "zh"]


def _exp(name, model_dir, shared, **extra):
    cfg = {
        "name": name, "description": f"tiny {name}", "group": "base", "align": False,
        "model": {"name_or_path": str(model_dir)}, "pretraining_tokens": 1.0e9,
        "tatoeba": {"data_dir": str(shared / "tatoeba"), "languages": ["deu", "tur"], "pairs": 8, "dev_pairs": 8,
                    "batch_size": 8},
        "evaluate": {"tasks": ["xcopa"], "languages": LANGS, "shots": [0], "seeds": [0], "limit": 12,
                     "data_dir": str(shared), "batch_size": 4},
        "settings": ["same"], "language_alignment": {"pairs": 10},
    }
    cfg.update(extra)
    return cfg


@pytest.fixture
def evidence(tmp_path, shared_data):
    tok = tiny_tokenizer(padding_side="right")
    model_dir = tmp_path / "tiny-llama"
    tiny_model("llama", tok, layers=3, max_positions=1024).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    files = []
    runs = {
        "base_tiny": {},
        "steer_mean_tiny": {"group": "steer", "baseline": "base_tiny", "layer_from": "base_dev",
                            "steer": {"method": "mean_shift", "strength": 8.0}},
        "steer_incline_tiny": {"group": "steer", "baseline": "base_tiny", "steer": {"method": "incline", "layers": [2],
                                                                                  "strength": 8.0, "ridge": 0.1}},
    }
    for name, extra in runs.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(_exp(name, model_dir, shared_data, **extra)))
        files.append(str(path))
    study = tmp_path / "evidence.yaml"
    study.write_text(yaml.safe_dump({"output_dir": str(tmp_path / "runs"), "experiments": files,
                                     "report": str(tmp_path / "docs" / "results.md"),
                                     "command": "crossalign study --config evidence.yaml"}))
    return study, tmp_path


def test_steered_baselines_alignment_and_report(evidence, shared_data):
    path, tmp = evidence
    assert cli_main(["study", "--config", str(path)]) == 0
    runs = {p.parent.name: json.loads(p.read_text()) for p in (tmp / "runs").glob("*/results.json")}
    base, mean, incl = runs["base_tiny"], runs["steer_mean_tiny"], runs["steer_incline_tiny"]

    # steered runs: no Tatoeba, no training; the layer from the base's dev split; every non-English language
    assert mean["tatoeba"] is None and mean["train"] is None and mean["tatoeba_dev"] is None
    dev = base["tatoeba_dev"]["by_pooling"]["mean"]
    means = {int(k): sum(v.values()) / len(v) for k, v in dev.items() if 1 <= int(k) < 3}  # block inputs only
    assert mean["steer"]["layers"] == [max(sorted(means), key=lambda k: means[k])]
    assert incl["steer"]["layers"] == [2]
    assert mean["steer"]["fit"]["pairs"] == {"id": 300, "tr": 300, "zh": 300}  # 100 validation items x 3 fields
    assert {(r["setting"], r["sample_language"], r["shots"]) for r in mean["icl"]["runs"]} == {
        ("in-language", x, 0) for x in ("id", "tr", "zh")}

    # each language is scored with its own map: the stored predictions are those of a hand-steered model
    mcfg = ModelConfig(name_or_path=str(tmp / "tiny-llama"))
    tok, lm = load_tokenizer(mcfg), load_model(mcfg).eval()
    fields = ["premise", "choice1", "choice2"]
    pairs = {x: xcopa_pairs(shared_data, x, "validation", fields) for x in ("id", "tr", "zh")}
    s = fit_steering(lm, tok, pairs, [2], "incline", strength=8.0, ridge=0.1)
    changed = 0
    for lang in ("id", "tr", "zh"):
        ev = EvalConfig(tasks=["xcopa"], languages=[lang], shots=[0], seeds=[0], limit=12, data_dir=str(shared_data),
                        batch_size=4, progress=False)
        with steered(lm, s, lang):
            by_hand = evaluate(lm, tok, ev, model_name="m", log=lambda m: None)
        name = f"xcopa.{lang}-{lang}.0shot.seed0"
        assert [r["pred"] for r in by_hand["predictions"][name]] == incl["icl"]["predictions"][name]["pred"]
        changed += sum(a != b for a, b in zip(incl["icl"]["predictions"][name]["pred"],
                                              base["icl"]["predictions"][name]["pred"], strict=True))
    assert changed > 0  # steering changed some predictions (else the comparison above proves nothing)

    # per-language alignment at every layer, for every XCOPA language with local files
    al = base["language_alignment"]
    assert al["pairs"] == 10 and "sw" in al["languages"] and sorted(map(int, al["by_layer"])) == [0, 1, 2, 3]
    assert all(0 <= v["mutual_nn"] <= v["top1"] <= 1 for layer in al["by_layer"].values() for v in layer.values())

    report = (tmp / "docs" / "results.md").read_text()
    assert "Generated by `crossalign study --config evidence.yaml`" in report
    # the baselines table: the paired comparison of each steered run with the base
    assert "## Train or steer: AFP against training-free baselines" in report
    key = ("xcopa", "in-language", 0, "non-en")
    c = icl_comparison(incl, base, key, 0.03)
    row = next(line for line in report.splitlines() if line.startswith("| steer_incline_tiny | incline at layer 2"))
    assert f"| {signed(c['diff'])} |" in row and f"[{signed(c['ci'][0])}, {signed(c['ci'][1])}]" in row
    assert f"| {pct(icl_cells(base)[key]['acc'])} |" in row
    per_lang = report.split("### Per language, 0-shot in-language: steer_mean_tiny against base_tiny")[1]
    tr = icl_language_table(mean, "xcopa", "in-language", 0)["tr"]
    assert f"| xcopa | tr | {pct(icl_language_table(base, 'xcopa', 'in-language', 0)['tr'])} | {pct(tr)} |" in per_lang
    # the correlation: rho per layer across id, tr, zh, as computed from results.json
    assert "## Does alignment predict accuracy?" in report
    corr = alignment_accuracy(base, "top1")
    acc = icl_language_table(base, "xcopa", "in-language", 0)
    x = [al["by_layer"]["1"][lang]["top1"] for lang in ("id", "tr", "zh")]
    rho = spearman(x, [acc[lang] for lang in ("id", "tr", "zh")])
    assert corr["languages"] == ["id", "tr", "zh"]
    assert corr["layers"][1]["rho"] == pytest.approx(rho) or (np.isnan(rho) and np.isnan(corr["layers"][1]["rho"]))
    assert (tmp / "docs" / "results" / "alignment_accuracy.png").stat().st_size > 1000
    # compute: every run, and the total of every stage
    total = sum(v for r in runs.values() for k, v in r["timings"].items()
                if k.endswith("_s") and k not in ("model_s", "data_s"))
    assert f"**{total:.0f}**" in report
    assert "| steer_mean_tiny |" in report.split("## Compute")[1]


def test_steer_config_errors(tmp_path, shared_data):
    bad = _exp("s", tmp_path, shared_data, group="steer", baseline="b", align=True, steer={"method": "incline"})
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match="set align: false"):
        load_experiment(path)
    bad.update(align=False, settings=["same", "en"], steer={"method": "incline", "layers": [1]})
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match="in-language setting only"):
        load_experiment(path)
    bad.update(settings=["same"], steer={"method": "incline"})
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match=r"steer\.layers is empty"):
        load_experiment(path)

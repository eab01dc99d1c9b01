"""The evidence study end to end on a tiny model and the real shared data (same code path as Gemma)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import yaml

from crossalign.cli import main as cli_main
from crossalign.errors import ConfigError
from crossalign.eval.paired import compare_paired
from crossalign.experiments.config import StudyConfig
from crossalign.experiments.results import icl_cells, icl_comparison, mean_and_se, per_language_retrieval, verdict
from crossalign.experiments.sections import targets_section
from crossalign.experiments.study import load_experiment, planned
from crossalign.experiments.tables import pct, signed
from crossalign.options import load_config
from crossalign.pipeline.icl import run_name
from crossalign.testing import tiny_model, tiny_tokenizer


def _experiment(name, model_dir, shared, align=True, **train):
    cfg = {
        "name": name, "description": f"tiny {name}", "group": "base" if not align else train.pop("group", "afp"),
        "model": {"name_or_path": str(model_dir)}, "align": align, "pretraining_tokens": 1.0e9,
        "data": {"pairs": [str(shared / "parallel" / "ddtp.en-de.tsv"), str(shared / "parallel" / "ddtp.en-fr.tsv")],
                 "train_languages": ["de", "fr"], "heldout_pairs": 5, "max_train_pairs_per_language": 40},
        "tatoeba": {"data_dir": str(shared / "tatoeba"), "languages": ["deu", "fra", "tur"], "pairs": 12,
                    "dev_pairs": 10, "batch_size": 8},
        "evaluate": {"tasks": ["xcopa"], "languages": ["en", "tr", "zh"], "shots": [0, 2], "seeds": [0, 1],
                     "limit": 6, "data_dir": str(shared), "batch_size": 4},
        "in_language_shots": [0], "cross_lingual_languages": ["tr"],
    }
    if align:
        cfg["baseline"] = "base_tiny"
        for key in ("replica_of", "layer_from"):
            if key in train:
                cfg[key] = train.pop(key)
        cfg["train"] = {
            "lora": {"enabled": train.pop("lora", False), "r": 4, "alpha": 8},
            "contrastive": {"layer": train.pop("layer", "auto"), "weight": train.pop("cl", 1.0), "max_length": 24,
                            "symmetric": True},
            "clm": {"weight": train.pop("clm", 1.5), "max_length": 48},
            "training": {"max_steps": 4, "per_device_train_batch_size": 4, "learning_rate": 1e-3,
                         "logging_steps": 1, "save_steps": train.pop("save_steps", 100), "report_to": ["none"],
                         "seed": train.pop("seed", 0)},
            "monitor": {"heldout": 8, "every": 2, "batch_size": 8},
        }
    return cfg


@pytest.fixture
def study(tmp_path, shared_data):
    tok = tiny_tokenizer(padding_side="right")
    model_dir = tmp_path / "tiny-llama"
    tiny_model("llama", tok, layers=2, max_positions=1024).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    exp_dir = tmp_path / "experiments"
    exp_dir.mkdir()
    files = []
    for name, kwargs in [("base_tiny", {"align": False}), ("afp_tiny", {"save_steps": 2, "lora": True}),
                         ("cl_only_tiny", {"clm": 0.0, "group": "ablation"}),
                         ("afp_seed1_tiny", {"seed": 1, "replica_of": "afp_tiny", "layer_from": "base_dev",
                                             "layer": 1})]:
        path = exp_dir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(_experiment(name, model_dir, shared_data, **kwargs)))
        files.append(str(path))
    study_cfg = {
        "output_dir": str(tmp_path / "runs"), "quick_output_dir": str(tmp_path / "runs-quick"),
        "experiments": files, "quick_experiments": ["afp_tiny"],
        "quick_overrides": ["train.training.max_steps=2", "tatoeba.pairs=8"],
        "report": str(tmp_path / "docs" / "results.md"), "quick_report": str(tmp_path / "docs" / "results-quick.md"),
        "seen_languages": ["de", "fr"],
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study_cfg))
    return path, tmp_path


def test_study_end_to_end_and_report_numbers(study, capsys):
    path, tmp = study
    assert cli_main(["study", "--config", str(path)]) == 0
    runs = {p.parent.name: json.loads(p.read_text()) for p in (tmp / "runs").glob("*/results.json")}
    assert set(runs) == {"base_tiny", "afp_tiny", "cl_only_tiny", "afp_seed1_tiny"}
    afp, base = runs["afp_tiny"], runs["base_tiny"]
    assert afp["train"]["steps"] == 4 and afp["train"]["tokens"] > 0
    assert afp["layer"] == afp["train"]["layer"] >= 1
    assert afp["train"]["heldout_retrieval_before"] is not None
    # every layer measured, both poolings, on the same Tatoeba items for base and aligned model
    n_layers = base["tatoeba"]["num_layers"]
    assert sorted(map(int, base["tatoeba"]["per_layer"]["mean"])) == list(range(n_layers + 1))
    assert base["tatoeba"]["pairs"] == afp["tatoeba"]["pairs"] == {"de": 12, "fr": 12, "tr": 12}
    # ICL: in-language (en, tr, zh) and cross-lingual (tr, zh: English is not repeated); 2 seeds for 2-shot
    settings = {(r["setting"], r["sample_language"], r["shots"], r["seed"]) for r in afp["icl"]["runs"]}
    assert ("in-language", "en", 0, 0) in settings and ("cross-lingual", "en", 0, 0) not in settings
    assert {("cross-lingual", "tr", 2, 0), ("cross-lingual", "tr", 2, 1)} <= settings
    # in_language_shots / cross_lingual_languages narrow each setting
    assert {s[1] for s in settings if s[0] == "cross-lingual"} == {"tr"}
    assert {s[2] for s in settings if s[0] == "in-language"} == {0}
    assert {s[1] for s in settings if s[0] == "in-language"} == {"en", "tr", "zh"}
    # the aligned model's weights differ from the base's: its Tatoeba numbers come from a different model
    assert afp["tatoeba"]["model"] != base["tatoeba"]["model"]

    # the Tatoeba dev split: the last 10 pairs of each file, every layer and pooling, checkpoints of aligned runs
    dev = base["tatoeba_dev"]
    assert dev["languages"] == ["de", "fr", "tr"] and set(dev["by_pooling"]) == {"mean", "last"}
    assert sorted(map(int, dev["by_pooling"]["mean"])) == list(range(n_layers + 1))
    assert [c["step"] for c in afp["tatoeba_dev"]["checkpoints"]] == [2, 4]
    # the Trainer saves the last step whatever save_steps says
    assert [c["step"] for c in runs["cl_only_tiny"]["tatoeba_dev"]["checkpoints"]] == [4]
    # an earlier checkpoint is loaded as base + LoRA adapter; loaded that way, the last checkpoint scores
    # what the final (merged) model scores
    from crossalign.experiments.checkpoints import load_checkpoint
    from crossalign.experiments.tatoeba import dev_retrieval, tatoeba_pairs

    cfg = load_experiment(tmp / "experiments" / "afp_tiny.yaml")
    tok = tiny_tokenizer(padding_side="right")
    lm = load_checkpoint(cfg, str(tmp / "tiny-llama"), tmp / "runs" / "afp_tiny" / "train" / "checkpoint-4")
    assert any(p.abs().sum() > 0 for n, p in lm.named_parameters() if "lora_B" in n)  # zero until loaded
    layer = afp["layer"]
    reloaded = dev_retrieval(lm, tok, tatoeba_pairs(cfg, "dev"), [layer], "mean", cfg.tatoeba)[layer]
    final = afp["tatoeba_dev"]["by_pooling"]["mean"][str(layer)]
    assert reloaded == pytest.approx(final, abs=0.051)  # at most one of 10 pairs flips in one direction
    assert afp["tatoeba_dev"]["checkpoints"][-1]["by_language"] == final
    # a full fine-tuning checkpoint (afp_seed1_tiny) loads its own weights over the base model's
    seed1 = load_experiment(tmp / "experiments" / "afp_seed1_tiny.yaml")
    full = load_checkpoint(seed1, str(tmp / "tiny-llama"), tmp / "runs" / "afp_seed1_tiny" / "train" / "checkpoint-4")
    base_lm = load_checkpoint(seed1, str(tmp / "tiny-llama"), tmp / "tiny-llama")  # the base weights
    assert any(not torch.equal(a, b) for a, b in zip(full.state_dict().values(), base_lm.state_dict().values(),
                                                       strict=True))
    assert set(afp["tatoeba_dev"]["by_pooling"]) == {"mean"}  # aligned runs: their own pooling
    # layer_from base_dev: the layer the base model retrieves best on the dev split, not the configured 1
    means = {int(k): sum(v.values()) / 3 for k, v in dev["by_pooling"]["mean"].items() if int(k) >= 1}
    assert runs["afp_seed1_tiny"]["layer"] == max(sorted(means), key=lambda k: means[k])
    assert runs["afp_seed1_tiny"]["layer_from"] == "base_dev"

    report = (tmp / "docs" / "results.md").read_text()
    assert "## Tatoeba dev split (selection data)" in report and "## Training-seed noise" in report
    assert "| afp_tiny | 0, 1 |" in report
    layer = afp["layer"]
    per = per_language_retrieval(afp["tatoeba"]["per_layer"]["mean"][str(layer)])
    assert "| tr | no | " in report and "| de | yes | " in report
    assert pct(per["tr"]) in report  # the per-language table is computed from results.json
    cells = icl_cells(afp)
    assert pct(cells[("xcopa", "cross-lingual", 2, "non-en")]["acc"]) in report
    assert "## Targets of the study, checked" in report and "cl_only_tiny" in report
    assert (tmp / "docs" / "results" / "layers_base_tiny.png").stat().st_size > 1000
    assert (tmp / "docs" / "results" / "projection_afp_tiny.png").exists()
    out = capsys.readouterr().out
    assert "report:" in out

    # ICL is compared on the same items, paired: every run's per-item predictions are stored
    assert set(afp["icl"]["predictions"]) == {run_name(r) for r in afp["icl"]["runs"]}
    for name, p in base["icl"]["predictions"].items():
        assert len(p["id"]) == len(p["pred"]) == 6 and sorted(p["id"]) == sorted(afp["icl"]["predictions"][name]["id"])
    # the paired numbers in the report are those of the items: English 0-shot is one language, one seed
    pa, pb = base["icl"]["predictions"]["xcopa.en-en.0shot.seed0"], afp["icl"]["predictions"]["xcopa.en-en.0shot.seed0"]
    by_id = dict(zip(pb["id"], zip(pb["pred"], pb["label"], strict=True), strict=True))
    want = compare_paired(np.equal(pa["pred"], pa["label"]), [by_id[i][0] == by_id[i][1] for i in pa["id"]])
    key = ("xcopa", "in-language", 0, "en")
    got = icl_comparison(afp, base, key, 0.03)
    assert got["paired"] is not None and got["ci"] == pytest.approx(want["ci"]) and got["mde"] == want["mde"]
    assert got["diff"] == pytest.approx(cells[key]["acc"] - icl_cells(base)[key]["acc"])
    row = next(line for line in report.splitlines() if line.startswith("| xcopa | in-language | 0 | en |")
               and "McNemar" not in line and "[" in line)
    assert f"[{signed(want['ci'][0])}, {signed(want['ci'][1])}]" in row and f"| {pct(want['mde'])} |" in row
    assert "| paired 95% CI | McNemar p | MDE |" in report
    # 6 items a language: every ICL comparison has an MDE far above the +3-point target
    assert want["mde"] > 0.03 and "**underpowered**" in row
    assert "comparisons are underpowered (MDE above the +3-point target effect)" in report
    assert "95% interval excluding 0" in report and "> target, underpowered" in report
    # English must not drop on any task: the same rows computed as XCOPA's for a task without XCOPA's gap rows
    as_task = lambda r: json.loads(json.dumps(r).replace('"xcopa', '"xwinograd'))
    _, checks = targets_section([as_task(afp)], {"base_tiny": as_task(base)}, {"de", "fr"})
    english = [c for c in checks if c["target"] == "xwinograd: English not more than 1 point below the base"]
    xcopa_checks = [c for c in json.loads((tmp / "docs" / "results" / "summary.json").read_text())["targets"]
                    if c["run"] == "afp_tiny"]
    xcopa_row = next(c for c in xcopa_checks if c["target"] == "XCOPA English not more than 1 point below the base")
    assert [(c["value"], c["met"]) for c in english] == [(xcopa_row["value"], xcopa_row["met"])]
    assert not any(c["target"].startswith("XCOPA") for c in checks)
    # a lever run measured on test (selected on dev, or a study's recipe) is checked against the targets as well
    as_lever = targets_section([{**afp, "group": "lever"}], {"base_tiny": base}, {"de", "fr"})[1]
    assert [c["target"] for c in as_lever] == [c["target"] for c in xcopa_checks]

    # a second run reuses every stage (no training), and --report_only rewrites the report alone
    capsys.readouterr()
    assert cli_main(["study", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "train: reusing" in out and "measure: reusing" in out and "train: step" not in out
    (tmp / "docs" / "results.md").unlink()
    assert cli_main(["study", "--config", str(path), "--report_only"]) == 0
    assert (tmp / "docs" / "results.md").read_text().splitlines()[4:] == report.splitlines()[4:]

    # the runs archive beside the report: restored into a folder without the runs, it regenerates the same
    # report and the same archive bytes; runs already there are kept; a file that is no archive exits 2
    archive = tmp / "docs" / "results" / "runs.json.gz"
    blob = archive.read_bytes()
    assert f"`--restore {archive}` first puts back" in report.splitlines()[2]
    elsewhere = tmp / "elsewhere"
    capsys.readouterr()
    assert cli_main(["study", "--config", str(path), "--output_dir", str(elsewhere), "--restore", str(archive),
                     "--report_only"]) == 0
    assert "restored 4 run(s)" in capsys.readouterr().out
    assert sorted(p.parent.name for p in elsewhere.glob("*/results.json")) == sorted(runs)
    assert (tmp / "docs" / "results.md").read_text().splitlines()[4:] == report.splitlines()[4:]
    assert archive.read_bytes() == blob
    kept = elsewhere / "base_tiny" / "results.json"
    kept.write_text(kept.read_text() + "\n")  # a run already there (it may be newer) is not replaced
    mark = kept.read_text()
    assert cli_main(["study", "--config", str(path), "--output_dir", str(elsewhere), "--restore", str(archive),
                     "--report_only"]) == 0
    assert "restored 0 run(s)" in capsys.readouterr().out and kept.read_text() == mark
    (tmp / "not-gz").write_text("{}")
    for bad, message in ((tmp / "not-gz", "not a gzipped JSON runs archive"), (tmp / "absent.gz", "does not exist")):
        assert cli_main(["study", "--config", str(path), "--output_dir", str(tmp / "bad"), "--restore", str(bad),
                         "--report_only"]) == 2
        assert message in capsys.readouterr().err and not (tmp / "bad").exists()
    archive.write_bytes(blob)

    # a run measured before predictions were stored: its report rows fall back to the unpaired noise,
    # and the next study run re-runs its ICL only (same accuracies), after which they are paired again
    icl_file = tmp / "runs" / "cl_only_tiny" / "measure" / "icl.json"
    icl = json.loads(icl_file.read_text())
    icl.pop("predictions")
    icl_file.write_text(json.dumps(icl))
    old = json.loads((tmp / "runs" / "cl_only_tiny" / "results.json").read_text())
    old["icl"].pop("predictions")
    fallback = icl_comparison(old, base, key, 0.03)
    assert fallback["paired"] is None and fallback["ci"] is None
    assert fallback["mde"] == pytest.approx(2.8016 * fallback["noise"], rel=1e-4)
    capsys.readouterr()
    assert cli_main(["study", "--config", str(path), "--only", "cl_only_tiny"]) == 0
    out = capsys.readouterr().out
    assert "re-running ICL only" in out and "warning" not in out and "Tatoeba retrieval at every layer" not in out
    again = json.loads((tmp / "runs" / "cl_only_tiny" / "results.json").read_text())
    assert [r["metrics"] for r in again["icl"]["runs"]] == [r["metrics"] for r in icl["runs"]]
    assert icl_comparison(again, base, key, 0.03)["paired"] is not None


def test_quick_variant_runs_subset_with_overrides(study):
    path, tmp = study
    cfg = load_config(StudyConfig, path)
    cfg.quick = True
    exps, out, report = planned(cfg)
    assert [e.name for e in exps] == ["base_tiny", "afp_tiny"]  # the baseline joins, base first
    cfg.only = ["cl_only_tiny"]  # any experiment of the study, with the quick overrides
    assert [(e.name, e.tatoeba.pairs) for e in planned(cfg)[0]] == [("base_tiny", 8), ("cl_only_tiny", 8)]
    cfg.only = []
    assert out == tmp / "runs-quick" and report.name == "results-quick.md"
    assert exps[1].train.training.max_steps == 2 and exps[0].tatoeba.pairs == 8
    cfg.quick = False
    assert [e.train.training.max_steps for e in planned(cfg)[0] if e.align] == [4, 4, 4]
    # full_overrides change the full variant only (configs/study.yaml: ICL on the full test sets)
    cfg.full_overrides = ["evaluate.limit=null", "evaluate.tasks=[xcopa, xnli]"]
    assert {(e.evaluate.limit, tuple(e.evaluate.tasks)) for e in planned(cfg)[0]} == {(None, ("xcopa", "xnli"))}
    cfg.quick = True
    assert {e.evaluate.limit for e in planned(cfg)[0]} == {6}
    cfg.quick, cfg.full_overrides = False, []
    # a baseline with results already on disk is not re-measured for --only (it would be replaced)
    (tmp / "runs-quick" / "base_tiny").mkdir(parents=True)
    (tmp / "runs-quick" / "base_tiny" / "results.json").write_text("{}")
    cfg.quick, cfg.only = True, ["cl_only_tiny"]
    assert [e.name for e in planned(cfg)[0]] == ["cl_only_tiny"]


def test_study_config_errors(study, tmp_path):
    path, tmp = study
    cfg = load_config(StudyConfig, path)
    cfg.only = ["nope"]
    with pytest.raises(ConfigError, match="unknown experiment name"):
        planned(cfg)
    bad = yaml.safe_load((tmp / "experiments" / "afp_tiny.yaml").read_text())
    bad["baseline"] = "missing_base"
    (tmp / "experiments" / "afp_tiny.yaml").write_text(yaml.safe_dump(bad))
    cfg.only = []
    with pytest.raises(ConfigError, match="baseline 'missing_base'"):
        planned(cfg)
    with pytest.raises(ConfigError, match="not key=value"):
        StudyConfig(quick_overrides=["train.training.max_steps"]).validate()
    with pytest.raises(ConfigError, match="unknown key"):
        load_experiment(tmp / "experiments" / "base_tiny.yaml", ["train.training.nosuch=1"])
    bad.pop("baseline")
    (tmp / "experiments" / "afp_tiny.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match="needs `baseline`"):
        load_experiment(tmp / "experiments" / "afp_tiny.yaml")


def _run(task, setting, lang, shots, seed, acc, n=100):
    return {"task": task, "setting": setting, "sample_language": lang, "shots": shots, "seed": seed,
            "n_items": n, "metrics": {"acc": acc}}


def test_icl_cells_average_languages_per_seed_then_seeds():
    res = {"icl": {"runs": [
        _run("xcopa", "cross-lingual", "tr", 5, 0, 0.50), _run("xcopa", "cross-lingual", "zh", 5, 0, 0.70),
        _run("xcopa", "cross-lingual", "tr", 5, 1, 0.60), _run("xcopa", "cross-lingual", "zh", 5, 1, 0.60),
        _run("xcopa", "in-language", "en", 0, 0, 0.80), _run("xcopa", "in-language", "tr", 0, 0, 0.50),
    ]}}
    cells = icl_cells(res)
    five = cells[("xcopa", "cross-lingual", 5, "non-en")]
    assert five["acc"] == pytest.approx(0.60) and five["seed_std"] == pytest.approx(0.0)
    assert five["seeds"] == 2 and five["languages"] == ["tr", "zh"]
    zero = cells[("xcopa", "in-language", 0, "non-en")]
    assert zero["seed_std"] is None and zero["noise"] == pytest.approx(math.sqrt(0.25 / 100))
    assert cells[("xcopa", "in-language", 0, "en")]["acc"] == pytest.approx(0.80)


def test_tatoeba_mean_and_standard_error():
    entry = {"languages": {"de": {"to_pivot": 0.8, "from_pivot": 0.6, "pairs": 50},
                           "tr": {"to_pivot": 0.2, "from_pivot": 0.4, "pairs": 50}}}
    mean, se, n = mean_and_se(entry)
    assert (mean, n) == (pytest.approx(0.5), 2)
    assert se == pytest.approx(math.sqrt(0.7 * 0.3 / 100 + 0.3 * 0.7 / 100) / 2)
    assert mean_and_se(entry, ["tr"])[0] == pytest.approx(0.3)
    assert verdict(0.05, 0.01) == "gain" and verdict(-0.05, 0.01) == "loss" and verdict(0.01, 0.01) == "within noise"


def test_tatoeba_dev_split_is_the_end_of_each_file_and_never_in_the_test_set(shared_data):
    from crossalign.experiments.config import ExperimentConfig, TatoebaConfig
    from crossalign.experiments.tatoeba import tatoeba_pairs

    t = TatoebaConfig(data_dir=str(shared_data / "tatoeba"), languages=["deu", "tur"])
    cfg = ExperimentConfig(name="x", align=False, tatoeba=t)
    lines = (shared_data / "tatoeba" / "tatoeba.deu-eng.deu").read_text(encoding="utf-8").splitlines()
    test, dev = tatoeba_pairs(cfg, "test"), tatoeba_pairs(cfg, "dev")
    assert len(test["de"][1]) == len(lines) - 100 and dev["de"][1] == lines[-100:]
    assert test["de"][1] == lines[:-100]
    cfg.tatoeba.pairs = 50
    assert tatoeba_pairs(cfg, "test")["tr"][0] == test["tr"][0][:50] and tatoeba_pairs(cfg, "dev") == dev
    cfg.tatoeba.pairs = len(lines) - 99
    with pytest.raises(ConfigError, match="overlap the dev split of de"):
        tatoeba_pairs(cfg, "test")
    with pytest.raises(ConfigError, match="layer_from base_dev needs a Tatoeba dev split"):
        ExperimentConfig(name="y", baseline="x", layer_from="base_dev", tatoeba=TatoebaConfig(dev_pairs=0)).validate()


def test_replicas_are_named_or_recognised_by_settings_that_differ_only_in_the_seed():
    from crossalign.experiments.results import replica_parents

    def run(name, seed, replica_of="", **data):
        cfg = {"name": name, "data": {"filters": dict(data)}, "train": {"training": {"seed": seed, "lr": 1}}}
        return {"name": name, "align": True, "replica_of": replica_of, "config": cfg}

    runs = [run("a", 0), run("a1", 1, drop_shared_words=False),  # a setting added later, off: same run
            run("b", 0, drop_shared_words=True), run("b1", 1, replica_of="b", drop_shared_words=True),
            run("c", 2, drop_shared_words=True), run("d", 1, replica_of="missing")]
    runs[5]["config"]["train"]["training"]["lr"] = 2
    # c repeats b with another seed (same settings); a1 repeats a; d names a run that is not there
    assert replica_parents(runs) == {"a1": "a", "b1": "b", "c": "b"}

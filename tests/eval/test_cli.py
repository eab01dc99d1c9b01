"""`crossalign evaluate` end to end on a tiny checkpoint saved in tmp_path."""

from __future__ import annotations

import json

import yaml

from crossalign.cli import main


def _checkpoint(tmp_path, right_tokenizer):
    from crossalign.testing import tiny_model

    path = tmp_path / "tiny"
    tiny_model("llama", right_tokenizer, max_positions=8192).save_pretrained(path)
    right_tokenizer.save_pretrained(path)
    return path


def test_evaluate_command(tmp_path, right_tokenizer, data_dir, capsys):
    ckpt = _checkpoint(tmp_path, right_tokenizer)
    out = tmp_path / "out"
    code = main(
        [
            "evaluate",
            "--model.name_or_path",
            str(ckpt),
            "--model.device",
            "cpu",
            "--tasks",
            "xcopa",
            "pawsx",
            "--languages",
            "zh",
            "--prompt-language",
            "en",
            "--shots",
            "0",
            "1",
            "--seeds",
            "0",
            "1",
            "--data-dir",
            str(data_dir),
            "--limit",
            "3",
            "--output-dir",
            str(out),
            "--predictions",
            "--no-progress",
        ]
    )
    assert code == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["model"] == str(ckpt) and doc["config"]["prompt_language"] == "en"
    assert {(r["task"], r["shots"], r["seed"]) for r in doc["runs"]} == {
        (t, k, s) for t in ("xcopa", "pawsx") for k, s in ((0, 0), (1, 0), (1, 1))
    }
    assert yaml.safe_load((out / "config.yaml").read_text())["tasks"] == ["xcopa", "pawsx"]
    assert (out / "predictions" / "pawsx.en-zh.1shot.seed1.jsonl").exists()
    assert "| xcopa | afp | en | zh | 1 | 2 | 3 |" in capsys.readouterr().out
    # the same runs in lm-eval's format: cross-lingual names, shots and seeds in them (several of each)
    (lm_file,) = out.glob("results_*.json")
    lm = json.loads(lm_file.read_text())
    assert set(lm["configs"]) == {f"{t}_zh_xl-en_{k}" for t in ("xcopa", "paws")
                                  for k in ("0shot", "1shot_seed0", "1shot_seed1")}
    assert lm["results"]["xcopa_zh_xl-en_1shot_seed1"]["acc,none"] == next(
        r["metrics"]["acc"] for r in doc["runs"] if r["task"] == "xcopa" and r["shots"] == 1 and r["seed"] == 1)
    date = lm_file.stem.removeprefix("results_")
    assert (out / f"samples_paws_zh_xl-en_1shot_seed1_{date}.jsonl").exists()
    assert len(list(out.glob("samples_*.jsonl"))) == 6

    # the resolved config reproduces the run
    again = tmp_path / "again"
    assert main(["evaluate", "--config", str(out / "config.yaml"), "--output-dir", str(again)]) == 0
    assert json.loads((again / "results.json").read_text())["runs"][1]["metrics"] == doc["runs"][1]["metrics"]


def test_evaluate_command_bad_input(tmp_path, capsys):
    assert main(["evaluate", "--model.name_or_path", "x", "--tasks", "xcopa", "storycloze"]) == 2
    err = capsys.readouterr().err
    assert (
        "unknown task 'storycloze'" in err
        and "valid tasks: xnli, xcopa, pawsx, xstorycloze, xwinograd" in err
    )
    assert main(["evaluate", "--model.name_or_path", "x", "--demo-mode", "random"]) == 2
    assert "choose from ['fixed', 'per_item']" in capsys.readouterr().err
    assert main(["evaluate", "--tasks", "xcopa"]) == 2
    assert "model.name_or_path is empty" in capsys.readouterr().err


def test_evaluate_command_lm_eval_names(tmp_path, right_tokenizer, data_dir, capsys):
    ckpt = _checkpoint(tmp_path, right_tokenizer)
    out = tmp_path / "out"
    code = main(["evaluate", "--model.name_or_path", str(ckpt), "--model.device", "cpu", "--tasks", "xcopa_zh",
                 "paws_de", "xwinograd_jp", "--shots", "0", "--data-dir", str(data_dir), "--limit", "2",
                 "--output-dir", str(out), "--no-progress"])
    assert code == 0
    doc = json.loads((out / "results.json").read_text())
    assert [(r["task"], r["sample_language"]) for r in doc["runs"]] == [("xcopa", "zh"), ("pawsx", "de"),
                                                                          ("xwinograd", "ja")]
    (lm_file,) = out.glob("results_*.json")
    assert list(json.loads(lm_file.read_text())["results"]) == ["xcopa_zh", "paws_de", "xwinograd_jp"]
    assert not list(out.glob("samples_*"))  # per-sample logs only with --predictions
    assert f"lm-evaluation-harness format: {lm_file}" in capsys.readouterr().out


def test_evaluate_command_unknown_lm_eval_name(capsys):
    assert main(["evaluate", "--model.name_or_path", "no/such-model", "--tasks", "xcopa_zz"]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'xcopa_zz' (did you mean xcopa_zh" in err and "xcopa_{en,et,ht,id" in err

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

"""`crossalign evaluate` and `crossalign analyze` under bad input: a clear error (exit 2, the option
named) before the model loads, earlier outputs byte-identical; a failing task does not lose the others."""

from __future__ import annotations

import json

import pytest

from crossalign.cli import main


@pytest.fixture
def checkpoint(tmp_path, right_tokenizer):
    from crossalign.testing import tiny_model

    path = tmp_path / "tiny"
    tiny_model("llama", right_tokenizer, max_positions=8192).save_pretrained(path)
    right_tokenizer.save_pretrained(path)
    return path


def _evaluate(checkpoint, data_dir, out, *extra):
    return ["evaluate", "--model.name_or_path", str(checkpoint), "--model.device", "cpu", "--tasks", "xcopa",
            "--languages", "zh", "--prompt-language", "en", "--shots", "0", "--data-dir", str(data_dir),
            "--limit", "3", "--output-dir", str(out), "--no-progress", *extra]



@pytest.fixture
def earlier(checkpoint, data_dir, tmp_path, capsys, files_of):
    """An output folder holding a finished evaluation; returns (folder, its files)."""
    out = tmp_path / "eval"
    assert main(_evaluate(checkpoint, data_dir, out, "--predictions")) == 0
    capsys.readouterr()
    return out, files_of(out)


@pytest.mark.parametrize(("flag", "value", "words"), [
    ("--limit", "-1", "limit must be at least 1"),
    ("--limit", "0", "limit must be at least 1"),
    ("--batch-size", "0", "batch_size must be at least 1"),
    ("--max-rows", "0", "max_rows must be at least 1"),
])
def test_values_that_make_no_sense_are_refused(flag, value, words, earlier, checkpoint, data_dir, capsys,
                                               files_of, no_model):
    out, before = earlier
    assert main([*_evaluate(checkpoint, data_dir, out), flag, value]) == 2
    assert words in capsys.readouterr().err
    assert files_of(out) == before  # --limit 0 no longer writes acc 0.0 over the results


def test_unwritable_output_is_refused_before_the_model_loads(checkpoint, data_dir, tmp_path, capsys, read_only,
                                                             files_of, no_model):
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me\n")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "results.json").write_text("{}\n")
    shadow = tmp_path / "shadow"
    (shadow / "results.json").mkdir(parents=True)  # a folder where the results file must go
    cases = [(blocker / "eval", "is a file, not a folder"), (blocker, "is a file; give a folder"),
             (locked, "cannot write into"), (shadow, "is a folder; give a file name")]
    for out, words in cases:
        with read_only(locked):
            assert main(_evaluate(checkpoint, data_dir, out)) == 2
        err = capsys.readouterr().err
        assert "output_dir" in err and words in err, err
    assert blocker.read_text() == "keep me\n"
    assert files_of(locked) == {"results.json": b"{}\n"}


def test_missing_data_file_is_refused_before_the_model_loads(checkpoint, tmp_path, capsys, no_model):
    data = tmp_path / "data"
    data.mkdir()
    assert main(_evaluate(checkpoint, data, tmp_path / "eval")) == 2
    err = capsys.readouterr().err
    assert "xcopa" in err and str(data / "xcopa") in err
    assert not (tmp_path / "eval").exists()


def test_a_failing_task_keeps_the_others(checkpoint, shared_data, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "xcopa").symlink_to(shared_data / "xcopa")
    bad = data / "pawsx" / "zh" / "test_2k.tsv"
    bad.parent.mkdir(parents=True)
    bad.write_text("id\tsentence1\tsentence2\tlabel\n1\tonly two columns\n", encoding="utf-8")
    out = tmp_path / "eval"
    argv = _evaluate(checkpoint, data, out)
    argv[argv.index("xcopa")] = "pawsx"
    argv.insert(argv.index("pawsx") + 1, "xcopa")  # pawsx first: it fails, xcopa still runs
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "task pawsx failed" in err and f"{bad}:2:" in err
    doc = json.loads((out / "results.json").read_text())
    assert {r["task"] for r in doc["runs"]} == {"xcopa"}
    assert [f["task"] for f in doc["failed"]] == ["pawsx"] and f"{bad}:2:" in doc["failed"][0]["error"]
    assert "Failed" in (out / "results.md").read_text()


def test_analyze_refuses_an_unwritable_output_before_the_model_loads(tmp_path, capsys, no_model):
    pairs = tmp_path / "pairs.en-de.tsv"
    pairs.write_text("".join(f"English sentence {i}\tDeutscher Satz {i}\n" for i in range(6)), encoding="utf-8")
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me\n")
    argv = ["analyze", "--model.name_or_path", "./unused", "--pairs.paths", str(pairs), "--no-progress"]
    assert main([*argv, "--output", str(blocker)]) == 2
    assert "output: " in capsys.readouterr().err
    assert main([*argv, "--output", str(tmp_path / "out"), "--cache-dir", str(blocker / "cache")]) == 2
    assert "cache_dir: " in capsys.readouterr().err
    assert blocker.read_text() == "keep me\n" and not (tmp_path / "out").exists()


def test_analyze_separability_flag_without_values_skips_it(tmp_path):
    from crossalign.cli import command_parser
    from crossalign.commands.analyze import Config
    from crossalign.options import parse_args

    parser, _ = command_parser("analyze")
    cfg = parse_args(Config, parser.parse_args(["--separability", "--output", str(tmp_path)]))
    assert cfg.separability == []  # "empty to skip", as the help says

"""``crossalign generate`` end to end: outputs, statistics, reproducibility, errors, interrupted runs."""

from __future__ import annotations

import dataclasses
import json
import typing

import pytest
import yaml

from crossalign import cli
from crossalign.commands import generate as command
from crossalign.data import generate as generation


def tsv(tmp_path, n: int = 200, name: str = "ui.en-de.tsv"):
    path = tmp_path / name
    path.write_text(
        "".join(f"English sentence {i}\tDeutscher Satz {i}\n" for i in range(n)), encoding="utf-8"
    )
    return path


def flags(cls, prefix: str = "") -> list[str]:
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out += flags(tp, f"{prefix}{f.name}.")
        else:
            out.append(f"--{prefix}{f.name}")
    return out


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["generate", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    expected = flags(command.Config)
    assert len(expected) > 30
    for flag in expected:
        assert flag in text, flag
    for mode in generation.MODES:
        assert mode in text
    assert "floor(r)" in text  # the repeat semantics are explained


def test_end_to_end_outputs_and_rerun_from_config(tmp_path, capsys):
    data = tsv(tmp_path)
    out = tmp_path / "run" / "samples.jsonl"
    argv = ["generate", "--pairs.paths", str(data), "--output", str(out), "--repeat", "1.5", "--seed", "3"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "samples per direction" in printed and "en->de" in printed
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 300
    row = rows[0]
    assert set(row) >= {"pair", "prompt", "response", "prompt_lang", "response_lang", "mode", "template"}
    assert set(row["pair"]) == {"src_lang", "tgt_lang", "src", "tgt"}
    assert row["response"].startswith(" ") and not row["prompt"].endswith(" ")
    stats = json.loads((out.parent / "samples.stats.json").read_text())
    assert stats["samples"] == 300 and stats["items"] == 200 and stats["extra_items"] == 100
    assert sum(stats["directions"].values()) == 300
    assert stats["pairs_per_language_pair"] == {"en-de": 200}
    config = out.parent / "samples.config.yaml"
    saved = yaml.safe_load(config.read_text())
    assert saved["repeat"] == 1.5 and saved["seed"] == 3 and saved["pairs"]["paths"] == [str(data)]
    # the written config alone rebuilds the same file
    first = out.read_bytes()
    again = tmp_path / "again.jsonl"
    assert cli.main(["generate", "--config", str(config), "--output", str(again)]) == 0
    assert again.read_bytes() == first
    assert cli.main(["generate", "--config", str(config), "--seed", "4", "--output", str(again)]) == 0
    assert again.read_bytes() != first


def test_instruction_mode_end_to_end(tmp_path):
    folder = tmp_path / "bx"
    folder.mkdir()
    for lang in ("en", "sw"):
        rows = [
            {
                "id": str(i),
                "instruction": f"{lang} task {i}",
                "input": "",
                "output": "" if i == 0 else f"{lang} answer {i}",
            }
            for i in range(60)
        ]
        (folder / f"{lang}.json").write_text(json.dumps(rows), encoding="utf-8")
    out = tmp_path / "bx-run" / "s.jsonl"
    argv = ["generate", "--mode", "bilingual", "--instructions.path", str(folder)]
    argv += ["--instructions.languages", "en", "sw", "--output", str(out), "--cross-probability", "1"]
    assert cli.main(argv) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 59
    assert all(r["prompt_lang"] != r["response_lang"] for r in rows)
    assert all(r["pair"]["src_lang"] == "en" and r["pair"]["tgt_lang"] == "sw" for r in rows)
    stats = json.loads((out.parent / "s.stats.json").read_text())
    assert stats["dropped"] == {"instructions: empty_output (en)": 1, "instructions: empty_output (sw)": 1}


BAD_INPUTS = {
    "malformed line": ("x.en-de.tsv", "a\tb\nno tab\n", 2),
    "missing field": ("x.en-de.jsonl", '{"src": "a", "tgt": "b"}\n{"src": "a"}\n', 2),
    "empty text": ("x.en-de.tsv", "a\tb\nc\td\ne\t \n", 3),
    "unknown language": ("x.jsonl", '{"src": "a", "tgt": "b", "sl": "en", "tl": "zz"}\n', 1),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_errors_name_file_and_line(tmp_path, capsys, case):
    name, text, line = BAD_INPUTS[case]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    argv = ["generate", "--pairs.paths", str(path), "--output", str(tmp_path / "out" / "s.jsonl")]
    if case == "unknown language":
        argv += ["--pairs.src-lang-field", "sl", "--pairs.tgt-lang-field", "tl"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}: " in err
    assert not (tmp_path / "out").exists()


def test_parallel_files_of_different_lengths(tmp_path, capsys):
    (tmp_path / "c.fr-en.fr").write_text("un\ndeux\ntrois\n", encoding="utf-8")
    (tmp_path / "c.fr-en.en").write_text("one\ntwo\n", encoding="utf-8")
    argv = ["generate", "--pairs.paths", str(tmp_path / "c.fr-en"), "--output", str(tmp_path / "o.jsonl")]
    assert cli.main(argv) == 2
    assert f"{tmp_path / 'c.fr-en.en'}:3: parallel files have different lengths" in capsys.readouterr().err


def test_interrupted_run_leaves_previous_output_intact(tmp_path, monkeypatch):
    data = tsv(tmp_path, 50)
    out = tmp_path / "run" / "samples.jsonl"
    assert cli.main(["generate", "--pairs.paths", str(data), "--output", str(out)]) == 0
    before = out.read_bytes()
    calls = {"n": 0}
    real = generation.Sample.to_dict

    def dying(self):
        calls["n"] += 1
        if calls["n"] == 20:
            raise KeyboardInterrupt  # Ctrl-C while the rows are being written
        return real(self)

    monkeypatch.setattr(generation.Sample, "to_dict", dying)
    assert cli.main(["generate", "--pairs.paths", str(data), "--output", str(out), "--seed", "9"]) == 130
    assert calls["n"] == 20
    assert out.read_bytes() == before
    names = sorted(p.name for p in out.parent.iterdir())
    assert names == ["samples.config.yaml", "samples.jsonl", "samples.stats.json"]
    fresh = tmp_path / "fresh" / "samples.jsonl"
    calls["n"] = 0
    assert cli.main(["generate", "--pairs.paths", str(data), "--output", str(fresh)]) == 130
    assert not fresh.exists()


def test_config_errors(tmp_path, capsys):
    assert cli.main(["generate", "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "needs --pairs.paths" in capsys.readouterr().err
    data = tsv(tmp_path, 5)
    assert cli.main(["generate", "--pairs.paths", str(data), "--cross-probability", "2"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
    assert cli.main(["generate", "--mode", "bilingual", "--instructions.path", "x"]) == 2
    assert "--instructions.languages" in capsys.readouterr().err


def test_output_is_what_the_trainer_reads(tmp_path):
    from crossalign.data.samples import read_samples

    out = tmp_path / "s.jsonl"
    assert cli.main(["generate", "--pairs.paths", str(tsv(tmp_path, 20)), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    samples = read_samples(out)
    assert [(s.src, s.tgt, s.prompt, s.response) for s in samples] == [
        (r["pair"]["src"], r["pair"]["tgt"], r["prompt"], r["response"]) for r in rows
    ]

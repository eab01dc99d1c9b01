"""`crossalign train|evaluate|analyze` with a model that is not there or has only pickle weights:
exit code 2, one line on stderr naming the option and the path, the output folder untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossalign.cli import main

PAIRS = [("The cat sits on the mat.", "Die Katze sitzt auf der Matte."), ("I like green tea.", "Ich mag grünen Tee."),
         ("Where is the station?", "Wo ist der Bahnhof?"), ("Please close the door.", "Bitte schließ die Tür."),
         ("The weather is nice today.", "Das Wetter ist heute schön."), ("He dropped a hammer.", "Er ließ einen "
                                                                          "Hammer fallen.")]


def _samples(path: Path) -> Path:
    rows = [{"pair": {"src_lang": "en", "tgt_lang": "de", "src": en, "tgt": de}, "prompt": f"{en} Answer in German:",
             "response": f" {de}", "prompt_lang": "en", "response_lang": "de"} for en, de in PAIRS * 2]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _tatoeba(folder: Path) -> Path:
    folder.mkdir()
    (folder / "tatoeba.deu-eng.deu").write_text("".join(de + "\n" for _, de in PAIRS), encoding="utf-8")
    (folder / "tatoeba.deu-eng.eng").write_text("".join(en + "\n" for en, _ in PAIRS), encoding="utf-8")
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _command(name: str, model: str, tmp_path: Path, shared_data: Path) -> tuple[list[str], Path]:
    out = tmp_path / "out"
    out.mkdir()
    if name == "train":
        (out / "notes.txt").write_text("an earlier run's notes\n")
        args = ["--data.train_file", str(_samples(tmp_path / "samples.jsonl")), "--training.output_dir", str(out),
                "--training.max_steps", "1", "--training.report_to", "none", "--monitor.heldout", "0",
                "--contrastive.layer", "1"]
    elif name == "evaluate":
        (out / "results.json").write_text('{"runs": ["earlier"]}\n')
        (out / "results.md").write_text("| earlier |\n")
        args = ["--tasks", "xcopa", "--languages", "zh", "--shots", "0", "--limit", "2", "--data-dir",
                str(shared_data), "--output-dir", str(out), "--no-progress"]
    else:
        (out / "analysis.json").write_text('{"earlier": true}\n')
        args = ["--pairs.paths", str(_tatoeba(tmp_path / "tatoeba")), "--output", str(out), "--no-progress"]
    return [name, "--model.name_or_path", model, "--model.device", "cpu", *args], out


@pytest.mark.parametrize("command", ["train", "evaluate", "analyze"])
@pytest.mark.parametrize("model", ["./nosuchdir", "no/such/model", "pickle"])
def test_bad_model_is_exit_2_and_writes_nothing(command, model, tiny_folders, tmp_path, shared_data, monkeypatch,
                                                capsys, no_hub):
    monkeypatch.chdir(tmp_path)
    name = str(tiny_folders["pickle"]) if model == "pickle" else model
    argv, out = _command(command, name, tmp_path, shared_data)
    before = _snapshot(out)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"crossalign {command}: error: model.name_or_path: " in err and name in err
    assert "Traceback" not in err
    if model == "pickle":
        assert "--model.allow_pickle" in err and "pytorch_model.bin" in err
    else:
        assert "not a folder on disk" in err or "no such folder" in err
    assert _snapshot(out) == before


def test_analyze_names_the_compare_option(tiny_folders, tmp_path, shared_data, monkeypatch, capsys, no_hub):
    monkeypatch.chdir(tmp_path)
    argv, out = _command("analyze", str(tiny_folders["safe"]), tmp_path, shared_data)
    before = _snapshot(out)
    assert main([*argv, "--compare.name_or_path", "./gone"]) == 2
    assert "crossalign analyze: error: compare.name_or_path: ./gone: no such folder" in capsys.readouterr().err
    assert _snapshot(out) == before

"""`crossalign compare`: two `crossalign evaluate` folders, paired by item, and its refusals of bad
input (exit 2, the file named)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crossalign.cli import main
from crossalign.eval.outputs import write_outputs
from crossalign.eval.paired import compare_paired


def _rows(correct, ids, label=1):
    # id, label, pred, pred_norm, ll as `crossalign evaluate --predictions` writes them
    return [{"id": i, "label": label, "pred": label if c else 1 - label, "pred_norm": label, "ll": [-1.0, -2.0],
             "demos": []} for i, c in zip(ids, correct, strict=True)]


def _folder(path, runs: dict[str, list[dict]]):
    write_outputs({"runs": [], "summary": [], "predictions": runs}, path, predictions=True, lm_eval=False)
    return path


@pytest.fixture
def folders(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"xcopa-tr-{i}" for i in range(120)]
    a0 = rng.random(120) < 0.5
    b0 = a0.copy()
    b0[:4] = False
    b0[60:75] = True
    a5 = rng.random((2, 120)) < 0.6
    b5 = a5 ^ (rng.random((2, 120)) < 0.1)
    order = rng.permutation(120)  # B's file lists the items in another order
    runs_a = {"xcopa.en-tr.0shot.seed0": _rows(a0, ids),
              **{f"xcopa.en-tr.5shot.seed{s}": _rows(a5[s], ids) for s in (0, 1)}}
    runs_b = {"xcopa.en-tr.0shot.seed0": [_rows(b0, ids)[k] for k in order],
              **{f"xcopa.en-tr.5shot.seed{s}": _rows(b5[s], ids) for s in (0, 1)}}
    return _folder(tmp_path / "base", runs_a), _folder(tmp_path / "afp", runs_b), (a0, b0, a5, b5)


def test_compare_prints_and_writes_paired_statistics(folders, tmp_path, capsys):
    a, b, (a0, b0, a5, b5) = folders
    out = tmp_path / "cmp" / "compare.md"
    assert main(["compare", "--a", str(a), "--b", str(b), "--seed", "3", "--resamples", "2000",
                 "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| run | n | acc A | acc B | Δ | 95% CI | McNemar p | MDE |" in printed
    doc = json.loads(out.with_suffix(".json").read_text())
    assert doc["bootstrap"] == {"resamples": 2000, "seed": 3} and out.read_text() in printed
    rows = {r["run"]: r for r in doc["rows"]}
    assert set(rows) == {"xcopa.en-tr.0shot.seed0", "xcopa.en-tr.5shot.seed0", "xcopa.en-tr.5shot.seed1",
                         "xcopa.en-tr.5shot.seeds0,1"}
    want = compare_paired(a0, b0, resamples=2000, seed=3)  # matched by id despite B's order
    got = rows["xcopa.en-tr.0shot.seed0"]
    assert got["diff"] == pytest.approx(want["diff"]) and got["p_mcnemar"] == pytest.approx(want["p_mcnemar"])
    assert got["ci"] == pytest.approx(list(want["ci"])) and got["mde"] == pytest.approx(want["mde"])
    assert f"| xcopa.en-tr.0shot.seed0 | 120 | {100 * a0.mean():.1f} | {100 * b0.mean():.1f} |" in printed
    seeds = rows["xcopa.en-tr.5shot.seeds0,1"]
    assert seeds["seeds"] == 2 and seeds["diff"] == pytest.approx(np.mean(b5.astype(float) - a5))
    assert seeds["ci"] == pytest.approx(list(compare_paired(a5, b5, resamples=2000, seed=3)["ci"]))


def _err(capsys, *args) -> str:
    assert main(["compare", *map(str, args)]) == 2
    return capsys.readouterr().err


def test_compare_refuses_bad_input(folders, tmp_path, capsys):
    a, b, _ = folders
    assert "nope: no such folder" in _err(capsys, "--a", tmp_path / "nope", "--b", b)
    (tmp_path / "empty").mkdir()
    assert "no predictions/*.jsonl" in _err(capsys, "--a", a, "--b", tmp_path / "empty")
    assert "give both folders" in _err(capsys, "--a", a)
    # not the same runs
    other = _folder(tmp_path / "other", {"xcopa.en-tr.0shot.seed0": _rows([True] * 120, [f"xcopa-tr-{i}" for i in
                                                                                       range(120)])})
    err = _err(capsys, "--a", a, "--b", other)
    assert "do not hold the same runs" in err and "xcopa.en-tr.5shot.seed1" in err
    # the same run on other items
    path = b / "predictions" / "xcopa.en-tr.0shot.seed0.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")
    err = _err(capsys, "--a", a, "--b", b)
    assert "hold different items" in err and str(path) in err
    # a broken row is named by file and line
    path.write_text("\n".join(lines[:2]) + '\n{"id": "x"}\n')
    assert f"{path}:3: not a prediction row" in _err(capsys, "--a", a, "--b", b)

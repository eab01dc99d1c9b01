"""`crossalign analyze` end to end on tiny saved models, and its errors on bad input."""

from __future__ import annotations

import json

import pytest
import yaml

from crossalign.cli import main
from crossalign.testing import tiny_model


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory, right_tokenizer):
    """Two tiny Gemma-3 checkpoints saved like hub snapshots (save_pretrained), tokenizer included."""
    root = tmp_path_factory.mktemp("models")
    paths = []
    for seed in (0, 1):
        path = root / f"m{seed}"
        tiny_model("gemma3", right_tokenizer, seed=seed).save_pretrained(path)
        right_tokenizer.save_pretrained(path)
        paths.append(str(path))
    return paths


@pytest.fixture()
def tatoeba_dir(tmp_path, make_pairs):
    folder = tmp_path / "tatoeba"
    folder.mkdir()
    for code, lang in (("deu", "de"), ("fra", "fr"), ("cmn", "zh")):
        eng, other = make_pairs(languages=(lang,), n=14, seed=len(code + lang))[lang]
        (folder / f"tatoeba.{code}-eng.{code}").write_text("\n".join(other) + "\n", encoding="utf-8")
        (folder / f"tatoeba.{code}-eng.eng").write_text("\n".join(eng) + "\n", encoding="utf-8")
    return folder


def _run(*args) -> int:
    return main(["analyze", *map(str, args), "--no-progress", "--probe-folds", "2"])


def test_analyze_end_to_end(saved_models, tatoeba_dir, tmp_path, capsys):
    out = tmp_path / "run"
    rc = _run("--model.name_or_path", saved_models[0], "--compare.name_or_path", saved_models[1],
              "--pairs.paths", tatoeba_dir, "--layers", "all", "--pooling", "mean", "last",
              "--max-pairs", "12",
              "--labels", "base", "aligned", "--projection-max-per-language", "6",
              "--cache-dir", tmp_path / "cache", "--output", out)
    assert rc == 0
    assert "best layer" in capsys.readouterr().out
    report = json.loads((out / "analysis.json").read_text())
    assert report["labels"] == ["base", "aligned"]
    base, aligned = report["runs"]["base"], report["runs"]["aligned"]
    assert base["languages"] == ["zh", "de", "fr"] and base["pairs"] == {"zh": 12, "de": 12, "fr": 12}
    assert base["layers"] == [0, 1, 2, 3, 4] and set(base["per_layer"]) == {"mean", "last"}
    assert base["model"] == saved_models[0] and aligned["model"] == saved_models[1]
    # the two models are different, so their numbers differ
    assert base["per_layer"]["mean"]["3"]["summary"] != aligned["per_layer"]["mean"]["3"]["summary"]
    # projections of both models at the same layer(s) and pooling, for side-by-side pictures
    assert set(base["projections"]) == set(aligned["projections"])
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["compare"]["name_or_path"] == saved_models[1] and cfg["pooling"] == ["mean", "last"]
    assert report["config"]["max_pairs"] == 12
    pngs = {p.name for p in out.glob("*.png")}
    assert {"layers_retrieval.png", "layers_alignment.png", "layers_uniformity.png",
            "layers_probe_accuracy.png"} <= pngs
    assert any(n.startswith("projection_tsne_") for n in pngs)
    assert any(n.startswith("languages_L") for n in pngs)
    md = (out / "analysis.md").read_text()
    assert all(f"]({n})" in md for n in pngs)
    # rerun from the saved config: representations come from the cache, numbers are identical
    rc = main(["analyze", "--config", str(out / "config.yaml"), "--output", str(tmp_path / "again")])
    assert rc == 0
    again = json.loads((tmp_path / "again" / "analysis.json").read_text())
    assert again["runs"]["base"]["representations"]["computed"] == []
    assert again["runs"]["base"]["per_layer"] == base["per_layer"]


def test_mismatched_parallel_files(saved_models, tatoeba_dir, tmp_path, capsys):
    bad = tatoeba_dir / "tatoeba.fra-eng.fra"
    bad.write_text("\n".join(bad.read_text().splitlines()[:-2]) + "\n", encoding="utf-8")
    rc = _run("--model.name_or_path", saved_models[0], "--pairs.paths", tatoeba_dir,
              "--output", tmp_path / "o")
    assert rc == 2
    err = capsys.readouterr().err
    assert f"{bad}:13: parallel files have different lengths" in err
    assert not (tmp_path / "o").exists()


def test_empty_line_and_unknown_language(saved_models, tmp_path, capsys):
    tsv = tmp_path / "pairs.en-de.tsv"
    tsv.write_text("Hello\tHallo\nYes\t\nNo\tNein\n", encoding="utf-8")
    model = ("--model.name_or_path", saved_models[0], "--output", tmp_path / "o")
    assert _run(*model, "--pairs.paths", tsv) == 2
    assert f"{tsv}:2:" in capsys.readouterr().err
    unknown = tmp_path / "pairs.en-qqx.tsv"
    unknown.write_text("Hello\tHallo\n", encoding="utf-8")
    assert _run(*model, "--pairs.paths", unknown) == 2
    assert "unknown language code 'qqx'" in capsys.readouterr().err


def test_layer_out_of_range(saved_models, tatoeba_dir, tmp_path, capsys):
    rc = _run("--model.name_or_path", saved_models[0], "--pairs.paths", tatoeba_dir, "--layers", "2,9",
              "--output", tmp_path / "o")
    assert rc == 2
    assert "valid layers are 0..4" in capsys.readouterr().err


def test_hub_dataset_layout_and_jsonl(saved_models, tmp_path, make_pairs):
    """A dataset saved with save_to_disk (the layout a hub id resolves to) and a JSON-lines file."""
    from datasets import Dataset

    eng, deu = make_pairs(languages=("de",), n=8)["de"]
    Dataset.from_dict({"translation": [{"de": d, "en": e} for d, e in zip(deu, eng, strict=True)]}) \
        .save_to_disk(tmp_path / "wmt-like")
    jsonl = tmp_path / "pairs.jsonl"
    eng2, fra = make_pairs(languages=("fr",), n=8, seed=5)["fr"]
    jsonl.write_text("".join(json.dumps({"src": e, "tgt": f}) + "\n" for e, f in zip(eng2, fra, strict=True)),
                     encoding="utf-8")
    for name, extra in (("hf", ["--pairs.format", "hf", "--pairs.src-lang", "de", "--pairs.tgt-lang", "en",
                                "--pairs.paths", tmp_path / "wmt-like"]),
                        ("jsonl", ["--pairs.src-lang", "en", "--pairs.tgt-lang", "fr", "--pairs.paths", jsonl])):
        out = tmp_path / name
        assert _run("--model.name_or_path", saved_models[0], "--layers", "1,2", "--projection-layers", "none",
                    "--separability", "silhouette", "--output", out, *extra) == 0
        report = json.loads((out / "analysis.json").read_text())["runs"]["base"]
        assert report["pairs"] == ({"de": 8} if name == "hf" else {"fr": 8})
        assert not list(out.glob("projection_*.png"))


def test_projection_layer_out_of_range_is_refused_before_encoding(saved_models, tatoeba_dir, tmp_path, capsys,
                                                                  monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the sentences were encoded before projection_layers was checked")

    monkeypatch.setattr("crossalign.commands.analyze.measure_model", refuse)
    out = tmp_path / "run"
    assert _run("--model.name_or_path", saved_models[0], "--pairs.paths", tatoeba_dir, "--projection-layers", "9",
                "--output", out) == 2
    assert "projection_layers: layer 9 does not exist" in capsys.readouterr().err
    assert not out.exists()

"""Pictures decode as PNGs of the documented size; the report holds every number and embeds them."""

from __future__ import annotations

import json

import pytest
from matplotlib.image import imread

from crossalign.analysis.plots import CURVES, plot_language_bars, plot_layer_curves, plot_projection
from crossalign.analysis.report import write_report
from crossalign.analysis.runner import analyze_model
from crossalign.testing import tiny_model


@pytest.fixture(scope="module")
def two_runs(right_tokenizer, gemma, make_pairs):
    pairs = make_pairs(n=10)
    kwargs = dict(layers="all", pooling=["mean", "last"], progress=False, probe_folds=2,
                  projection_max_per_language=8)
    base = analyze_model(gemma, right_tokenizer, pairs, **kwargs)
    other = tiny_model("gemma3", right_tokenizer, seed=1)
    rec = base["recommended"]
    aligned = analyze_model(other, right_tokenizer, pairs, projection_layers=[rec["layer"]],
                            projection_pooling=rec["pooling"], **kwargs)
    return base, aligned


def _size(path) -> tuple[int, int]:
    img = imread(path)  # raises on a file that is not a valid PNG
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    assert img[..., :3].std() > 0  # something was drawn
    return img.shape[1], img.shape[0]


def test_layer_curves(two_runs, tmp_path):
    base, aligned = two_runs
    paths = plot_layer_curves(base, aligned, tmp_path)
    assert sorted(p.stem for p in paths) == sorted(f"layers_{k}" for k in CURVES)
    for p in paths:
        assert _size(p) == (700, 450)


def test_projection_and_bars(two_runs, tmp_path):
    base, aligned = two_runs
    layer, pooling = str(base["recommended"]["layer"]), base["recommended"]["pooling"]
    proj_b, proj_a = base["projections"][pooling][layer], aligned["projections"][pooling][layer]
    assert proj_b["labels"] == proj_a["labels"]  # same sentences drawn for both models
    assert _size(plot_projection(proj_b, proj_a, tmp_path / "p.png", "tsne")) == (1200, 550)
    assert _size(plot_projection(proj_b, None, tmp_path / "single.png", "pca")) == (600, 550)
    assert _size(plot_language_bars(base, aligned, tmp_path / "bars.png")) == (1100, 450)
    with pytest.raises(ValueError, match="no 'umap'"):
        plot_projection(proj_b, None, tmp_path / "x.png", "umap")


def test_write_report(two_runs, tmp_path):
    base, aligned = two_runs
    out = tmp_path / "out"
    files = write_report(base, out, aligned, labels=("base", "afp"), extra={"config": {"seed": 0}})
    report = json.loads((out / "analysis.json").read_text())
    assert report["labels"] == ["base", "afp"] and report["config"] == {"seed": 0}
    got = report["runs"]["afp"]["per_layer"]["last"]["3"]["summary"]
    assert got == aligned["per_layer"]["last"]["3"]["summary"]
    md = (out / "analysis.md").read_text()
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert len(pngs) == len(CURVES) + 1 + 2  # curves, language bars, PCA + t-SNE
    for name in pngs:
        assert f"]({name})" in md  # every picture is embedded
        _size(out / name)
    rec = base["recommended"]
    assert f"Best layer by retrieval: **{rec['layer']}**" in md
    assert files["markdown"] == out / "analysis.md"
    assert not list(out.glob(".*"))  # no temporary files left

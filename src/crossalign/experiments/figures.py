"""The study's figures: retrieval by layer for every run, and projections of the aligned runs.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from matplotlib import colormaps
from matplotlib.figure import Figure

from crossalign.analysis.plots import plot_projection, save_png
from crossalign.experiments.results import ALIGNMENT_METRICS, MAIN_GROUPS, alignment_accuracy
from crossalign.model.pooling import POOLING_METHODS


# ---------------------------------------------------------------- figures
def plot_runs_by_layer(runs: list[dict], path: Path, title: str) -> Path:


    fig = Figure(figsize=(8.0, 4.8), dpi=100)
    ax = fig.subplots()
    cmap = colormaps["tab10" if len(runs) <= 10 else "tab20"]
    for i, r in enumerate(runs):
        colour = cmap(i % cmap.N)
        poolings = list(POOLING_METHODS) if not r["align"] else [r["pooling"]]
        for pooling in poolings:
            per_layer = r["tatoeba"]["per_layer"].get(pooling)
            if not per_layer:
                continue
            layers = sorted(per_layer, key=int)
            ys = [per_layer[x]["summary"]["retrieval"] for x in layers]
            style = "--" if pooling == "last" else "-"
            ax.plot([int(x) for x in layers], ys, style, color=colour, marker="o", markersize=3,
                    label=f"{r['name']} ({pooling})", linewidth=2.0 if not r["align"] else 1.2)
        if r["align"]:
            ax.axvline(r["layer"], color=colour, linewidth=0.8, linestyle=":")
    ax.set_xlabel("layer (0 = embedding output)")
    ax.set_ylabel("Tatoeba top-1 retrieval (mean of both directions)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.subplots_adjust(left=0.09, right=0.98, top=0.92, bottom=0.11)
    return save_png(fig, path)


def figures(runs: list[dict], bases: dict[str, dict], fig_dir: Path) -> dict[str, list[tuple[str, Path]]]:

    out: dict[str, list[tuple[str, Path]]] = defaultdict(list)
    for base_name, base in bases.items():
        family = [base] + [r for r in runs if r["align"] and r["baseline"] == base_name]
        path = plot_runs_by_layer(family, fig_dir / f"layers_{base_name}.png",
                                 f"{base['model']}: Tatoeba retrieval per layer (dotted: aligned layer)")
        out["layers"].append((base_name, path))
    for r in runs:
        if not r["align"] or r["group"] not in (*MAIN_GROUPS, "reference"):
            continue
        base = bases[r["baseline"]]
        layer = str(r["layer"])
        pb = base["tatoeba"].get("projections", {}).get("mean", {}).get(layer)
        pa = r["tatoeba"].get("projections", {}).get("mean", {}).get(layer)
        if pb and pa:
            path = plot_projection(pb, pa, fig_dir / f"projection_{r['name']}.png", "pca",
                                   (base["name"], r["name"]))
            out["projections"].append((r["name"], path))
    return out


def plot_alignment_accuracy(runs: list[dict], path: Path) -> Path | None:
    """Spearman's rho across languages (alignment vs XCOPA in-language 0-shot accuracy) by layer, one line
    per run and alignment metric, with the bootstrap 95% band."""
    series = [(r["name"], m, alignment_accuracy(r, m)) for r in runs for m in ALIGNMENT_METRICS]
    series = [s for s in series if s[2]]
    if not series:
        return None
    fig = Figure(figsize=(8.0, 4.4), dpi=100)
    ax = fig.subplots()
    cmap = colormaps["tab10"]
    names = sorted({s[0] for s in series}, key=[s[0] for s in series].index)
    for name, metric, corr in series:
        colour = cmap(names.index(name) % cmap.N)
        layers = [x for x, v in corr["layers"].items() if v["ci"] is not None]
        rho = [corr["layers"][x]["rho"] for x in layers]
        style = "-" if metric == "top1" else "--"
        ax.plot(layers, rho, style, color=colour, marker="o", markersize=3, label=f"{name} ({metric})")
        if metric == "top1":
            ax.fill_between(layers, [corr["layers"][x]["ci"][0] for x in layers],
                            [corr["layers"][x]["ci"][1] for x in layers], color=colour, alpha=0.12)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("layer (0 = embedding output)")
    ax.set_ylabel("Spearman rho across languages")
    ax.set_title("Alignment (XCOPA premises vs English) against XCOPA 0-shot accuracy; band: 95% CI (top-1)",
                 fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.subplots_adjust(left=0.09, right=0.98, top=0.92, bottom=0.11)
    return save_png(fig, path)

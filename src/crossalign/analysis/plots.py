"""PNG pictures of an analysis: metrics against layer, 2-D projections, per-language retrieval.

    paths = plot_layer_curves(results_base, results_aligned, "runs/analysis")
    plot_projection(proj_base, proj_aligned, "runs/analysis/projection_pca_L11.png", method="pca")
    plot_language_bars(results_base, results_aligned, "runs/analysis/languages_L11.png", layer=11)

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas, never pyplot: no
display is needed and no global state is shared between calls. Sizes are fixed in inches
at :data:`DPI` (no tight bounding box), so every PNG has a known pixel size. Files are
written atomically. ``results_*`` are the dicts of :func:`crossalign.analysis.runner.analyze_model`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from crossalign.io import atomic_write

DPI = 100
CURVE_SIZE = (7.0, 4.5)  # inches -> 700 x 450 px
PROJECTION_PANEL = (6.0, 5.5)  # per model -> 600 x 550 px each
BARS_SIZE = (11.0, 4.5)  # -> 1100 x 450 px

# file stem -> (title, y label, [(summary metric, line style)])
CURVES: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "retrieval": ("Bitext retrieval, cosine (solid: xx→pivot, dashed: pivot→xx)", "top-1 accuracy",
                  [("to_pivot", "-"), ("from_pivot", "--")]),
    "retrieval_margin": ("Bitext retrieval, ratio margin (solid: xx→pivot, dashed: pivot→xx)",
                         "top-1 accuracy", [("to_pivot_margin", "-"), ("from_pivot_margin", "--")]),
    "alignment": ("Alignment: distance of translations (lower = closer)", "mean ‖x̂−ŷ‖²",
                  [("alignment", "-")]),
    "uniformity": ("Uniformity (lower = more spread out)", "log E exp(−2‖x̂−ŷ‖²)", [("uniformity", "-")]),
    "cosine": ("Cosine of translations (solid) and of other pairs (dashed)", "mean cosine",
               [("pair_cosine", "-"), ("random_cosine", "--")]),
    "probe_accuracy": ("Language-ID probe accuracy (lower = languages mixed)", "cross-validated accuracy",
                       [("probe_accuracy", "-")]),
    "silhouette": ("Silhouette of language clusters (lower = languages mixed)", "silhouette (cosine)",
                   [("silhouette", "-")]),
}
COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _new_figure(size: tuple[float, float], ncols: int = 1):
    fig = Figure(figsize=size, dpi=DPI)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def save_png(fig, path: str | Path) -> Path:
    """Write ``fig`` as a PNG of exactly ``figsize * DPI`` pixels, atomically."""
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=DPI)
    return path


def _runs(results: Sequence[dict | None], labels: Sequence[str]) -> list[tuple[str, dict]]:
    return [(label, r) for label, r in zip(labels, results, strict=False) if r is not None]


def plot_layer_curves(
    results_base: dict,
    results_aligned: dict | None,
    out_dir: str | Path,
    labels: Sequence[str] = ("base", "aligned"),
    prefix: str = "layers_",
) -> list[Path]:
    """One PNG per metric family (:data:`CURVES`) against layer, models and poolings overlaid."""
    runs = _runs([results_base, results_aligned], labels)
    paths = []
    for stem, (title, ylabel, series) in CURVES.items():
        fig, (ax,) = _new_figure(CURVE_SIZE)
        drawn = 0
        line_id = 0
        for label, results in runs:
            for pooling, per_layer in results["per_layer"].items():
                layers = sorted(per_layer, key=int)
                colour = COLOURS[line_id % len(COLOURS)]
                line_id += 1
                for metric, style in series:
                    if metric not in per_layer[layers[0]]["summary"]:
                        continue
                    ys = [per_layer[x]["summary"][metric] for x in layers]
                    name = f"{label} ({pooling})" if style == "-" else None
                    ax.plot([int(x) for x in layers], ys, style, color=colour, marker="o", markersize=3,
                            label=name)
                    drawn += 1
            if stem == "probe_accuracy" and "probe_chance" in _first_summary(results):
                ax.axhline(_first_summary(results)["probe_chance"], color="grey", linestyle=":", linewidth=1,
                           label="chance" if label == runs[0][0] else None)
        if not drawn:
            continue
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("layer (0 = embedding output)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.subplots_adjust(left=0.11, right=0.97, top=0.9, bottom=0.12)
        paths.append(save_png(fig, Path(out_dir) / f"{prefix}{stem}.png"))
    return paths


def _first_summary(results: dict) -> dict:
    per_layer = next(iter(results["per_layer"].values()))
    return next(iter(per_layer.values()))["summary"]


def plot_projection(
    proj_base: dict,
    proj_aligned: dict | None,
    out_path: str | Path,
    method: str = "pca",
    labels: Sequence[str] = ("base", "aligned"),
) -> Path:
    """Scatter of 2-D coordinates coloured by language, one panel per model side by side.

    ``proj_*`` are dicts from :func:`crossalign.analysis.projection.projection_at`.
    """
    runs = _runs([proj_base, proj_aligned], labels)
    fig, axes = _new_figure((PROJECTION_PANEL[0] * len(runs), PROJECTION_PANEL[1]), ncols=len(runs))
    languages = sorted(set(proj_base["labels"]), key=lambda lang: (lang != _pivot_guess(proj_base), lang))
    cmap = _colormap(len(languages))
    for ax, (label, proj) in zip(axes, runs, strict=True):
        if method not in proj:
            raise ValueError(f"the projection of {label} has no {method!r} coordinates; it has "
                             f"{[k for k in proj if k in ('pca', 'tsne')]}")
        coords = proj[method]
        for i, lang in enumerate(languages):
            pts = [xy for xy, lab in zip(coords, proj["labels"], strict=True) if lab == lang]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.scatter(xs, ys, s=7, color=cmap(i), label=lang, alpha=0.75, linewidths=0)
        ax.set_title(f"{label}: {method.upper()}, {proj['pooling']} pooling, layer {proj['layer']}",
                     fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[-1].legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.subplots_adjust(left=0.02, right=0.88 if len(runs) == 1 else 0.93, top=0.92, bottom=0.03, wspace=0.05)
    return save_png(fig, out_path)


def _pivot_guess(proj: dict) -> str:
    return proj["labels"][0] if proj["labels"] else ""


def _colormap(n: int):
    return colormaps["tab20"] if n > 10 else colormaps["tab10"]


def plot_language_bars(
    results_base: dict,
    results_aligned: dict | None,
    out_path: str | Path,
    layer: int | None = None,
    pooling: str | None = None,
    labels: Sequence[str] = ("base", "aligned"),
    scoring: str = "cosine",
) -> Path:
    """Per-language retrieval accuracy at one layer (default: the base's recommended one).

    Two panels, xx→pivot and pivot→xx; one bar per model in each language group.
    """
    rec = results_base.get("recommended", {})
    layer = rec.get("layer") if layer is None else layer
    pooling = pooling or rec.get("pooling") or next(iter(results_base["per_layer"]))
    if layer is None:
        raise ValueError("give the layer to draw: the results hold no recommended layer")
    suffix = "" if scoring == "cosine" else "_margin"
    if scoring not in ("cosine", "margin"):
        raise ValueError(f"unknown scoring {scoring!r}; choose from ['cosine', 'margin']")
    runs = _runs([results_base, results_aligned], labels)
    languages = results_base["languages"]
    pivot = results_base["pivot"]
    fig, axes = _new_figure(BARS_SIZE, ncols=2)
    width = 0.8 / len(runs)
    panels = ((axes[0], "to_pivot", f"xx → {pivot}"), (axes[1], "from_pivot", f"{pivot} → xx"))
    for ax, direction, title in panels:
        for r, (label, results) in enumerate(runs):
            entry = results["per_layer"].get(pooling, {}).get(str(layer))
            if entry is None:
                raise ValueError(f"{label}: no results for pooling {pooling!r} at layer {layer}")
            values = [entry["languages"][lang][direction + suffix] for lang in languages]
            xs = [i + (r - (len(runs) - 1) / 2) * width for i in range(len(languages))]
            ax.bar(xs, values, width=width, color=COLOURS[r], label=label)
        ax.set_xticks(range(len(languages)))
        ax.set_xticklabels(languages, rotation=60, fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(f"{title}, {scoring}, layer {layer} ({pooling})", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("top-1 accuracy")
    axes[1].legend(fontsize=8)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.9, bottom=0.17, wspace=0.12)
    return save_png(fig, out_path)

"""The analysis report: ``analysis.json`` with every number, ``analysis.md`` embedding the PNGs.

    write_report(results_base, "runs/analysis", results_aligned, labels=("base", "aligned"))

Each file is written atomically (PNGs first, then the markdown, then the JSON), so a
reader that finds ``analysis.json`` finds a complete report beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from crossalign.analysis.plots import plot_language_bars, plot_layer_curves, plot_projection
from crossalign.io import write_json, write_text

REPORT_FORMAT = "crossalign.analysis/1"
TABLE_COLUMNS = [
    ("to_pivot", "xx→piv"), ("from_pivot", "piv→xx"), ("to_pivot_margin", "xx→piv margin"),
    ("from_pivot_margin", "piv→xx margin"), ("alignment", "align ↓"), ("uniformity", "unif ↓"),
    ("cosine_gap", "cos gap"), ("probe_accuracy", "lang-ID probe"), ("silhouette", "silhouette"),
]


def write_report(
    results_base: dict,
    out_dir: str | Path,
    results_aligned: dict | None = None,
    labels: Sequence[str] = ("base", "aligned"),
    extra: dict | None = None,
) -> dict[str, Path]:
    """Write PNGs, ``analysis.md`` and ``analysis.json`` into ``out_dir``; returns their paths by name."""
    out_dir = Path(out_dir)
    labels = list(labels)
    runs = [(labels[0], results_base)] + ([(labels[1], results_aligned)] if results_aligned else [])
    files: dict[str, Path] = {}
    for path in plot_layer_curves(results_base, results_aligned, out_dir, labels):
        files[path.stem] = path
    rec = results_base["recommended"]
    layer, pooling = rec["layer"], rec["pooling"]
    files["languages"] = plot_language_bars(
        results_base, results_aligned, out_dir / f"languages_L{layer}.png", layer, pooling, labels
    )
    for key, proj_base in _projections(results_base):
        proj_aligned = _projection(results_aligned, *key) if results_aligned else None
        for method in ("pca", "tsne"):
            if method in proj_base:
                name = f"projection_{method}_{key[0]}_L{key[1]}"
                path = out_dir / f"{name}.png"
                files[name] = plot_projection(proj_base, proj_aligned, path, method, labels)
    write_text(out_dir / "analysis.md", render_markdown(runs, files, out_dir))
    report = {"format": REPORT_FORMAT, "labels": [label for label, _ in runs],
              "runs": {label: results for label, results in runs}, **(extra or {})}
    write_json(out_dir / "analysis.json", report)
    files["json"] = out_dir / "analysis.json"
    files["markdown"] = out_dir / "analysis.md"
    return files


def _projections(results: dict):
    for pooling, by_layer in results.get("projections", {}).items():
        for layer, proj in by_layer.items():
            yield (pooling, int(layer)), proj


def _projection(results: dict, pooling: str, layer: int) -> dict | None:
    return results.get("projections", {}).get(pooling, {}).get(str(layer))


def _fmt(value) -> str:
    return "" if value is None else f"{value:.3f}"


def render_markdown(runs: list[tuple[str, dict]], files: dict[str, Path], out_dir: Path) -> str:
    first = runs[0][1]
    lines = ["# Representation analysis", ""]
    lines.append(f"Pivot `{first['pivot']}`; languages: {', '.join(first['languages'])} "
                 f"({sum(first['pairs'].values())} pairs, "
                 f"{min(first['pairs'].values())}–{max(first['pairs'].values())} per language).")
    lines.append("")
    for label, results in runs:
        rec = results["recommended"]
        lines.append(f"- **{label}**: `{results['model']}` ({results['num_layers']} layers). Best layer by "
                     f"{rec['metric']}: **{rec['layer']}** with {rec['pooling']} pooling "
                     f"({rec['value']:.3f}).")
    lines += ["", "Retrieval is top-1 accuracy over each language's pairs (cosine, or ratio margin with "
              f"k={first['settings'].get('margin_k', 4)}), averaged over languages. Alignment and "
              "uniformity follow Wang & Isola (2020) on unit vectors (lower is better for both). "
              "`cos gap` is the mean cosine of translations minus that of all other pairs. The language-ID "
              "probe is a cross-validated logistic regression (chance "
              f"{_fmt(_chance(first))}); it and the silhouette are lower when languages mix.", ""]
    for label, results in runs:
        for pooling, per_layer in results["per_layer"].items():
            lines += [f"## {label}: {pooling} pooling", ""]
            header = ["layer"] + [name for key, name in TABLE_COLUMNS]
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "---|" * len(header))
            for layer in sorted(per_layer, key=int):
                s = per_layer[layer]["summary"]
                cells = [layer] + [_fmt(s.get(key)) for key, _ in TABLE_COLUMNS]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
    lines += ["## Metrics against layer", ""]
    for name, path in files.items():
        if name.startswith("layers_"):
            lines += [f"![{name}]({path.relative_to(out_dir).as_posix()})", ""]
    rec = first["recommended"]
    lines += [f"## Per language at layer {rec['layer']} ({rec['pooling']})", ""]
    header = ["language"] + [f"{label} {d}" for label, _ in runs for d in ("xx→piv", "piv→xx")]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for lang in first["languages"]:
        cells = [lang]
        for _, results in runs:
            entry = results["per_layer"].get(rec["pooling"], {}).get(str(rec["layer"]))
            for d in ("to_pivot", "from_pivot"):
                cells.append(_fmt(entry["languages"][lang][d]) if entry else "")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"![languages]({files['languages'].relative_to(out_dir).as_posix()})", ""]
    projections = [(n, p) for n, p in files.items() if n.startswith("projection_")]
    if projections:
        lines += ["## Language clusters", "", "Seeded subsample, L2-normalised rows; "
                  "t-SNE with cosine distance.", ""]
        for name, path in projections:
            lines += [f"![{name}]({path.relative_to(out_dir).as_posix()})", ""]
    return "\n".join(lines)


def _chance(results: dict) -> float | None:
    for per_layer in results["per_layer"].values():
        for entry in per_layer.values():
            return entry["summary"].get("probe_chance")
    return None

"""The quickstart report: before/after tables per language, ICL, pictures, every number in JSON.

Retrieval is bitext top-1 with cosine scoring on the held-out pairs, averaged over both
directions (X -> pivot and pivot -> X), at the layer and pooling the alignment trained.
"""

from __future__ import annotations

import json
from pathlib import Path

from crossalign.analysis.report import write_report
from crossalign.io import write_json, write_text


def _layer_entry(results: dict, pooling: str, layer: int) -> dict:
    return results["per_layer"][pooling][str(layer)]


def language_rows(before: dict, after: dict, layer: int, pooling: str, heldout: list[str]) -> list[dict]:
    b, a = _layer_entry(before, pooling, layer), _layer_entry(after, pooling, layer)
    rows = []
    for lang, mb in b["languages"].items():
        ma = a["languages"][lang]
        rb = (mb["to_pivot"] + mb["from_pivot"]) / 2
        ra = (ma["to_pivot"] + ma["from_pivot"]) / 2
        rows.append({"language": lang, "held_out": lang in heldout, "pairs": mb["pairs"],
                     "retrieval_before": rb, "retrieval_after": ra,
                     "alignment_before": mb["alignment"], "alignment_after": ma["alignment"]})
    return rows


def _mean(rows: list[dict], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows)


def summary_rows(rows: list[dict]) -> list[dict]:
    trained = [r for r in rows if not r["held_out"]]
    out = []
    if trained:
        out.append({"language": f"mean of {len(trained)} trained languages", "held_out": False,
                    **{k: _mean(trained, k) for k in ("retrieval_before", "retrieval_after",
                                                      "alignment_before", "alignment_after")}})
    out += [dict(r, language=f"{r['language']} (held out of training)") for r in rows if r["held_out"]]
    return out


def icl_rows(before: dict | None, after: dict | None) -> list[dict]:
    if not before or not after:
        return []
    key = lambda r: (r["task"], r["prompt_language"], r["sample_language"], r["shots"])
    after_by = {key(r): r for r in after["summary"]}
    rows = []
    for r in before["summary"]:
        a = after_by.get(key(r))
        if a is not None:
            rows.append({"task": r["task"], "prompt": r["prompt_language"], "sample": r["sample_language"],
                         "shots": r["shots"], "items": r["n_items"], "acc_before": r["acc"], "acc_after": a["acc"]})
    return rows


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _delta(b: float, a: float, scale: float = 100.0, digits: int = 1) -> str:
    return f"{scale * (a - b):+.{digits}f}"


def markdown_tables(rows, summary, icl, layer, pooling, uniformity) -> str:
    lines = [f"Bitext retrieval top-1 (%, cosine, both directions) and alignment (mean squared distance of "
             f"unit vectors, lower is better) on held-out pairs, layer {layer}, {pooling} pooling.", "",
             "| language | retrieval before | after | Δ | alignment before | after |", "|---|---|---|---|---|---|"]
    for r in rows + summary:
        name = r["language"] + (" *(held out)*" if r["held_out"] and "held out" not in r["language"] else "")
        lines.append(f"| {name} | {_pct(r['retrieval_before'])} | {_pct(r['retrieval_after'])} | "
                     f"{_delta(r['retrieval_before'], r['retrieval_after'])} | {r['alignment_before']:.4f} | "
                     f"{r['alignment_after']:.4f} |")
    lines += ["", f"Uniformity (log mean Gaussian potential, all sentences, lower = more uniform): "
                  f"{uniformity[0]:.4f} before, {uniformity[1]:.4f} after."]
    if icl:
        lines += ["", "Few-shot ICL accuracy (%):", "",
                  "| task | prompt | sample | shots | items | before | after | Δ |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in icl:
            lines.append(f"| {r['task']} | {r['prompt']} | {r['sample']} | {r['shots']} | {r['items']} | "
                         f"{_pct(r['acc_before'])} | {_pct(r['acc_after'])} | "
                         f"{_delta(r['acc_before'], r['acc_after'])} |")
    return "\n".join(lines)


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def write_quickstart_report(out: Path, train_info: dict, data_info: dict, timings: dict, say) -> str:

    before = _load(out / "before" / "analysis.json")
    after = _load(out / "after" / "analysis.json")
    layer, pooling = train_info["layer"], train_info["pooling"]
    heldout = data_info["heldout_languages"]
    rows = language_rows(before, after, layer, pooling, heldout)
    summary = summary_rows(rows)
    icl = icl_rows(_load(out / "before" / "icl.json"), _load(out / "after" / "icl.json"))
    uni = (_layer_entry(before, pooling, layer)["summary"]["uniformity"],
           _layer_entry(after, pooling, layer)["summary"]["uniformity"])
    tables = markdown_tables(rows, summary, icl, layer, pooling, uni)
    files = write_report(before, out / "report", after, labels=("base", "aligned"))
    best = before["recommended"]
    pictures = "\n".join(f"![{name}]({Path(p).name})" for name, p in sorted(files.items())
                         if str(p).endswith(".png"))
    stage_lines = "\n".join(f"| {k} | {v:.0f} |" for k, v in timings.items())
    md = "\n".join([
        "# crossalign quickstart report", "",
        f"Model: `{train_info.get('base_model', '')}`; aligned for {train_info['steps']} steps "
        f"({train_info['seconds']:.0f} s) with the contrastive loss pooled at layer {layer} ({pooling}). "
        f"Training pairs: {data_info['train_pairs']} "
        f"({', '.join(f'{k} {v}' for k, v in data_info['train_pairs_per_language'].items())}); "
        f"held out of training entirely: {', '.join(heldout) or 'none'}.", "",
        f"Before alignment the best layer for retrieval was {best['layer']} ({best['pooling']} pooling, "
        f"{_pct(best['value'])}%).", "",
        tables, "",
        "## Time per stage (seconds)", "", "| stage | seconds |", "|---|---|", stage_lines, "",
        "## Per-layer analysis", "",
        "Full per-layer tables: [analysis.md](analysis.md). Pictures (base and aligned overlaid):", "",
        pictures, "",
    ])
    write_text(out / "report" / "report.md", md)
    write_json(out / "report" / "report.json", {
        "layer": layer, "pooling": pooling, "languages": rows, "summary": summary, "icl": icl,
        "uniformity": {"before": uni[0], "after": uni[1]}, "timings_s": timings, "train": train_info,
        "data": data_info,
    })
    return tables

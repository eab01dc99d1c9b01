"""Results over demonstration seeds: the mean and standard deviation of every run group, and the
markdown table of them.
"""

from __future__ import annotations

import statistics


def summarize(runs: list[dict]) -> list[dict]:
    """Mean and standard deviation over seeds for each (task, languages, shots)."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        key = (r["task"], r["template"], r["prompt_language"], r["sample_language"], r["shots"])
        groups.setdefault(key, []).append(r)
    out = []
    for (task, template, p, s, k), rs in groups.items():
        row = {"task": task, "template": template, "prompt_language": p, "sample_language": s,
               "setting": rs[0]["setting"], "shots": k, "seeds": [r["seed"] for r in rs],
               "n_items": rs[0]["n_items"]}
        for m in rs[0]["metrics"]:
            vals = [r["metrics"][m] for r in rs]
            row[m] = statistics.fmean(vals)
            row[f"{m}_std"] = statistics.stdev(vals) if len(vals) > 1 else 0.0
        out.append(row)
    return out


def markdown_table(summary: list[dict]) -> str:
    metrics = [m for m in ("acc", "acc_norm", "acc_seq") if summary and m in summary[0]]
    head = "| task | template | prompt | sample | shots | seeds | items | " + " | ".join(metrics) + " |"
    lines = [head, "|" + "---|" * (7 + len(metrics))]
    for r in summary:
        vals = []
        for m in metrics:
            v = f"{100 * r[m]:.1f}"
            if len(r["seeds"]) > 1:
                v += f" ± {100 * r[m + '_std']:.1f}"
            vals.append(v)
        lines.append(f"| {r['task']} | {r['template']} | {r['prompt_language']} | {r['sample_language']} | "
                     f"{r['shots']} | {len(r['seeds'])} | {r['n_items']} | " + " | ".join(vals) + " |")
    return "\n".join(lines) + "\n"

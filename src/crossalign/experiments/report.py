"""The study's report: ``docs/results.md`` and its figures, generated from the runs' ``results.json``.

Every number in the report is computed here from the results files; nothing is typed by hand.
Noise is stated next to every comparison:

- ICL with demonstrations: the standard deviation over demonstration seeds of the
  language-averaged accuracy, or the sampling standard error below when that is larger (three
  seeds can agree by chance); a difference of two runs is compared with ``sqrt(s_a^2 + s_b^2)``;
- 0-shot ICL and Tatoeba (no seed to vary): the binomial sampling standard error of the
  language-averaged accuracy, ``sqrt(sum_l p_l (1 - p_l) / n_l) / L``, combined the same way.
  The items are the same before and after alignment, so this is conservative for a difference.

A difference is called a gain (or a loss) only when it exceeds twice that noise.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import math
import statistics
import subprocess
from collections import defaultdict
from pathlib import Path

from crossalign.experiments.run import best_dev_layer, dev_mean
from crossalign.io import write_json, write_text
from crossalign.languages import normalize

TARGETS = {
    "tatoeba_mean": 0.75, "tatoeba_ambitious": 0.80, "xcopa_gain": 0.03, "xcopa_gap": 0.04, "english_drop": 0.01,
}
UNSEEN_FOCUS = ["tr", "id", "vi"]


# ---------------------------------------------------------------- loading
def load_results(root: Path) -> list[dict]:
    out = []
    for path in sorted(root.glob("*/results.json")):
        out.append(json.loads(path.read_text()))
    order = {"base": 0, "afp": 1, "ablation": 2, "reference": 3}
    return sorted(out, key=lambda r: (order.get(r["group"], 9), r["model"], r["name"]))


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# ---------------------------------------------------------------- numbers
def tatoeba_entry(res: dict, layer: int, pooling: str) -> dict:
    return res["tatoeba"]["per_layer"][pooling][str(layer)]


def per_language_retrieval(entry: dict) -> dict[str, float]:
    return {lang: (m["to_pivot"] + m["from_pivot"]) / 2 for lang, m in entry["languages"].items()}


def mean_and_se(entry: dict, langs: list[str] | None = None) -> tuple[float, float, int]:
    """Mean retrieval (both directions) over ``langs`` and its sampling standard error."""
    per = per_language_retrieval(entry)
    langs = [x for x in (langs or list(per)) if x in per]
    if not langs:
        return math.nan, math.nan, 0
    ps = [per[x] for x in langs]
    # Each direction is n trials; the two directions of a language are averaged (2n trials, conservatively).
    var = sum(p * (1 - p) / max(2 * entry["languages"][x]["pairs"], 1) for p, x in zip(ps, langs, strict=True))
    return statistics.fmean(ps), math.sqrt(var) / len(langs), len(langs)


def best_layer(res: dict, pooling: str) -> tuple[int, float]:
    per_layer = res["tatoeba"]["per_layer"][pooling]
    layer = max((int(x) for x in per_layer if int(x) > 0), key=lambda x: per_layer[str(x)]["summary"]["retrieval"])
    return layer, per_layer[str(layer)]["summary"]["retrieval"]


def icl_cells(res: dict, english: str = "en", metric: str = "acc") -> dict[tuple, dict]:
    """(task, setting, shots, subset) -> mean accuracy over languages, noise, n languages.

    ``subset`` is ``non-en`` (every language but English) or ``en``. Per seed the languages are
    averaged first; mean and std are then over seeds.
    """
    runs = res["icl"]["runs"]
    grouped: dict[tuple, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        subset = "en" if r["sample_language"] == english else "non-en"
        key = (r["task"], r["setting"], r["shots"], subset)
        if metric in r["metrics"]:
            grouped[key][r["seed"]].append((r["sample_language"], r["metrics"][metric], r["n_items"]))
    cells = {}
    for key, by_seed in grouped.items():
        means = [statistics.fmean(a for _, a, _ in rows) for rows in by_seed.values()]
        rows = next(iter(by_seed.values()))
        sampling = math.sqrt(sum(a * (1 - a) / max(n, 1) for _, a, n in rows)) / len(rows)
        seed_std = statistics.stdev(means) if len(means) > 1 else None
        cells[key] = {
            "acc": statistics.fmean(means), "seed_std": seed_std, "sampling_se": sampling,
            "noise": max(seed_std or 0.0, sampling), "seeds": len(means),
            "languages": sorted(lang for lang, _, _ in rows), "items": min(n for _, _, n in rows),
        }
    return cells


def icl_language_table(res: dict, task: str, setting: str, shots: int) -> dict[str, float]:
    vals: dict[str, list[float]] = defaultdict(list)
    for r in res["icl"]["runs"]:
        if r["task"] == task and r["setting"] == setting and r["shots"] == shots:
            vals[r["sample_language"]].append(r["metrics"]["acc"])
    return {lang: statistics.fmean(v) for lang, v in sorted(vals.items())}


def verdict(delta: float, noise: float) -> str:
    if math.isnan(delta) or math.isnan(noise):
        return "n/a"
    if abs(delta) > 2 * noise:
        return "gain" if delta > 0 else "loss"
    return "within noise"


# ---------------------------------------------------------------- formatting
def pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}"


def signed(x: float) -> str:
    return "–" if math.isnan(x) else f"{100 * x:+.1f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- sections
def compare_tatoeba(run: dict, base: dict, seen: set[str]) -> dict:
    layer, pooling = run["layer"], run["pooling"]
    after, before = tatoeba_entry(run, layer, pooling), tatoeba_entry(base, layer, pooling)
    if run["tatoeba"]["pairs"] != base["tatoeba"]["pairs"]:
        raise ValueError(f"{run['name']} and {base['name']} were measured on different Tatoeba pairs "
                         f"({run['tatoeba']['pairs']} vs {base['tatoeba']['pairs']}): re-run one of them")
    langs = list(after["languages"])
    out = {"layer": layer, "pooling": pooling}
    for name, subset in (("all", langs), ("seen", [x for x in langs if x in seen]),
                         ("unseen", [x for x in langs if x not in seen]),
                         ("focus", [x for x in UNSEEN_FOCUS if x in langs])):
        a, sa, n = mean_and_se(after, subset)
        b, sb, _ = mean_and_se(before, subset)
        out[name] = {"base": b, "aligned": a, "delta": a - b, "noise": math.hypot(sa, sb), "languages": n}
    out["base_best_layer"], out["base_best"] = best_layer(base, pooling)
    return out


def dev_trajectory(run: dict) -> list[tuple[int, float]]:
    train = run.get("train") or {}
    points = []
    if train.get("heldout_retrieval_before") is not None:
        points.append((0, train["heldout_retrieval_before"]))
    points += [(h["step"], h["heldout/retrieval"]) for h in train.get("log", []) if "heldout/retrieval" in h]
    return points


def _without_seed(run: dict) -> dict:
    cfg = copy.deepcopy(run["config"])
    for key in ("name", "description", "replica_of", "group"):
        cfg.pop(key, None)
    cfg.get("train", {}).get("training", {}).pop("seed", None)
    cfg.get("train", {}).get("training", {}).pop("output_dir", None)
    return cfg


def _same_settings(a: dict, b: dict) -> bool:
    """Equal configurations; a key only one side has (a setting added to crossalign after the other run)
    counts as equal when its value is off (false, 0, empty, none)."""
    for key in set(a) | set(b):
        if key not in a or key not in b:
            if a.get(key, b.get(key)):
                return False
        elif isinstance(a[key], dict) and isinstance(b[key], dict):
            if not _same_settings(a[key], b[key]):
                return False
        elif a[key] != b[key]:
            return False
    return True


def replica_parents(runs: list[dict]) -> dict[str, str]:
    """``{run: the run it repeats with another training seed}``: ``replica_of`` where the run says so,
    otherwise an aligned run whose configuration differs only in a lower training seed."""
    out = {r["name"]: r["replica_of"] for r in runs if r.get("replica_of")}
    aligned = [r for r in runs if r["align"] and r["name"] not in out]
    seed = lambda r: r["config"]["train"]["training"]["seed"]
    for r in aligned:
        twins = [o for o in aligned
                 if o is not r and seed(o) < seed(r) and _same_settings(_without_seed(o), _without_seed(r))]
        if twins:
            out[r["name"]] = min(twins, key=seed)["name"]
    return {k: v for k, v in out.items() if any(x["name"] == v for x in runs)}


def dev_checkpoints(run: dict, base: dict) -> list[tuple[int, float]]:
    """``[(step, Tatoeba dev mean at the aligned layer)]``, step 0 = the base model."""
    dev, bdev = run.get("tatoeba_dev"), base.get("tatoeba_dev")
    if not dev or not bdev or not dev.get("checkpoints"):
        return []
    points = [(0, dev_mean(bdev, run["layer"], run["pooling"]))]
    points += [(c["step"], statistics.fmean(c["by_language"].values())) for c in dev["checkpoints"]]
    return points


def never_below(points: list[tuple[int, float]]) -> tuple[str, bool]:
    """``points`` = [(0, base), (step, value), ...]: the trajectory as text, and whether no checkpoint is
    below the base."""
    start, later = points[0][1], points[1:]
    text = f"base {pct(start)}% → " + ", ".join(f"{pct(v)}% (step {s})" for s, v in later)
    return text, all(v >= start for _, v in later)


def targets_section(runs: list[dict], bases: dict[str, dict], seen: set[str]) -> tuple[str, list[dict]]:
    rows, checks = [], []
    replicas = replica_parents(runs)
    for run in runs:
        if run["group"] != "afp" or run["name"] in replicas:
            continue  # replicas appear in the training-seed section
        base = bases[run["baseline"]]
        t = compare_tatoeba(run, base, seen)
        xb, xa = icl_cells(base), icl_cells(run)
        key_x, key_e = ("xcopa", "in-language", 0, "non-en"), ("xcopa", "in-language", 0, "en")
        items = []
        items.append((f"Tatoeba mean retrieval at the aligned layer {t['layer']} >= 75% (80% ambitious)",
                      f"{pct(t['all']['aligned'])}% (base at that layer {pct(t['all']['base'])}%)",
                      t["all"]["aligned"] >= TARGETS["tatoeba_mean"]))
        items.append((f"... above the base model's best layer (layer {t['base_best_layer']})",
                      f"{pct(t['all']['aligned'])}% vs {pct(t['base_best'])}%", t["all"]["aligned"] > t["base_best"]))
        for dev_set, points in (("dev retrieval (held-out alignment pairs)", dev_trajectory(run)),
                                ("Tatoeba dev split", dev_checkpoints(run, base))):
            if points:
                items.append((f"{dev_set} at the aligned layer never below the base at any evaluated checkpoint",
                              *never_below(points)))
        f = t["focus"]
        items.append((f"gains on languages absent from the alignment data ({', '.join(UNSEEN_FOCUS)})",
                      f"{pct(f['base'])}% -> {pct(f['aligned'])}% ({signed(f['delta'])}, 2σ = {pct(2 * f['noise'])})",
                      verdict(f["delta"], f["noise"]) == "gain"))
        if key_x in xa and key_x in xb:
            gx = xa[key_x]["acc"] - xb[key_x]["acc"]
            nx = math.hypot(xa[key_x]["noise"], xb[key_x]["noise"])
            items.append(("XCOPA non-English 0-shot mean: >= +3 points over the base",
                          f"{pct(xb[key_x]['acc'])}% -> {pct(xa[key_x]['acc'])}% ({signed(gx)}, 2σ = {pct(2 * nx)})",
                          gx >= TARGETS["xcopa_gain"] and verdict(gx, nx) == "gain"))
            if key_e in xa and key_e in xb:
                gap = xa[key_e]["acc"] - xa[key_x]["acc"]
                items.append(("XCOPA English gap (English - non-English mean) <= 4 points after alignment",
                              f"{signed(gap)} (base {signed(xb[key_e]['acc'] - xb[key_x]['acc'])})",
                              gap <= TARGETS["xcopa_gap"]))
                drop = xb[key_e]["acc"] - xa[key_e]["acc"]
                items.append(("XCOPA English not more than 1 point below the base",
                              f"{pct(xb[key_e]['acc'])}% -> {pct(xa[key_e]['acc'])}%",
                              drop <= TARGETS["english_drop"]))
        for task in sorted({k[0] for k in xa}):
            c0, c5 = xa.get((task, "cross-lingual", 0, "non-en")), xa.get((task, "cross-lingual", 5, "non-en"))
            if c0 and c5:
                items.append((f"{task}: cross-lingual 5-shot >= 0-shot after alignment",
                              f"5-shot {pct(c5['acc'])}% ± {pct(c5['noise'])} vs 0-shot {pct(c0['acc'])}%",
                              c5["acc"] >= c0["acc"]))
        for desc, value, ok in items:
            rows.append([run["name"], desc, value, "met" if ok else "**not met**"])
            checks.append({"run": run["name"], "target": desc, "value": value, "met": bool(ok)})
    if not rows:
        return "", checks
    return table(["run", "target", "measured", ""], rows), checks


def tatoeba_section(runs: list[dict], bases: dict[str, dict], seen: set[str]) -> str:
    rows = []
    for run in runs:
        if not run["align"]:
            layer, _value = best_layer(run, "mean")
            a, _se, _ = mean_and_se(tatoeba_entry(run, layer, "mean"))
            rows.append([run["name"], run["group"], f"{layer} (best)", "mean", pct(a), "", "", "", "", ""])
            continue
        t = compare_tatoeba(run, bases[run["baseline"]], seen)
        rows.append([run["name"], run["group"], str(t["layer"]), t["pooling"],
                     f"{pct(t['all']['base'])} → {pct(t['all']['aligned'])}",
                     f"{signed(t['all']['delta'])} ({verdict(t['all']['delta'], t['all']['noise'])})",
                     f"{pct(t['seen']['base'])} → {pct(t['seen']['aligned'])}",
                     f"{pct(t['unseen']['base'])} → {pct(t['unseen']['aligned'])}",
                     pct(2 * t["all"]["noise"]), f"{t['base_best_layer']}: {pct(t['base_best'])}"])
    return table(["run", "group", "layer", "pooling", "all (base → run)", "Δ", "seen", "unseen", "2σ",
                  "base best layer"], rows)


def dev_section(runs: list[dict], bases: dict[str, dict]) -> str:
    """The Tatoeba dev split: where each base model peaks, and each aligned run at its layer, per checkpoint."""
    rows = []
    for run in runs:
        dev = run.get("tatoeba_dev")
        if not dev:
            continue
        if not run["align"]:
            for pooling in sorted(dev["by_pooling"]):
                layer, value = best_dev_layer(dev, pooling)
                rows.append([run["name"], pooling, f"{layer} (best)", pct(value), "", ""])
            continue
        base = bases.get(run["baseline"], {})
        if run.get("layer_from") == "base_dev":
            how = "base dev"
        elif run["config"]["train"]["contrastive"]["layer"] == "auto":
            how = "auto (held-out pairs)"
        else:
            how = "fixed"
        layer, pooling = run["layer"], run["pooling"]
        base_value = pct(dev_mean(base["tatoeba_dev"], layer, pooling)) if base.get("tatoeba_dev") else "–"
        points = dev_checkpoints(run, base)
        curve = ", ".join(f"{pct(v)} (step {s})" for s, v in points[1:]) or "–"
        below = ("yes" if never_below(points)[1] else "no") if points else "–"
        rows.append([run["name"], pooling, f"{layer} ({how})", f"{base_value} → {pct(dev_mean(dev, layer, pooling))}",
                     curve, below])
    if not rows:
        return ""
    return table(["run", "pooling", "layer", "base → run (final)", "checkpoints", "never below base"], rows)


def seed_section(runs: list[dict], bases: dict[str, dict], seen: set[str]) -> str:
    """Runs repeated with other training seeds (:func:`replica_parents`): the spread of their effects."""
    groups: dict[str, list[dict]] = defaultdict(list)
    by_name = {r["name"]: r for r in runs}
    for name, parent in replica_parents(runs).items():
        groups[parent].append(by_name[name])
    rows = []
    for name, replicas in groups.items():
        family = [by_name[name], *replicas]
        base = bases[family[0]["baseline"]]
        deltas = [compare_tatoeba(r, base, seen)["all"] for r in family]
        seeds = [str(r["config"]["train"]["training"]["seed"]) for r in family]
        d = [x["delta"] for x in deltas]
        sd = statistics.stdev(d) if len(d) > 1 else math.nan
        row = [name, ", ".join(seeds), ", ".join(signed(x) for x in d),
               f"{signed(statistics.fmean(d))} ± {pct(sd)}", pct(2 * statistics.fmean(x["noise"] for x in deltas))]
        key = ("xcopa", "in-language", 0, "non-en")
        cb = icl_cells(base).get(key)
        xs = [icl_cells(r).get(key) for r in family]
        if cb and all(xs):
            dx = [c["acc"] - cb["acc"] for c in xs]
            row.append(", ".join(signed(x) for x in dx) + f" (mean {signed(statistics.fmean(dx))} ± "
                       f"{pct(statistics.stdev(dx))})")
        else:
            row.append("–")
        rows.append(row)
    if not rows:
        return ""
    return table(["run", "training seeds", "Tatoeba Δ per seed", "Tatoeba Δ mean ± std", "2σ sampling",
                  "XCOPA non-en 0-shot Δ per seed"], rows)


def language_section(run: dict, base: dict, seen: set[str]) -> str:
    layer, pooling = run["layer"], run["pooling"]
    a = per_language_retrieval(tatoeba_entry(run, layer, pooling))
    b = per_language_retrieval(tatoeba_entry(base, layer, pooling))
    rows = [[lang, "yes" if lang in seen else "no", pct(b[lang]), pct(a[lang]), signed(a[lang] - b[lang])]
            for lang in a]
    return table(["language", "in alignment data", f"base L{layer}", f"{run['name']} L{layer}", "Δ"], rows)


def icl_section(runs: list[dict], metric: str = "acc") -> str:
    per_run = [icl_cells(r, metric=metric) for r in runs]
    keys = sorted({k for cells in per_run for k in cells}, key=lambda k: (k[0], k[1] != "in-language", k[2], k[3]))
    header = ["task", "setting", "shots", "languages"] + [r["name"] for r in runs]
    rows = []
    for key in keys:
        cells = [c.get(key) for c in per_run]
        first = next(c for c in cells if c)
        langs = "en" if key[3] == "en" else f"{len(first['languages'])} non-en"
        vals = []
        for c in cells:
            if not c:
                vals.append("–")
                continue
            noise = f" ± {pct(c['seed_std'])}" if c["seed_std"] is not None else ""
            vals.append(f"{pct(c['acc'])}{noise}")
        rows.append([key[0], key[1], str(key[2]), langs, *vals])
    return table(header, rows)


def icl_delta_section(run: dict, base: dict) -> str:
    a, b = icl_cells(run), icl_cells(base)
    rows = []
    for key in sorted(set(a) & set(b), key=lambda k: (k[0], k[1] != "in-language", k[2], k[3])):
        d = a[key]["acc"] - b[key]["acc"]
        noise = math.hypot(a[key]["noise"], b[key]["noise"])
        kind = "seeds" if (a[key]["seed_std"] or 0) >= a[key]["sampling_se"] else "sampling"
        rows.append([key[0], key[1], str(key[2]), key[3], pct(b[key]["acc"]), pct(a[key]["acc"]), signed(d),
                     f"{pct(2 * noise)} ({kind})", verdict(d, noise)])
    return table(["task", "setting", "shots", "languages", "base", run["name"], "Δ", "2σ", ""], rows)


def icl_language_section(run: dict, base: dict, shots: int = 0, setting: str = "in-language") -> str:
    rows = []
    for task in sorted({r["task"] for r in run["icl"]["runs"]}):
        a, b = icl_language_table(run, task, setting, shots), icl_language_table(base, task, setting, shots)
        for lang in a:
            if lang in b:
                rows.append([task, lang, pct(b[lang]), pct(a[lang]), signed(a[lang] - b[lang])])
    return table(["task", "language", "base", run["name"], "Δ"], rows)


def compute_section(runs: list[dict]) -> str:
    rows = []
    for r in runs:
        t = r.get("train") or {}
        tokens = t.get("tokens")
        frac = "–"
        if tokens and r.get("pretraining_tokens"):
            frac = f"{1000 * tokens / r['pretraining_tokens']:.2g}‰"
        tm = r["timings"]
        rows.append([r["name"], r["device"], str(t.get("steps", "–")), str(t.get("samples_seen", "–")),
                     f"{tokens:,}" if tokens else "–", frac, f"{tm.get('train_s', 0):.0f}",
                     f"{tm.get('tatoeba_s', 0):.0f}", f"{tm['tatoeba_dev_s']:.0f}" if "tatoeba_dev_s" in tm else "–",
                     f"{tm.get('icl_s', 0):.0f}"])
    return table(["run", "device", "steps", "samples", "tokens", "of pre-training", "train s", "Tatoeba s",
                  "Tatoeba dev s", "ICL s"], rows)


def setup_section(runs: list[dict]) -> str:
    rows = []
    for r in runs:
        cfg = r["config"]
        if r["align"]:
            tr = cfg["train"]
            c, m, tt = tr["contrastive"], tr["clm"], tr["training"]
            what = (f"w_cl {c['weight']}, w_clm {m['weight']}, layer {r['layer']} ({c['layer']}), {c['pooling']}, "
                    f"{'symmetric' if c['symmetric'] else 'one-directional'}{', centred' if c.get('center') else ''}, "
                    f"τ {c['temperature']}; "
                    f"{'LoRA r' + str(tr['lora']['r']) if tr['lora']['enabled'] else 'full'}, "
                    f"lr {tt['learning_rate']}, "
                    f"{tt['max_steps']} steps x {tt['per_device_train_batch_size']}")
        else:
            what = "base model, not trained"
        rows.append([r["name"], r["model"], r["description"], what])
    return table(["run", "model", "what", "settings"], rows)


# ---------------------------------------------------------------- figures
def plot_layer_curves(runs: list[dict], path: Path, title: str) -> Path:
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    from crossalign.analysis.plots import save_png

    fig = Figure(figsize=(8.0, 4.8), dpi=100)
    ax = fig.subplots()
    cmap = colormaps["tab10" if len(runs) <= 10 else "tab20"]
    for i, r in enumerate(runs):
        colour = cmap(i % cmap.N)
        poolings = ["mean", "last"] if not r["align"] else [r["pooling"]]
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
    from crossalign.analysis.plots import plot_projection

    out: dict[str, list[tuple[str, Path]]] = defaultdict(list)
    for base_name, base in bases.items():
        family = [base] + [r for r in runs if r["align"] and r["baseline"] == base_name]
        path = plot_layer_curves(family, fig_dir / f"layers_{base_name}.png",
                                 f"{base['model']}: Tatoeba retrieval per layer (dotted: aligned layer)")
        out["layers"].append((base_name, path))
    for r in runs:
        if not r["align"] or r["group"] not in ("afp", "reference"):
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


# ---------------------------------------------------------------- the report
def render(runs: list[dict], cfg, fig_dir: Path, report_path: Path, figs: dict) -> tuple[str, dict]:
    seen = {normalize(x) for x in cfg.seen_languages}
    bases = {r["name"]: r for r in runs if not r["align"]}
    aligned = [r for r in runs if r["align"] and r["baseline"] in bases]
    targets_md, checks = targets_section(aligned, bases, seen)
    rel = lambda p: Path(p).relative_to(report_path.parent).as_posix()
    devices = sorted({r["device"] for r in runs})
    cmd = "crossalign study --config configs/study.yaml" + (" --quick" if cfg.quick else "")
    parts = [
        f"# Evidence study: results{' (quick variant)' if cfg.quick else ''}\n",
        f"Generated by `{cmd}` (commit {_git_commit()}, {_dt.date.today().isoformat()}) from the runs in "
        f"`{cfg.quick_output_dir if cfg.quick else cfg.output_dir}`; every number below is computed from their "
        f"`results.json` by `crossalign/experiments/report.py`. Do not edit by hand: re-run the command "
        f"(`--report_only` rewrites this file from existing runs). Devices: {'; '.join(devices)}. "
        "Design, protocol and discussion: [study.md](study.md).\n",
        "## Runs\n", setup_section(runs),
    ]
    if targets_md:
        parts += ["\n## Targets of the study, checked\n", targets_md]
    parts += [
        "\n## Tatoeba retrieval (test)\n",
        f"Top-1 bitext retrieval with cosine similarity, mean of X→eng and eng→X, averaged over "
        f"{len(next(iter(bases.values()))['tatoeba']['languages']) if bases else 0} languages; `seen` = languages "
        "with alignment pairs, `unseen` = the others. Aligned runs are compared with their base model *at the "
        "layer and pooling they align*; 2σ is twice the sampling standard error of the difference.\n",
        tatoeba_section(runs, bases, seen),
    ]
    dev_md = dev_section(runs, bases)
    if dev_md:
        parts += [
            "\n## Tatoeba dev split (selection data)\n",
            f"The last {next(r['tatoeba_dev']['pairs'] for r in runs if r.get('tatoeba_dev'))} pairs of each "
            "Tatoeba language, never in the test set: the data on which a layer (`layer_from: base_dev`) or a "
            "checkpoint may be chosen. Mean top-1 retrieval over the languages, at the aligned layer and pooling; "
            "every saved checkpoint scored.\n",
            dev_md,
        ]
    seed_md = seed_section(runs, bases, seen)
    if seed_md:
        parts += [
            "\n## Training-seed noise\n",
            "The same run repeated with another training seed (LoRA initialisation, sample order; same data "
            "and items). Δ: change against the base at the aligned layer (Tatoeba test, all languages) and XCOPA "
            "non-English 0-shot; the std over seeds is the training noise the sampling 2σ does not include.\n",
            seed_md,
        ]
    for base_name, path in figs.get("layers", []):
        parts.append(f"\n![per-layer retrieval, {base_name}]({rel(path)})\n")
    for r in aligned:
        if r["group"] == "afp":
            parts += [f"\n### Per language: {r['name']} against {r['baseline']}\n",
                      language_section(r, bases[r["baseline"]], seen)]
    for name, path in figs.get("projections", []):
        parts.append(f"\n![PCA projection before/after, {name}]({rel(path)})\n")
    parts += [
        "\n## Few-shot ICL (accuracy, %)\n",
        "Mean over the task's non-English languages (or English alone); `± x` is the standard deviation over "
        "demonstration seeds (5-shot). In-language: demonstrations and template in the item's language; "
        "cross-lingual: English demonstrations and template.\n",
    ]
    for base_name, base in bases.items():
        family = [base] + [r for r in aligned if r["baseline"] == base_name]
        parts += [f"\n### {base['model']}: accuracy (sum of log-probabilities)\n", icl_section(family),
                  f"\n### {base['model']}: length-normalised accuracy (acc_norm: log-probability per UTF-8 byte)\n",
                  icl_section(family, "acc_norm")]
    for r in aligned:
        if r["icl"]["runs"]:
            parts += [f"\n### {r['name']} against {r['baseline']}: differences\n",
                      icl_delta_section(r, bases[r["baseline"]])]
    untested = [r["name"] for r in runs if not r["icl"]["runs"]]
    if untested:
        parts.append(f"\nNot evaluated on ICL (Tatoeba only, to fit the CPU budget): {', '.join(untested)}.\n")
    for r in aligned:
        if r["group"] == "afp" and r["icl"]["runs"]:
            parts += [f"\n### Per language, 0-shot in-language: {r['name']} against {r['baseline']}\n",
                      icl_language_section(r, bases[r["baseline"]])]
    parts += ["\n## Compute\n",
              "Tokens: every sample's contrastive pair and instruction sequence as trained (mean tokenised length "
              "of the training file x samples drawn). Fraction: of the model's published pre-training token count "
              "(given in each experiment file with its source).\n", compute_section(runs)]
    return "\n".join(parts), {"targets": checks}


def write_study_report(root: Path, report_path: Path, cfg, say=print) -> Path:
    runs = load_results(Path(root))
    if not runs:
        raise FileNotFoundError(f"no results.json under {root}: run the study first")
    report_path = Path(report_path)
    fig_dir = report_path.parent / report_path.stem
    bases = {r["name"]: r for r in runs if not r["align"]}
    aligned = [r for r in runs if r["align"] and r["baseline"] in bases]
    figs = figures(aligned + list(bases.values()), bases, fig_dir)
    text, extra = render(runs, cfg, fig_dir, report_path, figs)
    write_json(fig_dir / "summary.json", {"runs": [r["name"] for r in runs], **extra})
    write_text(report_path, text)
    return report_path

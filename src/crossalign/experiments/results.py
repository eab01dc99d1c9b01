"""Reading the study's runs and the statistics the report states, from the runs' ``results.json``.

Every number in the report is computed here from the results files; nothing is typed by hand.
Noise is stated next to every comparison:

- ICL with demonstrations: the standard deviation over demonstration seeds of the
  language-averaged accuracy, or the sampling standard error below when that is larger (three
  seeds can agree by chance); a difference of two runs is compared with ``sqrt(s_a^2 + s_b^2)``;
- 0-shot ICL and Tatoeba (no seed to vary): the binomial sampling standard error of the
  language-averaged accuracy, ``sqrt(sum_l p_l (1 - p_l) / n_l) / L``, combined the same way.
  The items are the same before and after alignment, so this is conservative for a difference.

A difference is called a gain (or a loss) only when it exceeds twice that noise.

ICL comparisons of an aligned run with its base are paired when both runs stored their per-item
predictions (:func:`icl_paired`, :mod:`crossalign.eval.paired`): the same items, matched by id
per language, give a paired bootstrap interval of the difference (languages resampled separately
and weighed equally; demonstration-seed variance added for k-shot), an exact McNemar p-value and
the minimal detectable effect (MDE, 80% power, alpha 0.05). A difference is then a gain (loss)
when its paired 95% interval excludes 0, and a comparison whose MDE exceeds the study's target
effect is labelled underpowered. Runs measured before predictions were stored fall back to the
unpaired noise above (with the MDE of that unpaired comparison).
"""

from __future__ import annotations

import copy
import json
import math
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np

from crossalign.analysis.correlation import permutation_p, spearman, spearman_interval
from crossalign.eval.paired import compare_paired, mde_from_se
from crossalign.experiments.tables import pct
from crossalign.experiments.tatoeba import dev_mean
from crossalign.retrieval import peak_layer

# ---------------------------------------------------------------- loading
UNSEEN_FOCUS = ["tr", "id", "vi"]
# Runs whose results are the study's answer: its recipes (afp) and a lever candidate measured on test (the one
# selected on dev, or a lever run as the recipe of a study without a lever search); their targets, per-language
# tables and projections are reported. Candidates scored on dev only never reach the test sections.
MAIN_GROUPS = ("afp", "lever")

def load_results(root: Path) -> list[dict]:
    out = []
    for path in sorted(root.glob("*/results.json")):
        out.append(json.loads(path.read_text()))
    order = {"base": 0, "afp": 1, "ablation": 2, "lever": 3, "reference": 4, "steer": 5}
    return sorted(out, key=lambda r: (order.get(r["group"], 9), r["model"], r["name"]))


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
    """The layer (1..n) with the best Tatoeba test retrieval for ``pooling`` (:func:`peak_layer`), and that value."""
    per_layer = res["tatoeba"]["per_layer"][pooling]
    layer = peak_layer({int(x): entry["summary"]["retrieval"] for x, entry in per_layer.items()})
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


def _cell_runs(res: dict, key: tuple, english: str) -> dict[tuple[int, str], dict]:
    task, setting, shots, subset = key
    return {(r["seed"], r["sample_language"]): r for r in res["icl"]["runs"]
            if (r["task"], r["setting"], r["shots"]) == (task, setting, shots)
            and (r["sample_language"] == english) == (subset == "en")}


def _run_name(run: dict) -> str:  # as crossalign.pipeline.icl.run_name (kept import-light here)
    return f"{run['task']}.{run['prompt_language']}-{run['sample_language']}.{run['shots']}shot.seed{run['seed']}"


def icl_paired(run: dict, base: dict, key: tuple, *, metric: str = "acc", english: str = "en",
               resamples: int = 10_000, seed: int = 0) -> dict | None:
    """:func:`~crossalign.eval.paired.compare_paired` of ``run`` (B) against ``base`` (A) on the
    items of the ICL cell ``key`` = (task, setting, shots, subset), or None when the two cannot
    be paired (either stored no per-item predictions, or they did not evaluate the same items).

    Items are matched by id within each language; languages are the bootstrap's strata (the
    cell's accuracy is the mean of the language accuracies, as in :func:`icl_cells`); the
    demonstration seeds are the rows of the (S, N) arrays."""
    pa, pb = base["icl"].get("predictions"), run["icl"].get("predictions")
    if not pa or not pb:
        return None
    ra, rb = _cell_runs(base, key, english), _cell_runs(run, key, english)
    if not ra or set(ra) != set(rb):
        return None
    field = {"acc": "pred", "acc_norm": "pred_norm"}[metric]
    seeds, langs = sorted({s for s, _ in ra}), sorted({x for _, x in ra})
    rows_a, rows_b, strata = [], [], []
    for s in seeds:
        ca, cb, st = [], [], []
        for lang in langs:
            if (s, lang) not in ra:
                return None
            a, b = pa.get(_run_name(ra[s, lang])), pb.get(_run_name(rb[s, lang]))
            if a is None or b is None or sorted(a["id"]) != sorted(b["id"]):
                return None
            pos = {i: k for k, i in enumerate(b["id"])}
            order = [pos[i] for i in a["id"]]
            ca += [p == y for p, y in zip(a[field], a["label"], strict=True)]
            cb += [b[field][k] == b["label"][k] for k in order]
            st += [lang] * len(order)
        if strata and st != strata:
            return None  # seeds evaluated on different items
        rows_a.append(ca)
        rows_b.append(cb)
        strata = st
    return compare_paired(np.array(rows_a, bool), np.array(rows_b, bool), strata=strata, resamples=resamples,
                          seed=seed)


def icl_comparison(run: dict, base: dict, key: tuple, target: float, metric: str = "acc") -> dict:
    """The difference of ``run`` and ``base`` on the ICL cell ``key``, with its noise: paired when
    possible (:func:`icl_paired`), else unpaired (2σ of :func:`icl_cells`). ``verdict`` is gain /
    loss / within noise, ``underpowered`` whether the MDE exceeds ``target``."""
    a, b = icl_cells(run, metric=metric)[key], icl_cells(base, metric=metric)[key]
    diff = a["acc"] - b["acc"]
    noise = math.hypot(a["noise"], b["noise"])
    out = {"base": b["acc"], "aligned": a["acc"], "diff": diff, "noise": noise,
           "noise_kind": "seeds" if (a["seed_std"] or 0) >= a["sampling_se"] else "sampling"}
    paired = icl_paired(run, base, key, metric=metric)
    if paired is None:
        out.update(paired=None, ci=None, p=None, mde=mde_from_se(noise), verdict=verdict(diff, noise))
    else:
        lo, hi = paired["ci"]
        out.update(paired=paired, ci=(lo, hi), p=paired["p_mcnemar"], mde=paired["mde"],
                   verdict="gain" if lo > 0 else "loss" if hi < 0 else "within noise")
    out["underpowered"] = out["mde"] > target
    return out


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


# ---------------------------------------------------------------- lever search (dev only)
def final_dev_icl(run: dict) -> dict | None:
    """The final model's entry of a run's dev ICL (``dev_icl``), or None when it was not scored."""
    dev = run.get("dev_icl")
    return next((m for m in dev["models"] if m["final"]), None) if dev else None


def select_lever(runs: dict[str, dict], names: list[str]) -> tuple[str, dict[str, float]]:
    """The run of ``names`` (the recipe first, then the candidates) with the best non-English dev ICL
    accuracy of its final model, the recipe winning ties (then the earlier candidate); and every score.
    A run without dev ICL is an error naming it."""
    scores = {}
    for name in names:
        entry = final_dev_icl(runs[name]) if name in runs else None
        if entry is None or entry["non_en_mean"] is None:
            raise ValueError(f"lever search: {name} has no dev ICL score (set dev_icl.split and run it)")
        scores[name] = entry["non_en_mean"]
    best = max(names, key=lambda n: scores[n])  # max keeps the first of equal scores
    return best, scores


def dev_icl_paired(run: dict, base: dict) -> dict | None:
    """:func:`icl_paired` of the final model's dev ICL of ``run`` against the base model's, on the same dev
    items (in-language, the lowest shots scored)."""
    entry = final_dev_icl(run)
    ref = final_dev_icl(base)
    if entry is None or ref is None:
        return None
    shots = min(run["dev_icl"]["shots"])
    task = run["dev_icl"]["tasks"][0]
    return icl_paired({"icl": entry["icl"]}, {"icl": ref["icl"]}, (task, "in-language", shots, "non-en"))


# ---------------------------------------------------------------- alignment against accuracy
ALIGNMENT_METRICS = ("top1", "mutual_nn")


def alignment_accuracy(run: dict, metric: str, task: str = "xcopa", shots: int = 0) -> dict | None:
    """Per layer, the rank correlation across languages of ``run``'s alignment (``metric`` of its
    ``language_alignment``) with its in-language ``shots``-shot accuracy on ``task``: ``{"languages",
    "accuracy": {lang: acc}, "layers": {layer: {"rho", "ci", "p", "alignment": {lang: value}}}}``;
    None when the run has no per-language alignment or fewer than 3 languages with both."""
    al = run.get("language_alignment")
    if not al:
        return None
    acc = icl_language_table(run, task, "in-language", shots)
    langs = [x for x in al["languages"] if x in acc and x != "en"]
    if len(langs) < 3:
        return None
    y = [acc[x] for x in langs]
    layers = {}
    for layer, by_lang in sorted(al["by_layer"].items(), key=lambda kv: int(kv[0])):
        x = [by_lang[lang][metric] for lang in langs]
        rho = spearman(x, y)
        ok = not math.isnan(rho)
        layers[int(layer)] = {"rho": rho, "ci": spearman_interval(x, y) if ok else None,
                              "p": permutation_p(x, y) if ok else None,
                              "alignment": dict(zip(langs, x, strict=True))}
    return {"languages": langs, "accuracy": {x: acc[x] for x in langs}, "layers": layers}


def strongest_layer(corr: dict) -> int | None:
    """The layer (1..n) of the largest rho (ties: the lower layer); None when no layer has one."""
    scored = {layer: v["rho"] for layer, v in corr["layers"].items() if layer > 0 and not math.isnan(v["rho"])}
    if not scored:
        return None
    return max(scored, key=lambda layer: (scored[layer], -layer))

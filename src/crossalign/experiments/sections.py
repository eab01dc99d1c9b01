"""The sections of the study's report, one function each: markdown built from the runs' results.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict

from crossalign.experiments.results import (
    ALIGNMENT_METRICS,
    MAIN_GROUPS,
    UNSEEN_FOCUS,
    alignment_accuracy,
    best_layer,
    compare_tatoeba,
    dev_checkpoints,
    dev_icl_paired,
    dev_trajectory,
    final_dev_icl,
    icl_cells,
    icl_comparison,
    icl_language_table,
    mean_and_se,
    never_below,
    per_language_retrieval,
    replica_parents,
    select_lever,
    strongest_layer,
    tatoeba_entry,
    verdict,
)
from crossalign.experiments.tables import pct, signed, table
from crossalign.experiments.tatoeba import best_dev_layer, dev_mean
from crossalign.options import flat_settings

TARGETS = {
    "tatoeba_mean": 0.75, "tatoeba_ambitious": 0.80, "xcopa_gain": 0.03, "xcopa_gap": 0.04, "english_drop": 0.01,
}




def targets_section(runs: list[dict], bases: dict[str, dict], seen: set[str]) -> tuple[str, list[dict]]:
    rows, checks = [], []
    replicas = replica_parents(runs)
    for run in runs:
        if run["group"] not in MAIN_GROUPS or run["name"] in replicas:
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
            c = icl_comparison(run, base, key_x, TARGETS["xcopa_gain"])
            noise = (f"paired 95% CI {_ci(c)}" if c["paired"] else f"2σ = {pct(2 * c['noise'])}")
            items.append(("XCOPA non-English 0-shot mean: >= +3 points over the base, the 95% interval excluding 0",
                          f"{pct(c['base'])}% -> {pct(c['aligned'])}% ({signed(c['diff'])}, {noise}; {_mde_note(c)})",
                          c["diff"] >= TARGETS["xcopa_gain"] and c["verdict"] == "gain"))
            if key_e in xa and key_e in xb:
                gap = xa[key_e]["acc"] - xa[key_x]["acc"]
                items.append(("XCOPA English gap (English - non-English mean) <= 4 points after alignment",
                              f"{signed(gap)} (base {signed(xb[key_e]['acc'] - xb[key_x]['acc'])})",
                              gap <= TARGETS["xcopa_gap"]))
                items.append(_english_target("XCOPA", run, base, key_e))
        for task in sorted({k[0] for k in xa} - {"xcopa"}):  # XCOPA's English row is above, with its gap
            key = (task, "in-language", 0, "en")
            if key in xa and key in xb:
                items.append(_english_target(f"{task}:", run, base, key))
        for task in sorted({k[0] for k in xa}):
            c0, c5 = xa.get((task, "cross-lingual", 0, "non-en")), xa.get((task, "cross-lingual", 5, "non-en"))
            if c0 and c5:
                items.append((f"{task}: cross-lingual 5-shot >= 0-shot after alignment",
                              f"5-shot {pct(c5['acc'], 2)}% ± {pct(c5['noise'])} vs 0-shot {pct(c0['acc'], 2)}%",
                              c5["acc"] >= c0["acc"]))
        for desc, value, ok in items:
            rows.append([run["name"], desc, value, "met" if ok else "**not met**"])
            checks.append({"run": run["name"], "target": desc, "value": value, "met": bool(ok)})
    if not rows:
        return "", checks
    return table(["run", "target", "measured", ""], rows), checks


def _english_target(label: str, run: dict, base: dict, key: tuple) -> tuple[str, str, bool]:
    """The target row "English not more than 1 point below the base" of one task (its 0-shot English cell)."""
    e = icl_comparison(run, base, key, TARGETS["english_drop"])
    ci = f" ({signed(e['diff'])}, paired 95% CI {_ci(e)})" if e["paired"] else ""
    return (f"{label} English not more than 1 point below the base",
            f"{pct(e['base'])}% -> {pct(e['aligned'])}%{ci}; {_mde_note(e)}", -e["diff"] <= TARGETS["english_drop"])


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


def _ci(c: dict) -> str:
    return "–" if c["ci"] is None else f"[{signed(c['ci'][0])}, {signed(c['ci'][1])}]"


def _p(c: dict) -> str:
    return "–" if c["p"] is None else f"{c['p']:.2g}"


def _mde_note(c: dict) -> str:
    kind = "" if c["paired"] else " unpaired"
    return f"MDE {pct(c['mde'])}{kind}" + (" > target, underpowered" if c["underpowered"] else "")


def icl_delta_section(run: dict, base: dict, target: float = TARGETS["xcopa_gain"]) -> str:
    """Per ICL cell: base, run, Δ, the unpaired 2σ, the paired 95% interval, McNemar's p, the MDE,
    and the verdict (paired when both runs stored per-item predictions; see :func:`icl_comparison`)."""
    a, b = icl_cells(run), icl_cells(base)
    rows = []
    for key in sorted(set(a) & set(b), key=lambda k: (k[0], k[1] != "in-language", k[2], k[3])):
        c = icl_comparison(run, base, key, target)
        label = c["verdict"] + ("; **underpowered**" if c["underpowered"] else "")
        rows.append([key[0], key[1], str(key[2]), key[3], pct(c["base"]), pct(c["aligned"]), signed(c["diff"]),
                     f"{pct(2 * c['noise'])} ({c['noise_kind']})", _ci(c), _p(c),
                     pct(c["mde"]) + ("" if c["paired"] else " (unpaired)"), label])
    return table(["task", "setting", "shots", "languages", "base", run["name"], "Δ", "unpaired 2σ",
                  "paired 95% CI", "McNemar p", "MDE", ""], rows)


def icl_language_section(run: dict, base: dict, shots: int = 0, setting: str = "in-language") -> str:
    rows = []
    for task in sorted({r["task"] for r in run["icl"]["runs"]}):
        a, b = icl_language_table(run, task, setting, shots), icl_language_table(base, task, setting, shots)
        for lang in a:
            if lang in b:
                rows.append([task, lang, pct(b[lang]), pct(a[lang]), signed(a[lang] - b[lang])])
    return table(["task", "language", "base", run["name"], "Δ"], rows)


UNCACHED = ("model_s", "data_s")  # timed anew by every invocation (reuse takes seconds): not in the total


def _seconds(timings: dict) -> float:
    """The wall time of a run's cached stages: training and every measurement, as first computed."""
    return sum(v for k, v in timings.items() if k.endswith("_s") and k not in UNCACHED and isinstance(v, (int, float)))


def compute_section(runs: list[dict]) -> str:
    rows = []
    for r in runs:
        t = r.get("train") or {}
        tokens = t.get("tokens")
        frac = "–"
        if tokens and r.get("pretraining_tokens"):
            frac = f"{1000 * tokens / r['pretraining_tokens']:.2g}‰"
        tm = r["timings"]

        def opt(k: str, tm=tm) -> str:
            return f"{tm[k]:.0f}" if k in tm else "–"

        rows.append([r["name"], r["device"], str(t.get("steps", "–")), str(t.get("samples_seen", "–")),
                     f"{tokens:,}" if tokens else "–", frac, opt("train_s"), opt("steer_fit_s"),
                     opt("tatoeba_s"), opt("tatoeba_dev_s"), opt("dev_icl_s"), opt("icl_s"),
                     opt("language_alignment_s"), f"{_seconds(tm):.0f}"])
    total = sum(_seconds(r["timings"]) for r in runs)
    rows.append(["**all runs**", *[""] * 12, f"**{total:.0f}** ({total / 3600:.1f} h)"])
    return table(["run", "device", "steps", "samples", "tokens", "of pre-training", "train s", "steer fit s",
                  "Tatoeba s", "Tatoeba dev s", "dev ICL s", "ICL s", "alignment s", "total s"], rows)


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
        elif r.get("steer"):
            st, sc = r["steer"], r["config"]["steer"]
            ridge = "" if st["fit"].get("ridge") is None else f", ridge {st['fit']['ridge']}"
            what = (f"{st['method']} toward English at layer {', '.join(map(str, st['layers']))}, strength "
                    f"{st['strength']}{ridge}; fitted on XCOPA {sc['split']} ({', '.join(sc['fields'])}) "
                    f"and its English translations; {r['baseline']}, not trained")
        else:
            what = "base model, not trained"
        rows.append([r["name"], r["model"], r["description"], what])
    return table(["run", "model", "what", "settings"], rows)


def baselines_section(compared: list[dict], bases: dict[str, dict], target: float = TARGETS["xcopa_gain"]) -> str:
    """Train or steer: each aligned and steered run against its base on XCOPA non-English in-language
    0-shot (paired), with what it cost."""
    key = ("xcopa", "in-language", 0, "non-en")
    rows = []
    for r in compared:
        base = bases[r["baseline"]]
        if key not in icl_cells(r) or key not in icl_cells(base):
            continue
        c = icl_comparison(r, base, key, target)
        label = c["verdict"] + ("; **underpowered**" if c["underpowered"] else "")
        if r.get("steer"):
            s = r["steer"]
            fitted = sum(s["fit"]["pairs"].values())
            how = f"{s['method']} at layer {', '.join(map(str, s['layers']))} (no training)"
            cost = f"fit {s['fit_seconds']:.0f} s on {fitted:,} dev sentence pairs"
        else:
            t = r.get("train") or {}
            how = f"AFP, {t.get('steps', '–')} steps, layer {r['layer']}"
            tokens = t.get("tokens")
            cost = f"train {r['timings'].get('train_s', 0):.0f} s, {tokens:,} tokens" if tokens else "–"
        rows.append([r["name"], how, cost, pct(c["base"]), pct(c["aligned"]), signed(c["diff"]), _ci(c), _p(c),
                     pct(c["mde"]), label])
    if not rows:
        return ""
    return table(["run", "what", "cost", "base", "run", "Δ", "paired 95% CI", "McNemar p", "MDE", ""], rows)


def correlation_section(runs: list[dict]) -> tuple[str, dict]:
    """Per layer, Spearman's rho across languages between alignment (top-1 retrieval, mutual nearest
    neighbours) and XCOPA in-language 0-shot accuracy, per run; the strongest layer with its values."""
    per_run = {}
    for r in runs:
        corr = {m: alignment_accuracy(r, m) for m in ALIGNMENT_METRICS}
        if all(corr.values()):
            per_run[r["name"]] = corr
    if not per_run:
        return "", {}
    layers = sorted({layer for corr in per_run.values() for layer in corr["top1"]["layers"]})
    header = ["layer"] + [f"{name}: {m}" for name in per_run for m in ALIGNMENT_METRICS]
    rows = []
    for layer in layers:
        cells = []
        for corr in per_run.values():
            for m in ALIGNMENT_METRICS:
                v = corr[m]["layers"].get(layer)
                if v is None or v["ci"] is None:
                    cells.append("–")
                else:
                    cells.append(f"{v['rho']:+.2f} [{v['ci'][0]:+.2f}, {v['ci'][1]:+.2f}] p {v['p']:.2g}")
        rows.append([str(layer), *cells])
    lines = [table(header, rows)]
    summary = {}
    for name, corr in per_run.items():
        for m in ALIGNMENT_METRICS:
            best = strongest_layer(corr[m])
            if best is None:
                continue
            v = corr[m]["layers"][best]
            summary[f"{name}:{m}"] = {"layer": best, "rho": v["rho"], "ci": v["ci"], "p": v["p"],
                                      "languages": corr[m]["languages"]}
            pairs = ", ".join(f"{x} {pct(v['alignment'][x])}/{pct(corr[m]['accuracy'][x])}"
                              for x in corr[m]["languages"])
            lines.append(f"- **{name}, {m}**: strongest at layer {best}, rho {v['rho']:+.2f} (95% CI "
                         f"[{v['ci'][0]:+.2f}, {v['ci'][1]:+.2f}], permutation p {v['p']:.2g}, "
                         f"{len(corr[m]['languages'])} languages); alignment/accuracy per language: {pairs}.")
    return "\n".join(lines) + "\n", summary


def lever_change(run: dict, recipe: dict) -> str:
    """What ``run``'s training settings change against the recipe's (``key old → new``)."""
    a, b = flat_settings(recipe["config"]["train"], "train."), flat_settings(run["config"]["train"], "train.")
    diffs = [f"{k} {a.get(k)} → {b.get(k)}" for k in sorted(set(a) | set(b))
             if a.get(k) != b.get(k) and not k.startswith("train.training.output_dir")]
    return "; ".join(diffs) or "(no training setting differs)"


def lever_section(runs: dict[str, dict], recipe: str, candidates: list[str]) -> tuple[str, str | None]:
    """The lever search on dev: per run (the recipe, then each candidate), what it changes, Tatoeba dev at
    its layer, the dev ICL non-English mean of each checkpoint, and the final model against the base on
    the same dev items (paired); then the selection. Returns the markdown and the selected run."""
    names = [n for n in [recipe, *candidates] if n in runs]
    if recipe not in runs or not final_dev_icl(runs[recipe]):
        return "", None
    rec = runs[recipe]
    base = runs.get(rec["baseline"])
    rows = []
    if base and final_dev_icl(base):
        bt = base.get("tatoeba_dev")
        bt_s = pct(dev_mean(bt, rec["layer"], rec["pooling"])) + f" (layer {rec['layer']})" if bt else "–"
        b_mean = pct(final_dev_icl(base)["non_en_mean"])
        rows.append([base["name"], "base model, not trained", bt_s, b_mean, "–", b_mean, "yes"])
    for name in names:
        r = runs[name]
        change = "the recipe" if name == recipe else lever_change(r, rec)
        entry = final_dev_icl(r)
        if entry is None:
            rows.append([name, change, "–", "not scored", "–", "–", "–"])
            continue
        tat = r.get("tatoeba_dev")
        tat_s = pct(dev_mean(tat, r["layer"], r["pooling"])) + f" (layer {r['layer']})" if tat else "–"
        curve = ", ".join(f"{pct(m['non_en_mean'])} (step {m['step']})" for m in r["dev_icl"]["models"])
        c = dev_icl_paired(r, base) if base else None
        delta = "–" if c is None else (f"{signed(c['diff'])} [{signed(c['ci'][0])}, {signed(c['ci'][1])}], "
                                       f"MDE {pct(c['mde'])}")
        rows.append([name, change, tat_s, curve, delta, pct(entry["non_en_mean"]), "yes" if r.get("icl") else "no"])
    try:
        best, scores = select_lever(runs, [recipe, *candidates])
    except ValueError as exc:
        note = f"\nNo run selected yet: {exc}.\n"
        best = None
    else:
        how = ("the recipe itself: no candidate beats it on dev, so no other run is measured on test"
               if best == recipe else "measured on the test sets in the tables above (group lever)")
        note = (f"\n**Selected on dev: {best}** (non-English dev mean {pct(scores[best])}%, the best of "
                f"{len(scores)}; the recipe wins ties): {how}.\n")
    header = ["run", "change against the recipe", "Tatoeba dev", "dev ICL non-English, by checkpoint",
              f"Δ vs {base['name'] if base else 'base'} (paired 95% CI), final", "final", "measured on test"]
    return table(header, rows) + note, best

"""crossalign compare: two models on the same ICL items, with paired statistics.

    crossalign evaluate --model.name_or_path base --predictions --output_dir runs/eval-base ...
    crossalign evaluate --model.name_or_path runs/afp/model --predictions --output_dir runs/eval-afp ...
    crossalign compare --a runs/eval-base --b runs/eval-afp --output runs/compare.md

Reads each folder's ``predictions/<task>.<prompt>-<sample>.<k>shot.seed<s>.jsonl`` (written by
``crossalign evaluate --predictions``), matches the items of each run by id, and prints one row per
run: items, accuracy of A and B, the difference B - A, its paired 95% interval (bootstrap over
items), the exact McNemar p-value and the minimal detectable effect (80% power, alpha 0.05); and,
for runs repeated over several demonstration seeds, one row with the difference averaged over the
seeds and the seed variance added to its interval (:mod:`crossalign.eval.paired`; formulas in
docs/study.md). ``--output`` writes the table and, beside it, the same numbers as JSON (with the
bootstrap seed). Folders that do not hold the same runs on the same items are refused (exit 2).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crossalign.errors import ConfigError, InputError
from crossalign.io import iter_jsonl

PRED_FIELD = {"acc": "pred", "acc_norm": "pred_norm"}


@dataclass
class Config:
    a: str = field(default="", metadata={"help": "Output folder of `crossalign evaluate --predictions`: model A "
                                                 "(the reference, e.g. the base model)."})
    b: str = field(default="", metadata={"help": "The same for model B; the difference is B - A."})
    metric: str = field(default="acc", metadata={
        "help": "acc (sum of log-likelihoods) or acc_norm (per UTF-8 byte).", "choices": list(PRED_FIELD)})
    resamples: int = field(default=10_000, metadata={"help": "Paired bootstrap resamples over items."})
    seed: int = field(default=0, metadata={"help": "Seed of the bootstrap (recorded in the output)."})
    output: str = field(default="", metadata={
        "help": "Also write the table here (markdown) and its numbers beside it (.json); empty: print only."})

    def validate(self) -> None:
        if not self.a or not self.b:
            raise ConfigError("give both folders: --a <evaluate output> --b <evaluate output>")
        if self.resamples < 100:
            raise ConfigError(f"resamples: {self.resamples} is too few for a 95% interval (give >= 100)")


def read_predictions(folder: str | Path, metric: str = "acc") -> dict[str, dict]:
    """``{run name: {"ids": [...], "label": (N,), "pred": (N,)}}`` from ``folder/predictions/*.jsonl``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder (give the output_dir of `crossalign evaluate --predictions`)")
    files = sorted((folder / "predictions").glob("*.jsonl"))
    if not files:
        raise InputError(f"{folder / 'predictions'}: no predictions/*.jsonl; run `crossalign evaluate` with "
                         f"--predictions")
    out = {}
    key = PRED_FIELD[metric]
    for path in files:
        ids, labels, preds = [], [], []
        for lineno, row in iter_jsonl(path):
            try:
                ids.append(str(row["id"]))
                labels.append(int(row["label"]))
                preds.append(int(row[key]))
            except (KeyError, TypeError, ValueError) as exc:
                raise InputError(f"not a prediction row with id, label and {key} ({type(exc).__name__}: {exc})",
                                 path, lineno) from None
        if not ids:
            raise InputError("no items", path)
        if len(set(ids)) != len(ids):
            raise InputError("duplicate item ids", path)
        out[path.stem] = {"ids": ids, "label": np.array(labels), "pred": np.array(preds), "path": path}
    return out


def paired_correct(ra: dict, rb: dict) -> tuple[np.ndarray, np.ndarray]:
    """(correct_a, correct_b) on the items of ``ra`` in its order, B's rows matched by id."""
    if set(ra["ids"]) != set(rb["ids"]):
        only_a, only_b = sorted(set(ra["ids"]) - set(rb["ids"])), sorted(set(rb["ids"]) - set(ra["ids"]))
        raise InputError(f"{ra['path']} and {rb['path']} hold different items ({len(only_a)} only in A, e.g. "
                         f"{only_a[:3]}; {len(only_b)} only in B, e.g. {only_b[:3]}): compare the same items")
    pos = {i: k for k, i in enumerate(rb["ids"])}
    order = np.array([pos[i] for i in ra["ids"]])
    if not np.array_equal(ra["label"], rb["label"][order]):
        bad = next(i for i, x, y in zip(ra["ids"], ra["label"], rb["label"][order], strict=True) if x != y)
        raise InputError(f"{ra['path']} and {rb['path']}: item {bad!r} has different labels: not the same items")
    return ra["pred"] == ra["label"], rb["pred"][order] == rb["label"][order]


def _group(name: str) -> tuple[str, int | None]:
    """(run name without its seed, seed) for ``task.p-s.kshot.seedN``."""
    head, _, tail = name.rpartition(".seed")
    return (head, int(tail)) if head and tail.isdigit() else (name, None)


def compare_folders(a: str | Path, b: str | Path, *, metric: str = "acc", resamples: int = 10_000,
                    seed: int = 0) -> list[dict]:
    """One entry per run (and per seed group of k-shot runs) with :func:`compare_paired`'s numbers."""
    from crossalign.eval.paired import compare_paired

    pa, pb = read_predictions(a, metric), read_predictions(b, metric)
    if set(pa) != set(pb):
        only_a, only_b = sorted(set(pa) - set(pb)), sorted(set(pb) - set(pa))
        raise InputError(f"{a} and {b} do not hold the same runs: only in {a}: {only_a or 'none'}; "
                         f"only in {b}: {only_b or 'none'}")
    rows, groups = [], defaultdict(list)
    for name in sorted(pa):
        ca, cb = paired_correct(pa[name], pb[name])
        rows.append({"run": name, **compare_paired(ca, cb, resamples=resamples, seed=seed)})
        head, s = _group(name)
        if s is not None:
            groups[head].append((s, pa[name]["ids"], ca, cb))
    for head, members in sorted(groups.items()):
        if len(members) < 2:
            continue
        members.sort(key=lambda m: m[0])
        ids = members[0][1]
        if any(m[1] != ids for m in members):
            continue  # seeds evaluated on different items cannot be stacked item by item
        ca, cb = np.stack([m[2] for m in members]), np.stack([m[3] for m in members])
        seeds = ",".join(str(m[0]) for m in members)
        rows.append({"run": f"{head}.seeds{seeds}", **compare_paired(ca, cb, resamples=resamples, seed=seed)})
    return rows


def markdown(rows: list[dict], a: str, b: str, metric: str) -> str:
    def p(x):
        return f"{100 * x:.1f}"

    lines = [f"A = {a}, B = {b}; {metric}; Δ = B - A (points). 95% CI: paired bootstrap over items "
             f"({rows[0]['resamples']} resamples, seed {rows[0]['seed']}), widened by the demonstration-seed "
             "variance on seed-averaged rows; McNemar: exact, two-sided (largest over seeds); MDE: minimal "
             "detectable effect, 80% power, alpha 0.05, paired (unpaired in brackets).", "",
             "| run | n | acc A | acc B | Δ | 95% CI | McNemar p | MDE |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lo, hi = r["ci"]
        seeds = f" (std over seeds {p(r['seed_std'])})" if r["seed_std"] is not None else ""
        lines.append(f"| {r['run']} | {r['n']} | {p(r['acc_a'])} | {p(r['acc_b'])} | {100 * r['diff']:+.1f}{seeds} | "
                     f"[{100 * lo:+.1f}, {100 * hi:+.1f}] | {r['p_mcnemar']:.3g} | {p(r['mde'])} "
                     f"({p(r['mde_unpaired'])}) |")
    return "\n".join(lines) + "\n"


def main(cfg: Config) -> int:
    from crossalign.io import check_output_file, write_json, write_text

    if cfg.output:
        check_output_file(cfg.output, "output")
    rows = compare_folders(cfg.a, cfg.b, metric=cfg.metric, resamples=cfg.resamples, seed=cfg.seed)
    text = markdown(rows, cfg.a, cfg.b, cfg.metric)
    print(text, end="")
    if cfg.output:
        out = Path(cfg.output)
        write_text(out, text)
        doc = {"a": cfg.a, "b": cfg.b, "metric": cfg.metric, "bootstrap": {"resamples": cfg.resamples,
                                                                            "seed": cfg.seed},
               "alpha": 0.05, "power": 0.80, "rows": [{**r, "ci": list(r["ci"]), "ci_items": list(r["ci_items"])}
                                                      for r in rows]}
        write_json(out.with_suffix(".json"), doc)
        print(f"written: {out} and {out.with_suffix('.json')}")
    return 0

"""Few-shot ICL evaluation runs: tasks x language pairs x shots x seeds -> results.

    from crossalign.eval.outputs import write_outputs
    from crossalign.eval.runner import EvalConfig, evaluate
    results = evaluate(model, tokenizer, EvalConfig(tasks=["xcopa"], languages=["zh"],
                       prompt_language="en", shots=[0, 5], data_dir="../shared/data"))
    write_outputs(results, "runs/eval")

A *run* is one (task, prompt language, sample language, shots, seed). The prompt language
gives the template words and the demonstrations; the sample language gives the evaluated
items. ``prompt_language: same`` is the in-language setting, a code (``en``) the
cross-lingual one. Metrics: ``acc`` (sum log-likelihood of the continuation), ``acc_norm``
(divided by its length in UTF-8 bytes) and, with ``seq: true``, ``acc_seq`` (log-likelihood
of the whole sequence: the AFP reference's decision rule).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from crossalign.errors import ConfigError, InputError
from crossalign.eval.demos import MODES, choose_demos
from crossalign.eval.loaders import load_items, local_path
from crossalign.eval.render import encode_pair, prompt, render
from crossalign.eval.scoring import Request, Scorer
from crossalign.eval.summary import summarize
from crossalign.eval.tasks import TASKS, load_task
from crossalign.languages import normalize

_MIN_GROUP = 8  # items sharing demonstrations that are worth a prefix of their own


@dataclass
class EvalConfig:
    tasks: list[str] = field(default_factory=lambda: list(TASKS), metadata={
        "help": "Tasks to evaluate (built-in names or task .yaml files)."})
    languages: list[str] = field(default_factory=list, metadata={
        "help": "Sample languages; empty = every language of each task."})
    prompt_language: str = field(default="same", metadata={
        "help": "'same' = in-language (demonstrations and template in the sample's language); a code "
                "such as 'en' = cross-lingual (English demonstrations and template)."})
    shots: list[int] = field(default_factory=lambda: [0, 5], metadata={"help": "Numbers of demonstrations."})
    seeds: list[int] = field(default_factory=lambda: [0], metadata={
        "help": "Demonstration seeds; several give a mean and a standard deviation."})
    demo_mode: str = field(default="fixed", metadata={
        "help": "fixed: k demonstrations per seed for every item (AFP reference); per_item: drawn for "
                "each item (lm-evaluation-harness).", "choices": list(MODES)})
    template: str | None = field(default=None, metadata={
        "help": "afp (reference templates) or lm_eval (lm-evaluation-harness); default: each task's."})
    separator: str | None = field(default=None, metadata={
        "help": "Text between demonstrations (default: the template's, a blank line)."})
    split: str | None = field(default=None, metadata={"help": "Evaluated split (default: each task's)."})
    demo_split: str | None = field(default=None, metadata={
        "help": "Split the demonstrations come from (default: each task's)."})
    data_dir: str | None = field(default=None, metadata={
        "help": "Folder with the datasets' published files (e.g. ../shared/data); default: the hub."})
    datasets: list[str] = field(default_factory=list, metadata={
        "help": "Dataset overrides as task=hub_id_or_folder (e.g. xcopa=my/xcopa)."})
    limit: int | None = field(default=None, metadata={"help": "Evaluate only the first N items per run."})
    seq: bool = field(default=False, metadata={
        "help": "Also compute acc_seq (whole-sequence log-likelihood; needs logits at context positions)."})
    batch_size: int = field(default=16, metadata={"help": "Items per forward pass."})
    max_rows: int = field(default=64, metadata={"help": "Most continuation rows per forward pass."})
    progress: bool = field(default=True, metadata={"help": "Show a progress bar."})

    def validate(self) -> None:
        specs = [load_task(t) for t in self.tasks]
        known = sorted({lang for spec in specs for lang in spec.languages})
        for lang in self.languages:
            if normalize(lang) not in known:
                raise ConfigError(f"language {lang!r} is in none of the tasks {self.tasks}; "
                                  f"valid languages: {', '.join(known)}")
        for spec in specs:
            if self.template is not None:
                spec.template(self.template, spec.languages[0])
            for split in (self.split, self.demo_split):
                if split is not None:
                    spec.check_split(split)
        if not self.tasks:
            raise ConfigError(f"tasks: give at least one task; built-in: {', '.join(TASKS)}")
        if not self.shots:
            raise ConfigError("shots: give at least one number of demonstrations (e.g. 0 5)")
        if any(k < 0 for k in self.shots):
            raise ConfigError(f"shots must be >= 0, got {self.shots}")
        if not self.seeds:
            raise ConfigError("seeds: give at least one seed")
        for name in ("limit", "batch_size", "max_rows"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}"
                                  + (" (omit it to evaluate every item)" if name == "limit" else ""))
        for d in self.datasets:
            if "=" not in d:
                raise ConfigError(f"datasets: {d!r} is not task=id")


def check_data(cfg: EvalConfig) -> None:
    """With ``data_dir``: every local file the configured runs read exists (a ConfigError naming the
    missing one otherwise), so that a run is refused before its model loads, not midway."""
    if cfg.data_dir is None:
        return
    overrides = dict(d.split("=", 1) for d in cfg.datasets)
    for task in cfg.tasks:
        spec = load_task(task)
        if spec.name in overrides:
            continue
        eval_split = spec.check_split(cfg.split or spec.eval_split)
        demo_split = spec.check_split(cfg.demo_split or spec.demo_split)
        for p_lang, s_lang in _pairs(spec, cfg):
            local_path(spec, s_lang, eval_split, Path(cfg.data_dir))
            if any(k > 0 for k in cfg.shots):
                local_path(spec, p_lang, demo_split, Path(cfg.data_dir))


def _pairs(spec, cfg: EvalConfig) -> list[tuple[str, str]]:
    langs = [normalize(x) for x in cfg.languages] or list(spec.languages)
    out = []
    for lang in langs:
        if lang not in spec.languages:
            continue
        p = lang if cfg.prompt_language == "same" else spec.check_language(cfg.prompt_language)
        out.append((p, lang))
    return out


def _metrics(scores, rendered, *, seq: bool) -> tuple[dict, list[dict]]:
    preds, correct = [], {"acc": 0, "acc_norm": 0, "acc_seq": 0}
    for (ll, ll_seq), r in zip(scores, rendered, strict=True):
        nbytes = [max(1, len(cont.encode("utf-8"))) for _, cont in r.pairs]
        p = max(range(len(ll)), key=lambda c: ll[c])
        pn = max(range(len(ll)), key=lambda c: ll[c] / nbytes[c])
        row = {"label": r.label, "pred": p, "pred_norm": pn, "ll": ll}
        correct["acc"] += p == r.label
        correct["acc_norm"] += pn == r.label
        if seq:
            ps = max(range(len(ll_seq)), key=lambda c: ll_seq[c])
            correct["acc_seq"] += ps == r.label
            row.update(pred_seq=ps, ll_seq=ll_seq)
        preds.append(row)
    n = max(1, len(rendered))
    metrics = {m: v / n for m, v in correct.items() if seq or m != "acc_seq"}
    return metrics, preds


def run_one(scorer: Scorer, tokenizer, spec, template, p_lang, s_lang, items, pool, k, seed, cfg, *,
            same: bool):
    """Score one run; returns (metrics, per-item predictions). ``same``: the demonstration pool may
    hold the evaluated items (same split, and same language or a parallel dataset)."""
    try:
        demos = choose_demos(pool, items, k, seed, cfg.demo_mode, exclude_same_id=same)
    except ValueError as exc:
        raise ConfigError(f"task {spec.name} ({p_lang}->{s_lang}, {k}-shot): {exc}") from None
    demo_text = {}
    groups: dict[tuple, list[int]] = {}
    rendered = []
    for i, (item, ds) in enumerate(zip(items, demos, strict=True)):
        for d in ds:
            if d["id"] not in demo_text:
                demo_text[d["id"]] = render(spec, template, d, p_lang, p_lang).demo()
        rendered.append(render(spec, template, item, s_lang, p_lang))
        groups.setdefault(tuple(d["id"] for d in ds), []).append(i)
    sep = cfg.separator if cfg.separator is not None else spec.template(template, p_lang).separator
    # Items that share demonstrations are scored together so that their common prefix is computed
    # once; small groups (per-item demonstrations, or fixed ones that had to skip the item itself)
    # are pooled into one call so that they still fill batches.
    big = [idx for idx in groups.values() if len(idx) >= _MIN_GROUP]
    rest = sorted(i for idx in groups.values() if len(idx) < _MIN_GROUP for i in idx)
    scores: list = [None] * len(items)
    for idx in [*big, rest] if rest else big:
        requests, owner = [], []  # owner[j] = (item index, choice indices)
        for i in idx:
            r = rendered[i]
            demo_strs = [demo_text[d["id"]] for d in demos[i]]
            enc = [encode_pair(tokenizer, prompt(demo_strs, sep, ctx), cont) for ctx, cont in r.pairs]
            if r.shared_context:
                requests.append(Request(enc[0][0], [c for _, c in enc]))
                owner.append((i, list(range(len(enc)))))
            else:
                for c, (ctx_ids, cont_ids) in enumerate(enc):
                    requests.append(Request(ctx_ids, [cont_ids]))
                    owner.append((i, [c]))
        try:
            out = scorer.score(requests, with_seq=cfg.seq)
        except ValueError as exc:
            raise ConfigError(f"task {spec.name} ({p_lang}->{s_lang}, {k}-shot): {exc}") from None
        for (i, choices), sc in zip(owner, out, strict=True):
            if scores[i] is None:
                n = len(rendered[i].pairs)
                scores[i] = ([0.0] * n, [0.0] * n)
            for c, ll, ls in zip(choices, sc.ll, sc.ll_seq or sc.ll, strict=True):
                scores[i][0][c] = ll
                scores[i][1][c] = ls
    metrics, preds = _metrics(scores, rendered, seq=cfg.seq)
    for row, item, ds in zip(preds, items, demos, strict=True):
        row["id"] = item["id"]
        row["demos"] = [d["id"] for d in ds]
    return metrics, preds


def evaluate(model, tokenizer, cfg: EvalConfig, *, model_name: str = "", log=print, keep_going: bool = False) -> dict:
    """Run every configured evaluation; returns the results dict (see
    :func:`crossalign.eval.outputs.write_outputs`).

    ``keep_going``: a task that fails (bad data, a context too long for the model...) is recorded
    under ``failed`` with its error and the other tasks still run; otherwise the error propagates."""
    overrides = dict(d.split("=", 1) for d in cfg.datasets)
    bar = None
    if cfg.progress:
        bar = tqdm(unit="context", desc="evaluate", dynamic_ncols=True)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    scorer = Scorer(model, batch_size=cfg.batch_size, max_rows=cfg.max_rows, pad_id=pad,
                    progress=bar.update if bar is not None else None)
    runs, predictions, failed = [], {}, []
    was_training = model.training
    model.eval()
    try:
        for task in cfg.tasks:
            try:
                _evaluate_task(task, scorer, tokenizer, cfg, overrides, bar, runs, predictions, log)
            except (ConfigError, InputError, ValueError, RuntimeError, OSError) as exc:
                if not keep_going:
                    raise
                failed.append({"task": task, "error": f"{type(exc).__name__}: {exc}"})
                log(f"[evaluate] {task}: failed ({exc}); the other tasks go on")
    finally:
        if bar is not None:
            bar.close()
        model.train(was_training)
    out = {"model": model_name, "runs": runs, "summary": summarize(runs), "predictions": predictions}
    if failed:
        out["failed"] = failed
    return out


def _evaluate_task(task, scorer, tokenizer, cfg, overrides, bar, runs, predictions, log) -> None:
    spec = load_task(task)
    eval_split = spec.check_split(cfg.split or spec.eval_split)
    demo_split = spec.check_split(cfg.demo_split or spec.demo_split)
    pairs = _pairs(spec, cfg)
    if not pairs:
        log(f"[evaluate] {spec.name}: none of the languages {cfg.languages} "
            f"(it has {spec.languages}); skipped")
    source = dict(data_dir=cfg.data_dir, hub_id=overrides.get(spec.name))
    pools: dict[str, list[dict]] = {}
    for p_lang, s_lang in pairs:
        items = load_items(spec, s_lang, eval_split, **source)
        if cfg.limit is not None:
            items = items[: cfg.limit]
        same = demo_split == eval_split and (p_lang == s_lang or spec.parallel)
        for k in cfg.shots:
            if k > 0 and p_lang not in pools:
                pools[p_lang] = load_items(spec, p_lang, demo_split, **source)
            for seed in cfg.seeds if k > 0 else cfg.seeds[:1]:
                start = time.perf_counter()
                if bar is not None:
                    bar.set_description(f"{spec.name} {p_lang}->{s_lang} {k}-shot seed {seed}")
                metrics, preds = run_one(scorer, tokenizer, spec, cfg.template, p_lang, s_lang, items,
                                         pools.get(p_lang, []), k, seed, cfg, same=same)
                run = {"task": spec.name, "template": cfg.template or spec.default_template,
                       "prompt_language": p_lang, "sample_language": s_lang,
                       "setting": "in-language" if p_lang == s_lang else "cross-lingual",
                       "shots": k, "seed": seed, "demo_mode": cfg.demo_mode,
                       "split": eval_split, "demo_split": demo_split if k else None,
                       "n_items": len(items), "metrics": metrics,
                       "seconds": round(time.perf_counter() - start, 3)}
                runs.append(run)
                predictions[_run_name(run)] = preds


def _run_name(run: dict) -> str:
    return (f"{run['task']}.{run['prompt_language']}-{run['sample_language']}."
            f"{run['shots']}shot.seed{run['seed']}")



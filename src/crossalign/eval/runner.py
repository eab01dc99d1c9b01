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

A task name selects a task and its languages (:func:`crossalign.eval.tasks.select_task`):
``xcopa`` every language (or those of ``languages``), lm-eval's ``xcopa_zh`` one. With
``apply_chat_template`` the prompts go through the tokenizer's chat template
(:mod:`crossalign.eval.chat`).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from crossalign.errors import ConfigError, InputError
from crossalign.eval.chat import chat_prompt, chat_template, starts_with_bos
from crossalign.eval.demos import MODES, choose_demos
from crossalign.eval.loaders import load_items, local_path
from crossalign.eval.render import encode_pair, prompt, render
from crossalign.eval.scoring import Request, Scorer
from crossalign.eval.summary import summarize
from crossalign.eval.tasks import TASKS, TaskSpec, select_task
from crossalign.languages import normalize

_MIN_GROUP = 8  # items sharing demonstrations that are worth a prefix of their own


@dataclass
class EvalConfig:
    tasks: list[str] = field(default_factory=lambda: list(TASKS), metadata={
        "help": "Tasks to evaluate: built-in names (every language), lm-eval names of one language "
                "(xcopa_zh, paws_de, xwinograd_jp...) or task .yaml files."})
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
    apply_chat_template: bool = field(default=False, metadata={
        "help": "Render prompts through the tokenizer's chat template (instruction-tuned models; "
                "lm-eval's --apply_chat_template). Off: the plain prompt (base models)."})
    fewshot_as_multiturn: bool = field(default=False, metadata={
        "help": "With apply_chat_template: each demonstration as a user turn and an assistant turn "
                "(lm-eval's --fewshot_as_multiturn); off: the whole prompt in one user message."})
    system_instruction: str | None = field(default=None, metadata={
        "help": "With apply_chat_template: a system message before the prompt."})
    split: str | None = field(default=None, metadata={"help": "Evaluated split (default: each task's)."})
    task_splits: list[str] = field(default_factory=list, metadata={
        "help": "The evaluated split of one task, over split, as task=split (e.g. xnli=validation: XNLI on its "
                "validation split beside XWinograd on its only one, test)."})
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
        selected = [select_task(t) for t in self.tasks]
        specs = [spec for spec, _ in selected]
        # --languages restricts the names that select every language, not xcopa_zh
        known = sorted({lang for spec, only in selected if only is None for lang in spec.languages})
        fixed = [t for t, (_, only) in zip(self.tasks, selected, strict=True) if only is not None]
        for lang in self.languages:
            if normalize(lang) not in known:
                hint = (f" ({', '.join(fixed)} name their language; languages applies to task names "
                        "without one, such as xcopa)") if fixed else ""
                raise ConfigError(f"language {lang!r} is in none of the tasks {self.tasks}; "
                                  f"valid languages: {', '.join(known) or 'none'}{hint}")
        wanted = {normalize(x) for x in self.languages}
        seen: dict[tuple[str, str], str] = {}
        for t, (spec, only) in zip(self.tasks, selected, strict=True):
            for lang in only or [x for x in spec.languages if not wanted or x in wanted]:
                if (spec.name, lang) in seen:
                    raise ConfigError(f"tasks: {seen[(spec.name, lang)]} and {t} both select {spec.name} in "
                                      f"{lang}; give it once")
                seen[(spec.name, lang)] = t
        if not self.apply_chat_template:
            for name in ("fewshot_as_multiturn", "system_instruction"):
                if getattr(self, name):
                    raise ConfigError(f"{name} needs apply_chat_template (it shapes the chat)")
        for spec in specs:
            if self.template is not None:
                spec.template(self.template, spec.languages[0])
            for split in (self.split, self.demo_split):
                if split is not None:
                    spec.check_split(split)
        names = {spec.name for spec in specs}
        for entry in self.task_splits:
            task, sep, split = entry.partition("=")
            if not sep or not task or not split:
                raise ConfigError(f"task_splits: {entry!r} is not task=split (e.g. xnli=validation)")
            spec = select_task(task)[0]
            if spec.name not in names:
                raise ConfigError(f"task_splits: {entry!r} names {spec.name}, which is not among the tasks "
                                  f"{self.tasks}")
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


def named_split(cfg: EvalConfig, spec: TaskSpec) -> str | None:
    """The split the user named for ``spec``'s task: its ``task_splits`` entry, else ``split``; None when
    neither names one (the task's own default applies)."""
    for entry in cfg.task_splits:
        task, _, split = entry.partition("=")
        if select_task(task)[0].name == spec.name:
            return split
    return cfg.split


def evaluated_split(cfg: EvalConfig, spec: TaskSpec) -> str:
    """The split of ``spec`` that ``cfg`` evaluates: the one named for it, else the task's own."""
    return spec.check_split(named_split(cfg, spec) or spec.eval_split)


def check_data(cfg: EvalConfig) -> None:
    """With ``data_dir``: every local file the configured runs read exists (a ConfigError naming the
    missing one otherwise), so that a run is refused before its model loads, not midway."""
    if cfg.data_dir is None:
        return
    overrides = dict(d.split("=", 1) for d in cfg.datasets)
    for task in cfg.tasks:
        spec, only = select_task(task)
        if spec.name in overrides:
            continue
        eval_split = evaluated_split(cfg, spec)
        demo_split = spec.check_split(cfg.demo_split or spec.demo_split)
        for p_lang, s_lang in _pairs(spec, cfg, only):
            local_path(spec, s_lang, eval_split, Path(cfg.data_dir))
            if any(k > 0 for k in cfg.shots):
                local_path(spec, p_lang, demo_split, Path(cfg.data_dir))


def language_pairs(task: str, cfg: EvalConfig) -> tuple:
    """(spec, [(prompt language, sample language), ...]) that task name ``task`` runs under ``cfg``."""
    spec, only = select_task(task)
    return spec, _pairs(spec, cfg, only)


def _pairs(spec, cfg: EvalConfig, only: list[str] | None = None) -> list[tuple[str, str]]:
    langs = only or [normalize(x) for x in cfg.languages] or list(spec.languages)
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


def _prompt(tokenizer, cfg: EvalConfig, demos: list[tuple[str, str]], sep: str, context: str,
            continuation: str) -> tuple[str, str, bool]:
    """(context text, continuation, add special tokens) of one choice as it is scored: the plain
    prompt, or the chat (continuation without its leading whitespace, no BOS added twice)."""
    if not cfg.apply_chat_template:
        return prompt([c + a for c, a in demos], sep, context), continuation, True
    text = chat_prompt(tokenizer, demos, context, separator=sep, multiturn=cfg.fewshot_as_multiturn,
                       system=cfg.system_instruction)
    return text, continuation.lstrip(), not starts_with_bos(tokenizer, text)


def run_one(scorer: Scorer, tokenizer, spec, template, p_lang, s_lang, items, pool, k, seed, cfg, *,
            same: bool, prompts: list | None = None):
    """Score one run; returns (metrics, per-item predictions). ``same``: the demonstration pool may
    hold the evaluated items (same split, and same language or a parallel dataset). ``prompts``, if
    given, receives per item its ``[(context, continuation), ...]`` strings as scored, one per choice."""
    try:
        demos = choose_demos(pool, items, k, seed, cfg.demo_mode, exclude_same_id=same)
    except ValueError as exc:
        raise ConfigError(f"task {spec.name} ({p_lang}->{s_lang}, {k}-shot): {exc}") from None
    demo_pair = {}
    groups: dict[tuple, list[int]] = {}
    rendered = []
    for i, (item, ds) in enumerate(zip(items, demos, strict=True)):
        for d in ds:
            if d["id"] not in demo_pair:
                demo_pair[d["id"]] = render(spec, template, d, p_lang, p_lang).gold
        rendered.append(render(spec, template, item, s_lang, p_lang))
        groups.setdefault(tuple(d["id"] for d in ds), []).append(i)
    sep = cfg.separator if cfg.separator is not None else spec.template(template, p_lang).separator
    # Items that share demonstrations are scored together so that their common prefix is computed
    # once; small groups (per-item demonstrations, or fixed ones that had to skip the item itself)
    # are pooled into one call so that they still fill batches.
    big = [idx for idx in groups.values() if len(idx) >= _MIN_GROUP]
    rest = sorted(i for idx in groups.values() if len(idx) < _MIN_GROUP for i in idx)
    scores: list = [None] * len(items)
    texts: list = [None] * len(items)
    for idx in [*big, rest] if rest else big:
        requests, owner = [], []  # owner[j] = (item index, choice indices)
        for i in idx:
            r = rendered[i]
            demo_pairs = [demo_pair[d["id"]] for d in demos[i]]
            texts[i] = [_prompt(tokenizer, cfg, demo_pairs, sep, ctx, cont) for ctx, cont in r.pairs]
            enc = [encode_pair(tokenizer, ctx, cont, add_special_tokens=add) for ctx, cont, add in texts[i]]
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
    if prompts is not None:
        prompts.extend([(ctx, cont) for ctx, cont, _ in t] for t in texts)
    return metrics, preds


def evaluate(model, tokenizer, cfg: EvalConfig, *, model_name: str = "", log=print, keep_going: bool = False,
             samples: bool = False, context_for=None) -> dict:
    """Run every configured evaluation; returns the results dict (see
    :func:`crossalign.eval.outputs.write_outputs`).

    ``keep_going``: a task that fails (bad data, a context too long for the model...) is recorded
    under ``failed`` with its error and the other tasks still run; otherwise the error propagates.
    ``details`` holds what the lm-eval-format files need (:mod:`crossalign.eval.lm_eval_results`):
    the items and split sizes of each run, the model's description and, with ``samples``, every
    prompt as scored. ``context_for(sample_language)``, when given, returns the context manager each
    run of that language is scored in (e.g. :func:`crossalign.model.steering.language_context`)."""
    from crossalign.eval.lm_eval_results import model_info

    template = chat_template(tokenizer) if cfg.apply_chat_template else None
    details = {"start_time": time.time(), "specs": {}, "items": {}, "n_original": {},
               "prompts": {} if samples else None}
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
                _evaluate_task(task, scorer, tokenizer, cfg, overrides, bar, runs, predictions, log, details,
                               context_for or (lambda lang: contextlib.nullcontext()))
            except (ConfigError, InputError, ValueError, RuntimeError, OSError) as exc:
                if not keep_going:
                    raise
                failed.append({"task": task, "error": f"{type(exc).__name__}: {exc}"})
                log(f"[evaluate] {task}: failed ({exc}); the other tasks go on")
    finally:
        if bar is not None:
            bar.close()
        model.train(was_training)
    details["model"] = model_info(model, tokenizer, scorer.max_length, chat_template=template)
    details["end_time"] = time.time()
    out = {"model": model_name, "runs": runs, "summary": summarize(runs), "predictions": predictions,
           "details": details}
    if failed:
        out["failed"] = failed
    return out


def _evaluate_task(task, scorer, tokenizer, cfg, overrides, bar, runs, predictions, log, details,
                   context_for) -> None:
    spec, only = select_task(task)
    eval_split = evaluated_split(cfg, spec)
    demo_split = spec.check_split(cfg.demo_split or spec.demo_split)
    pairs = _pairs(spec, cfg, only)
    if not pairs:
        log(f"[evaluate] {spec.name}: none of the languages {cfg.languages} "
            f"(it has {spec.languages}); skipped")
    source = dict(data_dir=cfg.data_dir, hub_id=overrides.get(spec.name))
    details["specs"][spec.name] = spec
    pools: dict[str, list[dict]] = {}
    for p_lang, s_lang in pairs:
        items = load_items(spec, s_lang, eval_split, **source)
        n_original = len(items)
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
                prompts = [] if details["prompts"] is not None else None
                with context_for(s_lang):
                    metrics, preds = run_one(scorer, tokenizer, spec, cfg.template, p_lang, s_lang, items,
                                             pools.get(p_lang, []), k, seed, cfg, same=same, prompts=prompts)
                run = {"task": spec.name, "template": cfg.template or spec.default_template,
                       "prompt_language": p_lang, "sample_language": s_lang,
                       "setting": "in-language" if p_lang == s_lang else "cross-lingual",
                       "shots": k, "seed": seed, "demo_mode": cfg.demo_mode,
                       "split": eval_split, "demo_split": demo_split if k else None,
                       "n_items": len(items), "metrics": metrics,
                       "seconds": round(time.perf_counter() - start, 3)}
                runs.append(run)
                name = _run_name(run)
                predictions[name] = preds
                details["items"][name] = items
                details["n_original"][name] = n_original
                if prompts is not None:
                    details["prompts"][name] = prompts


def _run_name(run: dict) -> str:
    return (f"{run['task']}.{run['prompt_language']}-{run['sample_language']}."
            f"{run['shots']}shot.seed{run['seed']}")



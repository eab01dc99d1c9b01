"""Few-shot ICL evaluation as a pipeline stage: task by task, restricted to what the data holds.

    results = run_icl(model, tokenizer, EvalConfig(tasks=["xcopa"], data_dir="../shared/data"), "m", print)

With local files a task's default split may be missing (``../shared/data`` has only XNLI's
validation split): the split that is present is used instead, and said; languages without files
are left out, and said; a task that fails is reported and skipped, not fatal.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

from huggingface_hub import HfApi

from crossalign.errors import ConfigError, InputError
from crossalign.eval.loaders import local_path
from crossalign.eval.runner import evaluate, named_split
from crossalign.eval.tasks import load_task


@functools.cache  # asked once per run, not once per measured model
def hub_reachable(timeout: float = 5.0) -> bool:
    """Whether the Hugging Face hub answers (never when ``HF_HUB_OFFLINE`` is set)."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false"):
        return False
    try:
        HfApi().dataset_info("xcopa", timeout=timeout)
        return True
    except Exception:
        return False


def _local_split(spec, langs: list[str], preferred: str, data_dir: str) -> str | None:
    """``preferred`` if its files exist for every language in ``data_dir``, else the first split that does."""
    def present(split: str) -> bool:
        try:
            return all(local_path(spec, lang, split, Path(data_dir)) for lang in langs)
        except ConfigError:
            return False

    return next((s for s in [preferred, *spec.splits] if present(s)), None)


def icl_runs(ev, say) -> list:
    """One evaluation config per task, restricted to what the data source has.

    With local files, a task's default evaluated split (test) or demonstration split may be
    missing (``../shared/data`` has only XNLI's validation split): the split that is present is
    used instead and said; when both are the same split the evaluator never shows an item as
    its own demonstration. Languages without files are left out and said.
    """
    runs = []
    for task in ev.tasks:
        spec = load_task(task)
        langs = [x for x in ev.languages if x in spec.languages] or list(spec.languages)
        one = dataclasses.replace(ev, tasks=[task], languages=langs)
        if ev.data_dir:
            prompt = [] if ev.prompt_language == "same" else [ev.prompt_language]
            chosen = named_split(ev, spec)  # a split the user named is used as it is
            wanted = chosen or spec.eval_split
            langs = [x for x in langs if _local_split(spec, [x, *prompt], wanted, ev.data_dir)]
            if not langs:
                say(f"ICL: {task} skipped: no files for {ev.languages} in {ev.data_dir}")
                continue
            split = chosen or _local_split(spec, langs, spec.eval_split, ev.data_dir)
            demo = ev.demo_split or _local_split(spec, prompt or langs, spec.demo_split, ev.data_dir)
            if split != wanted or demo != (ev.demo_split or spec.demo_split):
                say(f"ICL: {task}: {ev.data_dir} has no {wanted}/{spec.demo_split} files for "
                    f"{', '.join(langs)}; evaluating {split} with demonstrations from {demo}")
            one = dataclasses.replace(one, languages=langs, split=split, demo_split=demo)
        runs.append(one)
    return runs


def run_name(run: dict) -> str:
    """The name of one evaluated run (a row of ``results["runs"]``): the key of its predictions, and
    the stem of ``crossalign evaluate``'s ``predictions/<name>.jsonl``."""
    return f"{run['task']}.{run['prompt_language']}-{run['sample_language']}.{run['shots']}shot.seed{run['seed']}"


def compact_predictions(rows: list[dict]) -> dict[str, list]:
    """One run's per-item predictions as columns: ``id``, ``label``, ``pred`` (acc), ``pred_norm``
    (acc_norm), in item order: what pairing two models on the same items needs, without the
    per-choice log-likelihoods."""
    return {"id": [r["id"] for r in rows], "label": [r["label"] for r in rows],
            "pred": [r["pred"] for r in rows], "pred_norm": [r["pred_norm"] for r in rows]}


def run_icl(model, tokenizer, ev, model_name: str, say, context_for=None) -> dict:
    """Every task's evaluation, merged; a task that fails is reported and skipped, not fatal.
    ``context_for`` passes to :func:`crossalign.eval.runner.evaluate` (e.g. per-language steering).
    ``predictions`` holds each run's per-item predictions (:func:`compact_predictions`), keyed by
    the run's name (``task.prompt-sample.kshot.seedN``, as ``crossalign evaluate`` names its files)."""
    merged = {"model": model_name, "runs": [], "summary": [], "skipped": {}, "predictions": {}}
    for one in icl_runs(ev, say):
        try:
            res = evaluate(model, tokenizer, one, model_name=model_name, log=say, context_for=context_for)
        except (ConfigError, InputError) as exc:
            say(f"ICL: {one.tasks[0]} skipped: {exc}")
            merged["skipped"][one.tasks[0]] = str(exc)
            continue
        merged["runs"] += res["runs"]
        merged["summary"] += res["summary"]
        merged["predictions"].update({name: compact_predictions(rows) for name, rows in res["predictions"].items()})
    return merged

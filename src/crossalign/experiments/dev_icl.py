"""Few-shot ICL on a development split (e.g. XCOPA validation), for every saved checkpoint of a run:
what checkpoint and lever selection read, so that the test items are never used to choose.

    dev = dev_icl_stage(cfg, model_path, out, say, extra, train, base_path)   # out/measure_dev_icl; cached

The result holds one entry per scored model (``step``: the checkpoint's step, the final model's
step, or 0 for a base model), each with the ``run_icl`` result (per-item predictions included, so
two runs can be compared item by item), and the mean accuracy over the non-English languages.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import statistics
import time
from pathlib import Path

import torch

from crossalign.experiments.checkpoints import load_checkpoint, saved_checkpoints
from crossalign.experiments.config import ExperimentConfig
from crossalign.io import write_json
from crossalign.model.load import load_model, load_tokenizer
from crossalign.pipeline.cache import fingerprint, is_done, mark_done
from crossalign.pipeline.icl import run_icl


def dev_eval_config(cfg: ExperimentConfig):
    """``cfg.evaluate`` on the dev split: in-language, every item, the dev shots and seeds."""
    d = cfg.dev_icl
    return dataclasses.replace(cfg.evaluate, split=d.split, shots=list(d.shots), seeds=list(d.seeds),
                               prompt_language="same", limit=None, demo_split=None, task_splits=[])


def non_english_mean(icl: dict, shots: int = 0, english: str = "en") -> float | None:
    """Mean accuracy over the non-English languages of the ``shots``-shot runs (seeds averaged first)."""
    by_lang: dict[str, list[float]] = {}
    for r in icl["runs"]:
        if r["shots"] == shots and r["sample_language"] != english:
            by_lang.setdefault(r["sample_language"], []).append(r["metrics"]["acc"])
    if not by_lang:
        return None
    return statistics.fmean(statistics.fmean(v) for v in by_lang.values())


def dev_icl_stage(cfg: ExperimentConfig, model_path: str, out: Path, say, extra_key=None, train=None,
                  base_path: str | None = None) -> dict | None:
    """Score the final model (and, for aligned runs, every other saved checkpoint) on the dev split;
    None when ``cfg.dev_icl.split`` is empty."""
    if not cfg.dev_icl.split:
        return None
    ev = dev_eval_config(cfg)
    folder = out / "measure_dev_icl"
    key = fingerprint("dev_icl", ev, cfg.model, model_path, extra_key)
    if is_done(folder, key):
        say(f"dev ICL: reusing {folder}")
        return json.loads((folder / "icl_dev.json").read_text())
    start = time.perf_counter()
    mcfg = dataclasses.replace(cfg.model, name_or_path=model_path)
    tokenizer = load_tokenizer(mcfg)
    final_step = train.get("steps", 0) if train else 0
    models: list[tuple[int, object]] = [(final_step, None)]
    if train is not None:
        models = [(s, p) for s, p in saved_checkpoints(out / "train") if s != final_step] + models
    result: dict = {"split": ev.split, "tasks": list(ev.tasks), "shots": list(ev.shots), "models": []}
    for step, ckpt in models:
        lm = load_model(mcfg).eval() if ckpt is None else load_checkpoint(cfg, base_path, ckpt)
        say(f"dev ICL: {'step ' + str(step) if step else 'model'} on the {ev.split} split "
            f"({', '.join(ev.tasks)}; shots {ev.shots})")
        with torch.no_grad():
            icl = run_icl(lm, tokenizer, ev, model_path, say)
        del lm
        gc.collect()
        mean = non_english_mean(icl, min(ev.shots))
        result["models"].append({"step": step, "final": step == final_step, "non_en_mean": mean, "icl": icl})
        if mean is not None:
            say(f"dev ICL: step {step}: non-English mean {mean:.3f}")
    torch.set_grad_enabled(True)
    result["seconds"] = round(time.perf_counter() - start, 1)
    write_json(folder / "icl_dev.json", result)
    mark_done(folder, key)
    return result


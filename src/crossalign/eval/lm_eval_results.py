"""Results in lm-evaluation-harness' format, beside our own: ``results_<date>.json`` and, with
predictions, ``samples_<task>_<date>.jsonl``, so that lm-eval's readers (``lm_eval.utils.make_table``,
its results/samples file discovery, the hub dataset card, Zeno) read a crossalign run as one of
theirs.

    write_lm_eval(evaluate(model, tok, cfg, samples=True), "runs/eval", config=to_dict(cfg), samples=True)

The schema is lm-eval 0.4.13's (``lm_eval/result_schema.py``, ``evaluator.py``,
``evaluator_utils.py``, ``loggers/evaluation_tracker.py``), checked field by field against a file
it wrote (``tests/eval/test_lm_eval_results.py``).

**Task names.** A run's task is lm-eval's per-language name (``xcopa_zh``, ``paws_de``,
``xwinograd_jp``); a cross-lingual run appends ``_xl-<prompt language>`` (``xcopa_zh_xl-en``:
Chinese items, English demonstrations and template words). When a run holds several shot counts,
every task also gets ``_<k>shot``; when it holds several demonstration seeds, every few-shot task
gets ``_seed<s>`` (``xcopa_zh_xl-en_5shot_seed1``). A run of one shot count and one seed thus
has exactly lm-eval's names. Languages of one task, setting, shot count and seed form a group named
after the task (``xcopa``, ``xcopa_xl-en_5shot``), aggregated as lm-eval's groups are (mean
weighted by size, pooled standard error).

**Metrics.** ``acc`` is lm-eval's ``acc``; our ``acc_norm`` (log-likelihood per UTF-8 byte of the
continuation) is written as lm-eval's ``acc_bytes``; ``acc_seq`` keeps its name. Each has
lm-eval's standard error of a mean over items (sample standard deviation / sqrt(n); ``"N/A"`` for
one item). Per sample, ``resps`` hold ``[log-likelihood, is_greedy]`` as strings like lm-eval's;
is_greedy is not computed (``"None"``).
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import re
from datetime import datetime
from pathlib import Path

import crossalign
from crossalign.eval.loaders import local_path
from crossalign.io import write_json, write_jsonl

# our metric -> (lm-eval's name, the prediction field of a predictions row)
METRICS = {"acc": ("acc", "pred"), "acc_norm": ("acc_bytes", "pred_norm"), "acc_seq": ("acc_seq", "pred_seq")}
FILTER = "none"  # lm-eval's filter key when no filter applies


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def mean_stderr(values: list[float]) -> float | str:
    """lm-eval's stderr of a mean: sample standard deviation (n - 1) over sqrt(n); N/A below 2."""
    n = len(values)
    if n < 2:
        return "N/A"
    mu = sum(values) / n
    return math.sqrt(sum((x - mu) ** 2 for x in values) / (n - 1)) / math.sqrt(n)


def pooled_stderr(stderrs: list[float], sizes: list[int]) -> float:
    """lm-eval's group stderr for a size-weighted mean (pooled variance over the subtasks)."""
    var = sum((n - 1) * se**2 * n for n, se in zip(sizes, stderrs, strict=True)) / (sum(sizes) - len(sizes))
    return math.sqrt(var / sum(sizes))


def model_info(model, tokenizer, max_length: int | None, *, chat_template: str | None = None) -> dict:
    """What lm-eval records about the model and tokenizer (parameters, dtype, special tokens)."""
    param = next(model.parameters())

    def token(name: str) -> list:
        return [getattr(tokenizer, f"{name}_token", None), str(getattr(tokenizer, f"{name}_token_id", None))]

    return {"num_parameters": sum(p.numel() for p in model.parameters()), "dtype": str(param.dtype),
            "device": str(param.device), "max_length": max_length, "pad": token("pad"), "eos": token("eos"),
            "bos": token("bos"), "eot_token_id": tokenizer.eos_token_id, "chat_template": chat_template}


def _run_name(run: dict) -> str:
    return f"{run['task']}.{run['prompt_language']}-{run['sample_language']}.{run['shots']}shot.seed{run['seed']}"


def task_names(runs: list[dict], specs: dict) -> dict[str, tuple[str, str]]:
    """run name -> (lm-eval task name, group name) for every run (see the module docstring)."""
    several_shots = len({r["shots"] for r in runs}) > 1
    several_seeds = len({r["seed"] for r in runs if r["shots"] > 0}) > 1
    out = {}
    for r in runs:
        tail = "" if r["prompt_language"] == r["sample_language"] else f"_xl-{r['prompt_language']}"
        if several_shots:
            tail += f"_{r['shots']}shot"
        if several_seeds and r["shots"] > 0:
            tail += f"_seed{r['seed']}"
        base = specs[r["task"]].lm_eval_name(r["sample_language"])
        out[_run_name(r)] = (base + tail, r["task"] + tail)
    return out


def _task_config(name: str, run: dict, spec, cfg: dict, n_items: int) -> dict:
    """``configs[task]``: lm-eval's task-config keys, our run's settings under ``metadata``."""
    tpl = spec.template(run["template"], run["sample_language"])
    split_key = "test_split" if run["split"] in spec.test_splits else "validation_split"
    data_dir = cfg.get("data_dir")
    override = dict(d.split("=", 1) for d in cfg.get("datasets") or []).get(spec.name)
    source = {"dataset_path": override or spec.hub.get("path")}
    if data_dir:  # local files win over a hub override, as in the loaders
        files = {run["split"]: str(local_path(spec, run["sample_language"], run["split"], Path(data_dir)))}
        if run["shots"]:
            demo = str(local_path(spec, run["prompt_language"], run["demo_split"], Path(data_dir)))
            files[run["demo_split"] if files.get(run["demo_split"], demo) == demo else "fewshot"] = demo
        source = {"dataset_path": data_dir, "dataset_kwargs": {"data_files": files}}
    metrics = [m for m in METRICS if m in run["metrics"]]
    sep = cfg.get("separator") or tpl.separator
    return {
        "task": name, "tag": [spec.name], **source, "dataset_name": spec.code(run["sample_language"]),
        split_key: run["split"], "fewshot_split": run["demo_split"],
        "doc_to_text": tpl.context if tpl.choices is not None else tpl.contexts,
        "doc_to_target": "label",
        "doc_to_choice": tpl.choices if tpl.choices is not None else tpl.continuation,
        "description": cfg.get("system_instruction") or "",
        "target_delimiter": "", "fewshot_delimiter": sep, "unsafe_code": False,
        "fewshot_config": {"sampler": "default" if run["demo_mode"] == "per_item" else "fixed",
                           "split": run["demo_split"], "fewshot_delimiter": sep, "target_delimiter": ""},
        "num_fewshot": run["shots"],
        "metric_list": [{"metric": METRICS[m][0], "aggregation": "mean", "higher_is_better": True} for m in metrics],
        "output_type": "multiple_choice", "repeats": 1, "should_decontaminate": False,
        "metadata": {"version": spec.version, "crossalign_task": spec.name, "template": run["template"],
                     "prompt_language": run["prompt_language"], "sample_language": run["sample_language"],
                     "setting": run["setting"], "demo_mode": run["demo_mode"], "seed": run["seed"],
                     "n_items": n_items},
    }


def _task_metrics(name: str, run: dict, preds: list[dict]) -> dict:
    entry = {"name": name, "alias": name, "sample_len": len(preds)}
    for m, (lm_name, field) in METRICS.items():
        if m in run["metrics"]:
            entry[f"{lm_name},{FILTER}"] = run["metrics"][m]
            entry[f"{lm_name}_stderr,{FILTER}"] = mean_stderr([float(p[field] == p["label"]) for p in preds])
    return entry


def _group_metrics(name: str, members: list[dict]) -> dict:
    entry = {"alias": name, "name": name, "sample_len": sum(m["sample_len"] for m in members)}
    counts = {}
    for lm_name, _ in METRICS.values():
        key, se_key = f"{lm_name},{FILTER}", f"{lm_name}_stderr,{FILTER}"
        if key not in members[0]:
            continue
        sizes = [m["sample_len"] for m in members]
        entry[key] = sum(m[key] * n for m, n in zip(members, sizes, strict=True)) / sum(sizes)
        stderrs = [m[se_key] for m in members]
        entry[se_key] = "N/A" if "N/A" in stderrs else pooled_stderr(stderrs, sizes)
        counts[key] = sum(sizes)
    entry["sample_count"] = counts
    return entry


def _sample_rows(run: dict, preds: list[dict], items: list[dict], prompts: list) -> list[dict]:
    """lm-eval's per-sample records (``samples_<task>_<date>.jsonl``), one per item."""
    metric_names = [METRICS[m][0] for m in METRICS if m in run["metrics"]]
    rows = []
    for i, (p, item, choices) in enumerate(zip(preds, items, prompts, strict=True)):
        resps = [[str(ll), "None"] for ll in p["ll"]]
        target = str(p["label"])
        row = {
            "doc_id": i, "doc": item, "target": target,
            "arguments": {f"gen_args_{c}": {"arg_0": ctx, "arg_1": cont} for c, (ctx, cont) in enumerate(choices)},
            "resps": [[r] for r in resps], "filtered_resps": resps, "filter": FILTER, "metrics": metric_names,
            "doc_hash": sha256(json.dumps(item, indent=2, ensure_ascii=False, default=str)),
            "prompt_hash": sha256(choices[0][0]), "target_hash": sha256(target),
        }
        for m, (lm_name, field) in METRICS.items():
            if m in run["metrics"]:
                row[lm_name] = float(p[field] == p["label"])
        rows.append(row)
    return rows


def lm_eval_results(results: dict, *, config: dict | None = None, samples: bool = False) -> tuple[dict, dict]:
    """(the ``results_<date>.json`` document, {task: sample rows} or {}) of :func:`evaluate`'s results."""
    cfg = config or {}
    details, runs = results["details"], results["runs"]
    names = task_names(runs, details["specs"])
    doc: dict = {k: {} for k in ("results", "groups", "group_subtasks", "configs", "versions", "n-shot",
                                 "higher_is_better", "n-samples")}
    sample_rows, groups = {}, {}
    for run in runs:
        run_name = _run_name(run)
        name, group = names[run_name]
        spec, preds = details["specs"][run["task"]], results["predictions"][run_name]
        doc["results"][name] = _task_metrics(name, run, preds)
        doc["configs"][name] = _task_config(name, run, spec, cfg, len(preds))
        doc["versions"][name] = spec.version
        doc["n-shot"][name] = run["shots"]
        doc["higher_is_better"][name] = {METRICS[m][0]: True for m in METRICS if m in run["metrics"]}
        doc["n-samples"][name] = {"original": details["n_original"][run_name], "effective": len(preds)}
        groups.setdefault(group, (spec, run, []))[2].append(name)
        if samples:
            sample_rows[name] = _sample_rows(run, preds, details["items"][run_name], details["prompts"][run_name])
    for group, (spec, run, members) in groups.items():
        if len(members) < 2:
            continue
        entry = _group_metrics(group, [doc["results"][m] for m in members])
        doc["results"][group] = doc["groups"][group] = entry
        doc["group_subtasks"][group] = members
        doc["versions"][group] = str(spec.version)
        doc["n-shot"][group] = run["shots"]
        doc["higher_is_better"][group] = dict(doc["higher_is_better"][members[0]])
    if not doc["groups"]:
        del doc["groups"]  # lm-eval writes the key only when a group aggregates
    for key in ("configs", "versions", "n-shot", "higher_is_better"):
        doc[key] = dict(sorted(doc[key].items()))
    doc.update(_run_config(results, cfg, details))
    doc["task_hashes"] = {t: sha256("".join(r["doc_hash"] + r["prompt_hash"] + r["target_hash"] for r in rows))
                          for t, rows in sample_rows.items()}
    doc.update(_tracker_fields(results["model"], cfg, details))
    return doc, sample_rows


def _run_config(results: dict, cfg: dict, details: dict) -> dict:
    info, model_cfg = details["model"], cfg.get("model") or {}
    seeds = cfg.get("seeds") or []
    versions = {"crossalign": crossalign.__version__, "python": platform.python_version()}
    try:
        import torch
        import transformers

        versions.update(torch=torch.__version__, transformers=transformers.__version__)
    except ImportError:  # pragma: no cover
        pass
    return {
        "config": {
            "model": "crossalign", "model_args": {"pretrained": results["model"],
                                                  **{k: v for k, v in model_cfg.items() if k != "name_or_path"}},
            "model_num_parameters": info["num_parameters"], "model_dtype": info["dtype"],
            "model_revision": model_cfg.get("revision"), "model_sha": "",
            "batch_size": cfg.get("batch_size"), "batch_sizes": [], "device": info["device"], "use_cache": None,
            "limit": float(cfg["limit"]) if cfg.get("limit") else None, "bootstrap_iters": 100000,
            "gen_kwargs": {},
            "random_seed": None, "numpy_seed": None, "torch_seed": None,
            "fewshot_seed": seeds[0] if len(seeds) == 1 else None,
        },
        "git_hash": None, "date": details["start_time"],
        "pretty_env_info": "; ".join(f"{k} {v}" for k, v in versions.items()) + f"; {platform.platform()}",
        "transformers_version": versions.get("transformers"), "lm_eval_version": None,
        "crossalign_version": crossalign.__version__, "upper_git_hash": None,
        "tokenizer_pad_token": info["pad"], "tokenizer_eos_token": info["eos"], "tokenizer_bos_token": info["bos"],
        "eot_token_id": info["eot_token_id"], "max_length": info["max_length"],
    }


def _tracker_fields(model_name: str, cfg: dict, details: dict) -> dict:
    """What lm-eval's EvaluationTracker adds (model identity, chat settings, wall time)."""
    system = cfg.get("system_instruction")
    template = details["model"]["chat_template"]
    return {
        "model_source": "crossalign", "model_name": model_name,
        "model_name_sanitized": re.sub(r"[\"<>:/|\\?*\[\]]+", "__", model_name),
        "system_instruction": system, "system_instruction_sha": sha256(system) if system else None,
        "fewshot_as_multiturn": cfg.get("fewshot_as_multiturn") if cfg.get("apply_chat_template") else None,
        "chat_template": template, "chat_template_sha": sha256(template) if template else None,
        "total_evaluation_time_seconds": str(details["end_time"] - details["start_time"]),
    }


def date_id() -> str:
    """lm-eval's file date: local ISO time with ':' replaced, e.g. 2026-11-22T10-04-31.123456."""
    return datetime.now().isoformat().replace(":", "-")


def write_lm_eval(results: dict, out_dir: str | Path, *, config: dict | None = None, samples: bool = False,
                  date: str | None = None) -> Path:
    """Write ``results_<date>.json`` (and ``samples_<task>_<date>.jsonl`` per task) into ``out_dir``;
    returns the results file's path."""
    out, date = Path(out_dir), date or date_id()
    doc, rows = lm_eval_results(results, config=config, samples=samples)
    written = [out / f"samples_{task}_{date}.jsonl" for task in rows]
    for path, task_rows in zip(written, rows.values(), strict=True):
        write_jsonl(path, task_rows)
    write_json(out / f"results_{date}.json", doc)
    written.append(out / f"results_{date}.json")
    # One folder holds one run: this run replaces results.json, so the lm-eval files of an earlier
    # run into the same folder go too (lm-eval's readers would otherwise list both runs).
    for old in [*out.glob("results_*.json"), *out.glob("samples_*.jsonl")]:
        if old not in written:
            old.unlink()
    return out / f"results_{date}.json"

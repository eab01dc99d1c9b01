"""One experiment of the study: (train,) measure, write ``results.json``.

    results = run_experiment(cfg, Path("runs/study"), say=print)

Stages, each cached like the quickstart's (a ``done.json`` with the fingerprint of what the
stage depends on, written last):

- data: the alignment pairs read, cleaned and split into train / dev (held-out pairs per
  language, never trained on), and translation-mode instruction samples; shared by every
  experiment with the same data settings (``<root>/data/<fingerprint>``);
- train (aligned runs): :func:`crossalign.train.wiring.build_run` on those samples; ``layer:
  auto`` is resolved on held-out *training* samples and dev retrieval is logged while training;
- measure: Tatoeba retrieval at every layer and pooling (test), projections (PCA) at every
  layer, and few-shot ICL once per prompt setting, on the final model only (skipped for a
  lever candidate not selected: ``test=False``);
- dev: Tatoeba dev retrieval, and ICL on a development split (``dev_icl``), for the final model
  and every saved checkpoint: what layer, checkpoint and lever selection read.

``results.json`` holds every number the report uses, plus the configuration and the compute
(wall time per stage, device, tokens the alignment consumed).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from crossalign.errors import ConfigError
from crossalign.experiments.config import ExperimentConfig
from crossalign.experiments.dev_icl import dev_icl_stage
from crossalign.experiments.language_alignment import alignment_stage
from crossalign.experiments.measure import device_name, measure_stage
from crossalign.experiments.steer import steer_stage
from crossalign.experiments.tatoeba import best_dev_layer, dev_stage
from crossalign.io import write_json
from crossalign.options import save_config, to_dict
from crossalign.pipeline.cache import fingerprint
from crossalign.pipeline.data import data_stage
from crossalign.pipeline.model import model_stage
from crossalign.pipeline.training import training_stage

RESULTS_FORMAT = "crossalign.experiment/1"


def shared_data(cfg: ExperimentConfig, root: Path, say) -> tuple[Path, dict]:
    """The data folder of ``cfg.data`` (``train_pairs``, ``heldout_pairs``, ``samples``), shared by
    every experiment with the same data settings."""
    folder = root / "data" / fingerprint(cfg.data) / "data"
    return folder, data_stage(cfg.data, folder, say)


def train_experiment(cfg: ExperimentConfig, model_path: str, data_dir: Path, out: Path, say) -> dict:
    """The training stage of an aligned run, on the shared data; its info adds the compute spent."""
    t = dataclasses.replace(cfg.train)
    t.model = dataclasses.replace(cfg.model, name_or_path=model_path)
    t.data = dataclasses.replace(t.data, train_file=str(data_dir / "samples.jsonl"))
    t.training = dataclasses.replace(t.training, output_dir=str(out / "train"))

    def describe(run) -> dict:
        args = run.trainer.args
        samples_seen = (run.trainer.state.global_step * args.per_device_train_batch_size
                        * args.gradient_accumulation_steps * args.world_size)
        tokens_per_sample = _mean_tokens(run.trainer.train_dataset)
        return {
            "samples_seen": samples_seen, "tokens_per_sample": round(tokens_per_sample, 2),
            "tokens": round(samples_seen * tokens_per_sample),
            "layer_scores": {str(k): v for k, v in (run.layer_scores or {}).items()} or None,
            "data_counts": run.counts, "log": run.trainer.state.log_history, "device": device_name(),
            "heldout_retrieval_before": run.heldout_before, "heldout_retrieval_after": run.heldout_after,
        }

    return training_stage(t, say, describe)


def _mean_tokens(dataset) -> float:
    """Mean tokens of one training sample as trained: both sentences of its pair (+ hard negative)
    and its instruction sequence."""
    items = getattr(dataset, "items", None) or [dataset[i] for i in range(len(dataset))]
    total = sum(len(it.get("src", ())) + len(it.get("tgt", ())) + len(it.get("neg", ())) + len(it.get("clm_ids", ()))
                for it in items)
    return total / max(len(items), 1)


def with_base_dev_layer(cfg: ExperimentConfig, root: Path, say) -> ExperimentConfig:
    """``cfg`` with ``train.contrastive.layer`` set to the baseline's best layer on the Tatoeba dev split."""

    path = root / cfg.baseline / "results.json"
    dev = json.loads(path.read_text()).get("tatoeba_dev") if path.is_file() else None
    if not dev:
        raise ConfigError(f"{cfg.name}: layer_from base_dev needs the Tatoeba dev scores of {cfg.baseline} "
                          f"({path}); run the baseline first")
    if cfg.steered:
        if cfg.steer.layers:
            return cfg
        # A steered layer is the input of a decoder block: the top state (after the final norm) is not one.
        top = max(int(k) for k in dev["by_pooling"]["mean"])
        inner = {**dev, "by_pooling": {"mean": {k: v for k, v in dev["by_pooling"]["mean"].items() if int(k) < top}}}
        layer, score = best_dev_layer(inner, "mean")
        say(f"steered layer from {cfg.baseline}'s Tatoeba dev split (mean pooling, below the top): layer {layer} "
            f"({score:.3f})")
        return dataclasses.replace(cfg, steer=dataclasses.replace(cfg.steer, layers=[layer]))
    pooling = cfg.train.contrastive.pooling
    layer, score = best_dev_layer(dev, pooling)
    say(f"layer from {cfg.baseline}'s Tatoeba dev split ({pooling} pooling): layer {layer} ({score:.3f})")
    contrastive = dataclasses.replace(cfg.train.contrastive, layer=layer)
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, contrastive=contrastive))


def run_experiment(cfg: ExperimentConfig, root: Path, say=print, test: bool = True) -> dict:
    """Run (or reuse) every stage of ``cfg`` under ``root/cfg.name``; returns and writes the results.
    ``test=False``: training and the dev splits only (a lever candidate, not yet selected)."""
    out = root / cfg.name
    save_config(cfg, out)
    tag = lambda m: say(f"[{cfg.name}] {m}")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    model_path = model_stage(cfg.model, tag)
    timings["model_s"] = round(time.perf_counter() - start, 1)
    train = None
    if cfg.compared and cfg.layer_from == "base_dev":
        cfg = with_base_dev_layer(cfg, root, tag)
    if cfg.align:
        start = time.perf_counter()
        data_dir, data_info = shared_data(cfg, root, tag)
        timings["data_s"] = round(time.perf_counter() - start, 1)
        train = train_experiment(cfg, model_path, data_dir, out, tag)
        timings["train_s"] = train["seconds"]
        measured_path, extra = train["model"], train["fingerprint"]
    else:
        data_info, measured_path, extra = None, model_path, None
    if cfg.steered:
        # A training-free baseline: the baseline's model, steered while ICL is scored (no Tatoeba).
        measure = steer_stage(cfg, measured_path, out, tag)
    elif test:
        measure = measure_stage(cfg, measured_path, out, tag, extra)
    else:
        tag("measured on the dev splits only (a lever candidate; measured on test only if selected)")
        measure = None
    if measure:
        timings.update(measure["timings"])
    alignment = None if cfg.steered or not test else alignment_stage(cfg, measured_path, out, tag, extra)
    if alignment:
        timings["language_alignment_s"] = alignment["seconds"]
    dev = None
    if cfg.tatoeba.dev_pairs > 0 and not cfg.steered:
        dev = dev_stage(cfg, measured_path, out, tag, extra, train, model_path)
        timings["tatoeba_dev_s"] = dev["seconds"]
    dev_icl = None if cfg.steered else dev_icl_stage(cfg, measured_path, out, tag, extra, train, model_path)
    if dev_icl:
        timings["dev_icl_s"] = dev_icl["seconds"]
    folder = out / "measure"
    results = {
        "format": RESULTS_FORMAT,
        "name": cfg.name, "group": cfg.group, "description": cfg.description, "baseline": cfg.baseline,
        "model": cfg.model.name_or_path, "align": cfg.align,
        "layer": train["layer"] if train else None,
        "pooling": cfg.train.contrastive.pooling if train else None,
        "pretraining_tokens": cfg.pretraining_tokens,
        "train": {k: v for k, v in train.items() if k != "fingerprint"} if train else None,
        "data": data_info,
        "tested": measure is not None,
        "tatoeba": json.loads((folder / "tatoeba.json").read_text()) if measure and not cfg.steered else None,
        "steer": json.loads((folder / "steering.json").read_text()) if cfg.steered else None,
        "language_alignment": alignment,
        "tatoeba_dev": dev,
        "dev_icl": dev_icl,
        "replica_of": cfg.replica_of,
        "layer_from": cfg.layer_from,
        "icl": json.loads((folder / "icl.json").read_text()) if measure else None,
        "timings": timings,
        "device": measure["device"] if measure else device_name(),
        "config": to_dict(cfg),
    }
    write_json(out / "results.json", results)
    return results

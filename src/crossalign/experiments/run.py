"""One experiment of the study: (train,) measure, write ``results.json``.

    results = run_experiment(cfg, Path("runs/study"), say=print)

Stages, each cached like the quickstart's (a ``done.json`` with the fingerprint of what the
stage depends on, written last):

- data: the alignment pairs read, cleaned and split into train / dev (held-out pairs per
  language, never trained on), and translation-mode instruction samples; shared by every
  experiment with the same data settings (``<root>/data/<fingerprint>``);
- train (aligned runs): :func:`crossalign.train.run.build_run` on those samples; ``layer:
  auto`` is resolved on held-out *training* samples and dev retrieval is logged while training;
- measure: Tatoeba retrieval at every layer and pooling (test), projections (PCA) at every
  layer, and few-shot ICL once per prompt setting, on the final model only.

``results.json`` holds every number the report uses, plus the configuration and the compute
(wall time per stage, device, tokens the alignment consumed).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import platform
import time
from pathlib import Path

from crossalign.config import save_config, to_dict
from crossalign.experiments.config import ExperimentConfig
from crossalign.io import write_json
from crossalign.quickstart.stages import fingerprint, is_done, mark_done, model_stage

RESULTS_FORMAT = "crossalign.experiment/1"


def data_stage(cfg: ExperimentConfig, root: Path, say) -> tuple[Path, dict]:
    """The shared data folder of ``cfg.data`` (``train_pairs``, ``heldout_pairs``, ``samples``)."""
    from crossalign.quickstart.stages import data_stage as build

    key = fingerprint(cfg.data)
    base = root / "data" / key
    info = build(cfg, base, say)  # writes base/data/...
    return base / "data", info


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def train_stage(cfg: ExperimentConfig, model_path: str, data_dir: Path, out: Path, say) -> dict:
    from crossalign.quickstart.stages import training_stage

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


def tatoeba_pairs(cfg: ExperimentConfig, split: str = "test") -> dict[str, tuple[list[str], list[str]]]:
    """``{lang: (English sentences, lang sentences)}`` of the Tatoeba ``test`` or ``dev`` split: the dev
    split is the last ``dev_pairs`` pairs of each language, the test set the first ``pairs`` (default:
    every pair before the dev split); the two never share a pair."""
    from crossalign.analysis.inputs import group_by_language
    from crossalign.data.sources import PairsSpec, read_pairs
    from crossalign.errors import ConfigError

    t = cfg.tatoeba
    prefixes = [str(Path(t.data_dir) / f"tatoeba.{code}-eng") for code in t.languages]
    grouped = group_by_language(read_pairs(PairsSpec(paths=prefixes)), pivot="en")
    out = {}
    for lang, (eng, other) in grouped.items():
        n = len(eng) - t.dev_pairs
        if n < 2:
            raise ConfigError(f"tatoeba: {lang} has {len(eng)} pairs: too few for a dev split of {t.dev_pairs}")
        if t.pairs is not None and t.pairs > n:
            raise ConfigError(f"tatoeba: pairs {t.pairs} would overlap the dev split of {lang} "
                              f"({len(eng)} pairs, the last {t.dev_pairs} are dev)")
        if split == "dev":
            out[lang] = (eng[n:], other[n:])
        else:
            k = n if t.pairs is None else t.pairs
            out[lang] = (eng[:k], other[:k])
    return out


def _test_key(t) -> dict:
    """What the test measurement depends on: ``dev_pairs`` only where it bounds the test set."""
    d = to_dict(t)
    if t.pairs is not None:
        d.pop("dev_pairs")
    return d


def dev_retrieval(model, tokenizer, pairs: dict, layers: list[int], pooling: str, t) -> dict[int, dict[str, float]]:
    """``{layer: {lang: top-1 retrieval (mean of both directions)}}`` on ``pairs``."""
    from crossalign.train.monitor import retrieval_by_layer

    out: dict[int, dict[str, float]] = {layer: {} for layer in layers}
    for lang, (eng, other) in pairs.items():
        scores = retrieval_by_layer(model, tokenizer, other, eng, layers, pooling, False, t.batch_size, t.max_length)
        for layer in layers:
            out[layer][lang] = round(scores[layer], 6)
    return out


def _load_checkpoint(cfg: ExperimentConfig, base_path: str, checkpoint: Path):
    """The base model with a trainer checkpoint's weights (LoRA adapter or full weights) in place."""
    from crossalign.model.adapt import add_lora
    from crossalign.model.load import load_model
    from crossalign.train.checkpoint import load_lm_weights

    lm = load_model(dataclasses.replace(cfg.model, name_or_path=base_path))
    lo = cfg.train.lora
    if lo.enabled:
        lm = add_lora(lm, lo.r, lo.alpha, lo.dropout, lo.target_modules)
    load_lm_weights(lm, checkpoint)
    return lm.eval()


def dev_stage(cfg: ExperimentConfig, model_path: str, out: Path, say, extra_key=None, train=None,
              base_path: str | None = None) -> dict:
    """Tatoeba dev retrieval at every layer and pooling of the measured model; for aligned runs also
    at the aligned layer of every saved checkpoint (what checkpoint selection may read)."""
    import torch

    from crossalign.model.layers import num_layers
    from crossalign.model.load import load_model, load_tokenizer

    t = cfg.tatoeba
    folder = out / "measure_dev"
    key = fingerprint(t, cfg.model, model_path, extra_key)
    done = is_done(folder, key)
    if done:
        say(f"dev: reusing {folder}")
        return json.loads((folder / "tatoeba_dev.json").read_text())
    start = time.perf_counter()
    pairs = tatoeba_pairs(cfg, "dev")
    say(f"dev: Tatoeba dev split ({len(pairs)} languages x {t.dev_pairs} pairs) at every layer")
    mcfg = dataclasses.replace(cfg.model, name_or_path=model_path)
    tokenizer, model = load_tokenizer(mcfg), load_model(mcfg).eval()
    layers = list(range(num_layers(model) + 1))
    result: dict = {"pairs": t.dev_pairs, "languages": list(pairs), "by_pooling": {}, "checkpoints": []}
    # Base models: every pooling (what layer_from: base_dev reads); aligned runs: the pooling they align.
    poolings = list(t.poolings) if train is None else [train["pooling"]]
    with torch.no_grad():
        for pooling in poolings:
            result["by_pooling"][pooling] = dev_retrieval(model, tokenizer, pairs, layers, pooling, t)
        del model
        if train is not None:
            layer, pooling = train["layer"], train["pooling"]
            checkpoints = sorted((int(p.name.rsplit("-", 1)[-1]), p) for p in (out / "train").glob("checkpoint-*"))
            for step, ckpt in checkpoints:
                if step == train.get("steps"):  # the final model: scored above
                    scores = result["by_pooling"][pooling][layer]
                else:
                    lm = _load_checkpoint(cfg, base_path, ckpt)
                    scores = dev_retrieval(lm, tokenizer, pairs, [layer], pooling, t)[layer]
                    del lm
                result["checkpoints"].append({"step": step, "layer": layer, "pooling": pooling, "by_language": scores})
                say(f"dev: checkpoint {step}: layer {layer} {pooling} "
                    f"{sum(scores.values()) / len(scores):.3f}")
                gc.collect()
    result["seconds"] = round(time.perf_counter() - start, 1)
    write_json(folder / "tatoeba_dev.json", result)
    mark_done(folder, key)
    gc.collect()
    return result


def dev_mean(dev: dict, layer: int, pooling: str) -> float:
    """Mean over the languages of the dev retrieval at ``layer`` (a ``tatoeba_dev`` result)."""
    scores = dev["by_pooling"][pooling][str(layer)]
    return sum(scores.values()) / len(scores)


def best_dev_layer(dev: dict, pooling: str) -> tuple[int, float]:
    """The layer (1..n) with the best mean dev retrieval for ``pooling``; ties go to the lower layer."""
    means = {int(k): dev_mean(dev, k, pooling) for k in dev["by_pooling"][pooling] if int(k) >= 1}
    best = max(means, key=lambda layer: (means[layer], -layer))
    return best, means[best]


def icl_stage(model, tokenizer, cfg: ExperimentConfig, model_name: str, say) -> dict:
    """Every ICL setting (in-language, cross-lingual), merged; English only once."""
    from crossalign.quickstart.stages import run_icl

    merged = {"runs": [], "summary": [], "skipped": {}}
    for setting in cfg.settings:
        ev = dataclasses.replace(cfg.evaluate, prompt_language=setting)
        if setting == "same" and cfg.in_language_shots is not None:
            ev.shots = list(cfg.in_language_shots)
        if setting != "same" and cfg.cross_lingual_languages:
            ev.languages = list(cfg.cross_lingual_languages)
        if setting != "same":
            # English items with English demonstrations are the in-language setting's already.
            ev.languages = [x for x in ev.languages if x != setting]
        say(f"ICL ({'in-language' if setting == 'same' else f'{setting} demonstrations'}): "
            f"{', '.join(ev.tasks)}; shots {ev.shots}; seeds {ev.seeds}; limit {ev.limit}")
        res = run_icl(model, tokenizer, ev, model_name, say)
        if setting != "same":
            res["runs"] = [r for r in res["runs"] if r["sample_language"] != setting]
            res["summary"] = [r for r in res["summary"] if r["sample_language"] != setting]
        merged["runs"] += res["runs"]
        merged["summary"] += res["summary"]
        merged["skipped"].update({f"{k} ({setting})": v for k, v in res["skipped"].items()})
    return merged


def measure_stage(cfg: ExperimentConfig, model_path: str, out: Path, say, extra_key=None) -> dict:
    import torch

    from crossalign.analysis.runner import analyze_model
    from crossalign.model.load import load_model, load_tokenizer

    folder = out / "measure"
    key = fingerprint(_test_key(cfg.tatoeba), cfg.evaluate, cfg.settings, cfg.in_language_shots,
                      cfg.cross_lingual_languages, cfg.model, model_path, extra_key)
    done = is_done(folder, key)
    if done:
        say(f"measure: reusing {folder}")
        return done
    mcfg = dataclasses.replace(cfg.model, name_or_path=model_path)
    tokenizer, model = load_tokenizer(mcfg), load_model(mcfg)
    t = cfg.tatoeba
    start = time.perf_counter()
    pairs = tatoeba_pairs(cfg)
    say(f"measure: Tatoeba retrieval at every layer ({len(pairs)} languages x "
        f"{min(len(v[0]) for v in pairs.values())}+ pairs; poolings {', '.join(t.poolings)})")
    analysis = analyze_model(
        model, tokenizer, pairs, layers="all", pooling=list(t.poolings), include_special=False,
        batch_size=t.batch_size, max_length=t.max_length, pivot="en", projection_layers="all",
        projection_pooling="mean", projection_methods=("pca",), progress=False, separability=("silhouette",),
    )
    write_json(folder / "tatoeba.json", analysis)
    timings = {"tatoeba_s": round(time.perf_counter() - start, 1)}
    start = time.perf_counter()
    icl = icl_stage(model, tokenizer, cfg, model_path, say)
    write_json(folder / "icl.json", icl)
    timings["icl_s"] = round(time.perf_counter() - start, 1)
    del model
    gc.collect()
    torch.set_grad_enabled(True)
    return mark_done(folder, key, timings=timings, device=device_name())


def with_base_dev_layer(cfg: ExperimentConfig, root: Path, say) -> ExperimentConfig:
    """``cfg`` with ``train.contrastive.layer`` set to the baseline's best layer on the Tatoeba dev split."""
    from crossalign.errors import ConfigError

    path = root / cfg.baseline / "results.json"
    dev = json.loads(path.read_text()).get("tatoeba_dev") if path.is_file() else None
    if not dev:
        raise ConfigError(f"{cfg.name}: layer_from base_dev needs the Tatoeba dev scores of {cfg.baseline} "
                          f"({path}); run the baseline first")
    pooling = cfg.train.contrastive.pooling
    layer, score = best_dev_layer(dev, pooling)
    say(f"layer from {cfg.baseline}'s Tatoeba dev split ({pooling} pooling): layer {layer} ({score:.3f})")
    contrastive = dataclasses.replace(cfg.train.contrastive, layer=layer)
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, contrastive=contrastive))


def run_experiment(cfg: ExperimentConfig, root: Path, say=print) -> dict:
    """Run (or reuse) every stage of ``cfg`` under ``root/cfg.name``; returns and writes the results."""
    out = root / cfg.name
    save_config(cfg, out)
    tag = lambda m: say(f"[{cfg.name}] {m}")
    timings: dict[str, float] = {}
    start = time.perf_counter()
    model_path = model_stage(cfg, tag)
    timings["model_s"] = round(time.perf_counter() - start, 1)
    train = None
    if cfg.align and cfg.layer_from == "base_dev":
        cfg = with_base_dev_layer(cfg, root, tag)
    if cfg.align:
        start = time.perf_counter()
        data_dir, data_info = data_stage(cfg, root, tag)
        timings["data_s"] = round(time.perf_counter() - start, 1)
        train = train_stage(cfg, model_path, data_dir, out, tag)
        timings["train_s"] = train["seconds"]
        measured_path, extra = train["model"], train["fingerprint"]
    else:
        data_info, measured_path, extra = None, model_path, None
    measure = measure_stage(cfg, measured_path, out, tag, extra)
    timings.update(measure["timings"])
    dev = None
    if cfg.tatoeba.dev_pairs > 0:
        dev = dev_stage(cfg, measured_path, out, tag, extra, train, model_path)
        timings["tatoeba_dev_s"] = dev["seconds"]
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
        "tatoeba": json.loads((folder / "tatoeba.json").read_text()),
        "tatoeba_dev": dev,
        "replica_of": cfg.replica_of,
        "layer_from": cfg.layer_from,
        "icl": json.loads((folder / "icl.json").read_text()),
        "timings": timings,
        "device": measure["device"],
        "config": to_dict(cfg),
    }
    write_json(out / "results.json", results)
    return results

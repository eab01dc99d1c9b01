"""The study's measurement of a final model: Tatoeba retrieval at every layer and pooling (test
split), PCA projections at every layer, and few-shot ICL once per prompt setting.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import platform
import time
from pathlib import Path

import torch

from crossalign.analysis.runner import analyze_model
from crossalign.experiments.config import ExperimentConfig
from crossalign.experiments.tatoeba import tatoeba_pairs, test_key
from crossalign.io import write_json
from crossalign.model.load import load_model, load_tokenizer
from crossalign.pipeline.cache import fingerprint, is_done, mark_done
from crossalign.pipeline.icl import run_icl, run_name


def device_name() -> str:

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({cpu_model()}, {torch.get_num_threads()} threads)"


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else the architecture: float kernels, and so run times,
    differ between CPU kinds (AMD EPYC and Intel Xeon here), which the compute table should show."""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def icl_stage(model, tokenizer, cfg: ExperimentConfig, model_name: str, say) -> dict:
    """Every ICL setting (in-language, cross-lingual), merged; English only once."""
    merged = {"runs": [], "summary": [], "skipped": {}, "predictions": {}}
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
            kept = {run_name(r) for r in res["runs"]}
            res["predictions"] = {k: v for k, v in res["predictions"].items() if k in kept}
        merged["predictions"].update(res["predictions"])
        merged["runs"] += res["runs"]
        merged["summary"] += res["summary"]
        merged["skipped"].update({f"{k} ({setting})": v for k, v in res["skipped"].items()})
    return merged


def measure_stage(cfg: ExperimentConfig, model_path: str, out: Path, say, extra_key=None) -> dict:
    """Tatoeba at every layer and ICL of the model at ``model_path`` into ``out/measure``; cached."""
    folder = out / "measure"
    key = fingerprint(test_key(cfg.tatoeba), cfg.evaluate, cfg.settings, cfg.in_language_shots,
                      cfg.cross_lingual_languages, cfg.model, model_path, extra_key)
    done = is_done(folder, key)
    if done and "predictions" in json.loads((folder / "icl.json").read_text()):
        say(f"measure: reusing {folder}")
        return done
    mcfg = dataclasses.replace(cfg.model, name_or_path=model_path)
    if done:
        # Measured before the ICL stage kept per-item predictions: only the ICL part is re-run
        # (deterministic: the same accuracies), so that the report can pair the items.
        say(f"measure: {folder} has no per-item ICL predictions (an older run): re-running ICL only")
        tokenizer, model = load_tokenizer(mcfg), load_model(mcfg)
        start = time.perf_counter()
        icl = icl_stage(model, tokenizer, cfg, model_path, say)
        old = json.loads((folder / "icl.json").read_text())
        if [r["metrics"] for r in old["runs"]] != [r["metrics"] for r in icl["runs"]]:
            say("measure: warning: the re-run ICL accuracies differ from the stored ones; the new ones are kept")
        write_json(folder / "icl.json", icl)
        # The original ICL time is kept (the compute table reports what the measurement cost).
        timings = {**done["timings"], "icl_rerun_s": round(time.perf_counter() - start, 1)}
        del model
        gc.collect()
        torch.set_grad_enabled(True)
        return mark_done(folder, key, timings=timings, device=done["device"])
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

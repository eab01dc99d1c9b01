"""The measurement of a training-free baseline: the baseline model, steered per language while ICL
items are scored (:mod:`crossalign.model.steering`), in the in-language setting.

    info = steer_stage(cfg, model_path, out, say)    # out/measure: icl.json, steering.json; cached

The maps are fitted on the XCOPA validation split's items and their English translations
(development data; ``cfg.steer``), one per language and layer, on the unsteered model; each
language's ICL runs are scored with that language's maps in place. English, having no map, is
not scored (it is the baseline's own figure).
"""

from __future__ import annotations

import dataclasses
import gc
import time
from pathlib import Path

import torch

from crossalign.errors import ConfigError
from crossalign.experiments.config import ExperimentConfig
from crossalign.experiments.measure import device_name
from crossalign.experiments.parallel_items import available_languages, xcopa_pairs
from crossalign.io import write_json
from crossalign.model.load import load_model, load_tokenizer
from crossalign.model.steering import fit_steering, language_context
from crossalign.pipeline.cache import fingerprint, is_done, mark_done
from crossalign.pipeline.icl import run_icl


def steer_languages(cfg: ExperimentConfig) -> list[str]:
    """The non-English languages scored: those asked for (all the task's when none) with fitting data."""
    data_dir = cfg.evaluate.data_dir
    if not data_dir:
        raise ConfigError(f"{cfg.name}: steering fits on local XCOPA files: set evaluate.data_dir")
    have = available_languages(data_dir, cfg.steer.split)
    asked = [x for x in cfg.evaluate.languages if x != "en"] or have
    missing = [x for x in asked if x not in have]
    if missing:
        raise ConfigError(f"{cfg.name}: no XCOPA {cfg.steer.split} files with English translations for {missing} "
                          f"in {data_dir} (have: {have})")
    return asked


def steer_stage(cfg: ExperimentConfig, model_path: str, out: Path, say) -> dict:
    """Fit the maps, score ICL steered, write ``icl.json`` and ``steering.json`` into ``out/measure``."""
    folder = out / "measure"
    s = cfg.steer
    langs = steer_languages(cfg)
    key = fingerprint("steer", cfg.evaluate, cfg.in_language_shots, cfg.model, model_path, s, langs)
    done = is_done(folder, key)
    if done:
        say(f"steer: reusing {folder}")
        return done
    mcfg = dataclasses.replace(cfg.model, name_or_path=model_path)
    tokenizer, model = load_tokenizer(mcfg), load_model(mcfg).eval()
    start = time.perf_counter()
    pairs = {x: xcopa_pairs(cfg.evaluate.data_dir, x, s.split, s.fields) for x in langs}
    say(f"steer: fitting {s.method} at layer(s) {s.layers} on XCOPA {s.split} "
        f"({', '.join(f'{x} {len(p[0])}' for x, p in pairs.items())} pairs)")
    steering = fit_steering(model, tokenizer, pairs, s.layers, s.method, strength=s.strength, ridge=s.ridge,
                            max_length=s.max_length)
    fit_s = round(time.perf_counter() - start, 1)
    norms = {x: {str(layer): _size(steering, x, layer) for layer in steering.layers} for x in langs}
    write_json(folder / "steering.json", {"method": s.method, "layers": steering.layers, "strength": s.strength,
                                          "fit": steering.fit, "languages": langs, "size": norms,
                                          "fit_seconds": fit_s})
    start = time.perf_counter()
    ev = dataclasses.replace(cfg.evaluate, prompt_language="same", languages=langs)
    if cfg.in_language_shots is not None:
        ev.shots = list(cfg.in_language_shots)
    say(f"steer: ICL in-language, each of {', '.join(langs)} steered with its map ({', '.join(ev.tasks)}; "
        f"shots {ev.shots})")
    with torch.no_grad():
        merged = run_icl(model, tokenizer, ev, model_path, say, context_for=language_context(model, steering))
    write_json(folder / "icl.json", merged)
    timings = {"steer_fit_s": fit_s, "icl_s": round(time.perf_counter() - start, 1)}
    del model
    gc.collect()
    torch.set_grad_enabled(True)
    return mark_done(folder, key, timings=timings, device=device_name())


def _size(steering, lang: str, layer: int) -> float:
    """How far the map moves the language's mean: |mu_en - mu_lang| (the same for both methods)."""
    m = steering.maps[lang][layer]
    shift = m["shift"] if "shift" in m else m["mean_tgt"] - m["mean_src"]
    return round(float(shift.norm()), 4)

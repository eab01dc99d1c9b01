"""Tatoeba retrieval for the study: the test and dev splits, and the dev stage.

    pairs = tatoeba_pairs(cfg, "dev")            # {lang: (English, lang)}: the last dev_pairs pairs
    dev = dev_stage(cfg, model_path, out, say)   # dev retrieval at every layer (+ every checkpoint)

The dev split (the last ``dev_pairs`` pairs of each language) is never tested; it picks layers
(``layer_from: base_dev``) and scores checkpoints.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import time
from pathlib import Path

import torch

from crossalign.analysis.inputs import group_by_language
from crossalign.data.sources import PairsSpec, read_pairs
from crossalign.errors import ConfigError
from crossalign.experiments.checkpoints import load_checkpoint, saved_checkpoints
from crossalign.experiments.config import ExperimentConfig
from crossalign.io import write_json
from crossalign.model.encode import retrieval_by_layer
from crossalign.model.layers import num_layers
from crossalign.model.load import load_model, load_tokenizer
from crossalign.options import to_dict
from crossalign.pipeline.cache import fingerprint, is_done, mark_done
from crossalign.retrieval import peak_layer


def tatoeba_pairs(cfg: ExperimentConfig, split: str = "test") -> dict[str, tuple[list[str], list[str]]]:
    """``{lang: (English sentences, lang sentences)}`` of the Tatoeba ``test`` or ``dev`` split: the dev
    split is the last ``dev_pairs`` pairs of each language, the test set the first ``pairs`` (default:
    every pair before the dev split); the two never share a pair."""

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


def test_key(t) -> dict:
    """What the test measurement depends on: ``dev_pairs`` only where it bounds the test set."""
    d = to_dict(t)
    if t.pairs is not None:
        d.pop("dev_pairs")
    return d


def dev_retrieval(model, tokenizer, pairs: dict, layers: list[int], pooling: str, t) -> dict[int, dict[str, float]]:
    """``{layer: {lang: top-1 retrieval (mean of both directions)}}`` on ``pairs``."""

    out: dict[int, dict[str, float]] = {layer: {} for layer in layers}
    for lang, (eng, other) in pairs.items():
        scores = retrieval_by_layer(model, tokenizer, other, eng, layers, pooling, False, t.batch_size, t.max_length)
        for layer in layers:
            out[layer][lang] = round(scores[layer], 6)
    return out


def dev_stage(cfg: ExperimentConfig, model_path: str, out: Path, say, extra_key=None, train=None,
              base_path: str | None = None) -> dict:
    """Tatoeba dev retrieval at every layer and pooling of the measured model; for aligned runs also
    at the aligned layer of every saved checkpoint (what checkpoint selection may read)."""


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
            for step, ckpt in saved_checkpoints(out / "train"):
                if step == train.get("steps"):  # the final model: scored above
                    scores = result["by_pooling"][pooling][layer]
                else:
                    lm = load_checkpoint(cfg, base_path, ckpt)
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
    """The layer (1..n) with the best mean dev retrieval for ``pooling`` (:func:`peak_layer`), and that mean."""
    means = {int(k): dev_mean(dev, k, pooling) for k in dev["by_pooling"][pooling]}
    best = peak_layer(means)
    return best, means[best]

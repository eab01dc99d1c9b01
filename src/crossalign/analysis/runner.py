"""Per-layer analysis of a model on parallel sentences, and the layer where alignment is best.

    results = analyze_model(model, tok, {"de": (eng, deu), "fr": (eng2, fra)}, layers="all")
    layer, pooling = recommend_layer(results)          # what training's ``layer: auto`` uses
    results["per_layer"]["mean"]["11"]["summary"]["retrieval"]

Representations are encoded once (:mod:`crossalign.analysis.representations`), then each
layer is loaded on its own and measured: bitext retrieval (both directions, cosine and
margin, blockwise), alignment and uniformity, the cosine of translations against other
pairs, and language separability. ``results`` is plain JSON-ready data: layer keys are
strings, so a dict read back from ``analysis.json`` works with :func:`recommend_layer` too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from crossalign.analysis.metrics import (
    alignment,
    as_tensor,
    language_separability,
    pair_vs_random_cosine,
    uniformity,
)
from crossalign.analysis.projection import PROJECTION_METHODS, projection_at
from crossalign.analysis.representations import PairsByLang, Representations, encode_pairs
from crossalign.analysis.retrieval import retrieval_scores
from crossalign.model.layers import num_layers, resolve_layer

logger = logging.getLogger(__name__)

# Summary metrics: name -> (higher is better?, description). Plots and reports follow this order.
SUMMARY_METRICS: dict[str, tuple[bool, str]] = {
    "retrieval": (True, "bitext retrieval top-1, cosine, mean of both directions"),
    "retrieval_margin": (True, "bitext retrieval top-1, ratio margin, mean of both directions"),
    "to_pivot": (True, "retrieval top-1, cosine, xx -> pivot"),
    "from_pivot": (True, "retrieval top-1, cosine, pivot -> xx"),
    "to_pivot_margin": (True, "retrieval top-1, margin, xx -> pivot"),
    "from_pivot_margin": (True, "retrieval top-1, margin, pivot -> xx"),
    "alignment": (False, "alignment: mean squared distance of translations (unit vectors)"),
    "uniformity": (False, "uniformity: log mean Gaussian potential, t=2"),
    "cosine_gap": (True, "mean cosine of translations minus that of other pairs"),
    "pair_cosine": (True, "mean cosine of translations"),
    "random_cosine": (False, "mean cosine of non-translation pairs"),
    "probe_accuracy": (False, "language-ID probe accuracy (cross-validated)"),
    "silhouette": (False, "silhouette of language clusters (cosine)"),
}
RECOMMEND_METRICS = ("retrieval", "retrieval_margin", "to_pivot", "from_pivot", "cosine_gap")


def resolve_layers(spec: str | int | Sequence[int | str], n_layers: int) -> list[int]:
    """``"all"`` -> ``0..n_layers``; ``"0,4,-1"`` or ``[0, 4, -1]`` -> resolved, sorted, unique.

    A layer the model does not have raises ``ValueError`` stating the valid range.
    """
    if isinstance(spec, str):
        if spec.strip() == "all":
            return list(range(n_layers + 1))
        spec = [s.strip() for s in spec.split(",") if s.strip()]
    elif isinstance(spec, int):
        spec = [spec]
    items = list(spec)
    if items == ["all"]:
        return list(range(n_layers + 1))
    if not items:
        raise ValueError(f"no layers given; use 'all' or indices in 0..{n_layers}")
    return sorted({resolve_layer(x, n_layers) for x in items})


def analyze_layer(
    reps: Representations,
    pooling: str,
    layer: int,
    margin_k: int = 4,
    uniformity_t: float = 2.0,
    uniformity_max_samples: int | None = 5000,
    separability: Sequence[str] = ("probe", "silhouette"),
    separability_max_per_language: int | None = 100,
    probe_folds: int = 5,
    seed: int = 0,
    device: str | torch.device = "cpu",
    block_size: int = 4096,
) -> dict:
    """Every metric of one (pooling, layer): per language and averaged (see the module doc)."""
    per_lang: dict[str, dict] = {}
    for lang in reps.languages:
        piv, other = reps.pair(pooling, layer, lang)
        piv_t, other_t = as_tensor(piv).to(device), as_tensor(other).to(device)  # (n, H) each
        scores = retrieval_scores(other_t, piv_t, k=margin_k, block_size=block_size)
        cos = pair_vs_random_cosine(other_t, piv_t)
        per_lang[lang] = {
            "to_pivot": scores["src2tgt"]["cosine"], "from_pivot": scores["tgt2src"]["cosine"],
            "to_pivot_margin": scores["src2tgt"]["margin"], "from_pivot_margin": scores["tgt2src"]["margin"],
            "alignment": alignment(other_t, piv_t),
            "pair_cosine": cos["pair"], "random_cosine": cos["random"], "cosine_gap": cos["gap"],
            "pairs": int(piv_t.shape[0]),
        }
    summary = {name: float(np.mean([m[name] for m in per_lang.values()]))
               for name in ("to_pivot", "from_pivot", "to_pivot_margin", "from_pivot_margin", "alignment",
                            "pair_cosine", "random_cosine", "cosine_gap")}
    summary["retrieval"] = (summary["to_pivot"] + summary["from_pivot"]) / 2
    summary["retrieval_margin"] = (summary["to_pivot_margin"] + summary["from_pivot_margin"]) / 2
    everything = reps.array(pooling, layer)
    summary["uniformity"] = uniformity(everything, t=uniformity_t, max_samples=uniformity_max_samples,
                                       seed=seed)
    if separability:
        summary.update(language_separability(
            everything, reps.labels(), folds=probe_folds, seed=seed,
            max_per_language=separability_max_per_language, methods=separability,
        ))
    return {"summary": summary, "languages": per_lang}


def analyze_representations(reps: Representations, progress: bool = True, **metric_kwargs) -> dict:
    """``{pooling: {str(layer): analyze_layer(...)}}`` for every stored pooling and layer."""
    from tqdm.auto import tqdm

    per_layer: dict[str, dict[str, dict]] = {pooling: {} for pooling in reps.poolings}
    jobs = [(pooling, layer) for pooling in reps.poolings for layer in reps.layers]
    with tqdm(jobs, desc="metrics", unit="layer", disable=not progress) as bar:
        for pooling, layer in bar:
            entry = analyze_layer(reps, pooling, layer, **metric_kwargs)
            per_layer[pooling][str(layer)] = entry
            s = entry["summary"]
            bar.set_postfix_str(f"{pooling} L{layer} retrieval {s['retrieval']:.3f}")
            logger.debug("%s layer %d: retrieval %.3f (margin %.3f), alignment %.3f", pooling, layer,
                         s["retrieval"], s["retrieval_margin"], s["alignment"])
    return per_layer


def recommend_layer(
    results: dict, metric: str = "retrieval", include_embedding: bool = False
) -> tuple[int, str]:
    """``(layer, pooling)`` with the best ``metric`` over every analysed layer and pooling.

    ``metric``: one of :data:`RECOMMEND_METRICS` (``"retrieval"``: cosine top-1 averaged over
    languages and both directions). Ties go to the lower layer (cheaper to train through).
    Layer 0, the embedding output, is skipped unless it is the only one or
    ``include_embedding``: aligning there trains nothing but the embedding table.
    """
    if metric not in RECOMMEND_METRICS:
        raise ValueError(
            f"unknown metric {metric!r} to choose a layer by; choose from {list(RECOMMEND_METRICS)}"
        )
    candidates = []
    for pooling, layers in results["per_layer"].items():
        for layer, entry in layers.items():
            candidates.append((int(layer), pooling, entry["summary"][metric]))
    if not include_embedding and any(layer > 0 for layer, _, _ in candidates):
        candidates = [c for c in candidates if c[0] > 0]
    if not candidates:
        raise ValueError("the results hold no analysed layer")
    layer, pooling, _ = max(candidates, key=lambda c: (c[2], -c[0]))
    return layer, pooling


def analyze_model(
    model,
    tokenizer,
    pairs_by_lang: PairsByLang,
    layers: str | Sequence[int | str] = "all",
    pooling: str | Sequence[str] = "mean",
    include_special: bool = False,
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
    max_length: int | None = 256,
    pivot: str = "en",
    metric: str = "retrieval",
    projection_layers: str | Sequence[int] | None = "auto",
    projection_pooling: str | None = None,
    projection_max_per_language: int = 100,
    projection_methods: Sequence[str] = PROJECTION_METHODS,
    progress: bool = True,
    seed: int = 0,
    **metric_kwargs,
) -> dict:
    """Encode, measure every layer, recommend a layer and (optionally) project; see the module doc.

    ``projection_layers``: ``"auto"`` = the recommended layer, a list of layers, or ``None``;
    ``projection_pooling``: default the recommended pooling (give the same one to two models
    whose pictures are to be compared).
    ``metric_kwargs`` go to :func:`analyze_layer` (``margin_k``, ``separability``...).
    """
    wanted = resolve_layers(layers, num_layers(model))
    metric_kwargs.setdefault("device", next(model.parameters()).device)
    start = time.perf_counter()
    with encode_pairs(model, tokenizer, pairs_by_lang, wanted, pooling, include_special, batch_size,
                      max_length, cache_dir, pivot, progress=progress) as reps:
        encode_s = time.perf_counter() - start
        results = results_header(model, reps, seed, metric_kwargs)
        results["per_layer"] = analyze_representations(reps, progress=progress, seed=seed, **metric_kwargs)
        layer, best_pooling = recommend_layer(results, metric)
        results["recommended"] = recommendation(results, layer, best_pooling, metric)
        if projection_layers is not None:
            chosen = [layer] if projection_layers == "auto" else resolve_layers(projection_layers,
                                                                                  num_layers(model))
            absent = sorted(set(chosen) - set(reps.layers))
            if absent:
                raise ValueError(f"projection layers {absent} were not analysed; analysed: {reps.layers}")
            pooling_p = projection_pooling or best_pooling
            results["projections"] = {
                pooling_p: {str(x): projection_at(reps, pooling_p, x, projection_max_per_language, seed,
                                                  projection_methods) for x in chosen}
            }
    results["timing"] = {"encode_s": round(encode_s, 2), "total_s": round(time.perf_counter() - start, 2)}
    return results


def results_header(model, reps: Representations, seed: int, metric_kwargs: dict) -> dict:
    """The fields of a results dict that describe the run rather than measure it."""
    settings = {k: (str(v) if isinstance(v, torch.device) else v) for k, v in metric_kwargs.items()}
    settings.setdefault("margin_k", 4)
    settings.setdefault("uniformity_t", 2.0)
    return {
        "model": str(getattr(model.config, "_name_or_path", "") or type(model).__name__),
        "num_layers": num_layers(model),
        "pivot": reps.pivot,
        "languages": reps.languages,
        "pairs": {lang: n for lang, (_, n) in reps.spans.items()},
        "layers": reps.layers,
        "poolings": reps.poolings,
        "seed": seed,
        "settings": settings,
        "representations": reps.meta,
    }


def recommendation(results: dict, layer: int, pooling: str, metric: str) -> dict:
    value = results["per_layer"][pooling][str(layer)]["summary"][metric]
    return {"layer": layer, "pooling": pooling, "metric": metric, "value": value}

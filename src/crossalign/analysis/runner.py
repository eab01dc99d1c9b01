"""From a model and parallel sentences to per-layer results and the layer where alignment is best.

    results = analyze_model(model, tok, {"de": (eng, deu), "fr": (eng2, fra)}, layers="all")
    layer, pooling = recommend_layer(results)          # the best (layer, pooling) by a metric
    results["per_layer"]["mean"]["11"]["summary"]["retrieval"]

:func:`measure_model` is the one path from a model to measured, recommended results: the
sentences are encoded once (:func:`~crossalign.analysis.representations.encode_pairs`), then
each layer is measured on its own (:mod:`crossalign.analysis.layer_metrics`).
:func:`analyze_model` adds projections and timing for one model; ``crossalign analyze``
adds projections shared by the two models it compares. ``results`` is plain JSON-ready
data: layer keys are strings, so a dict read back from ``analysis.json`` works with
:func:`recommend_layer` too. The recommendation applies :func:`crossalign.retrieval.peak_layer`,
the rule training's ``layer: auto`` applies too (to held-out pairs at the training pooling:
:func:`crossalign.train.monitor.choose_layer`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import torch

from crossalign.analysis.layer_metrics import analyze_representations
from crossalign.analysis.projection import PROJECTION_METHODS, projection_at
from crossalign.analysis.representations import PairsByLang, Representations, encode_representations
from crossalign.errors import ConfigError
from crossalign.model.layers import num_layers, resolve_layer
from crossalign.retrieval import peak_layer

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


def recommend_layer(
    results: dict, metric: str = "retrieval", include_embedding: bool = False
) -> tuple[int, str]:
    """``(layer, pooling)`` with the best ``metric`` over every analysed layer and pooling.

    ``metric``: one of :data:`RECOMMEND_METRICS` (``"retrieval"``: cosine top-1 averaged over
    languages and both directions). Each layer scores its best pooling (the first listed on a
    tie), and :func:`~crossalign.retrieval.peak_layer` picks the layer: ties go to the lower
    layer (cheaper to train through); layer 0, the embedding output, is skipped unless it is
    the only one or ``include_embedding``: aligning there trains nothing but the embedding table.
    """
    if metric not in RECOMMEND_METRICS:
        raise ValueError(
            f"unknown metric {metric!r} to choose a layer by; choose from {list(RECOMMEND_METRICS)}"
        )
    best: dict[int, tuple[float, str]] = {}  # layer -> (value, pooling) of its best pooling
    for pooling, layers in results["per_layer"].items():
        for layer, entry in layers.items():
            value = entry["summary"][metric]
            if int(layer) not in best or value > best[int(layer)][0]:
                best[int(layer)] = (value, pooling)
    if not best:
        raise ValueError("the results hold no analysed layer")
    layer = peak_layer({x: value for x, (value, _) in best.items()}, include_embedding=include_embedding)
    return layer, best[layer][1]


def measure_model(
    model,
    tokenizer,
    pairs_by_lang: PairsByLang,
    *,
    layers: str | Sequence[int | str] = "all",
    pooling: str | Sequence[str] = "mean",
    include_special: bool = False,
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
    max_length: int | None = 256,
    pivot: str = "en",
    metric: str = "retrieval",
    progress: bool = True,
    seed: int = 0,
    name: str | None = None,
    desc: str = "encoding",
    option: str | None = None,
    **metric_kwargs,
) -> tuple[dict, Representations]:
    """Encode, measure every layer and pooling, recommend a layer: ``(results, reps)``.

    ``results`` as in the module doc, without projections or timing; ``reps`` is left open for
    projections: close it (or use it in a ``with``). ``name``: the model's name in the results
    (default: its config's path); ``desc``: the encoding progress bar's label; ``option``: the
    setting ``layers`` came from, named in a ``ConfigError`` for a layer the model lacks
    (default: a plain ``ValueError``). ``metric_kwargs`` go to :func:`analyze_layer` and are
    recorded in ``results["settings"]``; the metrics run on the model's device unless
    ``device`` is among them.
    """
    try:
        wanted = resolve_layers(layers, num_layers(model))
    except ValueError as exc:
        if option is None:
            raise
        raise ConfigError(f"{option}: {exc}") from None
    settings = dict(metric_kwargs)
    metric_kwargs.setdefault("device", next(model.parameters()).device)
    reps = encode_representations(model, tokenizer, pairs_by_lang, wanted, pooling, include_special, batch_size,
                                  max_length, cache_dir, pivot, progress=progress, desc=desc)
    try:
        results = results_header(model, reps, seed, settings)
        if name is not None:
            results["model"] = name
        results["per_layer"] = analyze_representations(reps, progress=progress, seed=seed, **metric_kwargs)
        layer, best_pooling = recommend_layer(results, metric)
        results["recommended"] = recommendation(results, layer, best_pooling, metric)
    except BaseException:
        reps.close()
        raise
    return results, reps


def projections(
    reps: Representations,
    pooling: str,
    layers: Sequence[int],
    max_per_language: int = 100,
    seed: int = 0,
    methods: Sequence[str] = PROJECTION_METHODS,
    option: str | None = None,
) -> dict:
    """``{pooling: {str(layer): projection_at(...)}}`` at each of ``layers`` (resolved indices).

    A layer that was not analysed is refused: a ``ConfigError`` naming ``option`` when given,
    else a ``ValueError``.
    """
    absent = sorted(set(layers) - set(reps.layers))
    if absent and option is not None:
        raise ConfigError(f"{option}: {absent} are not among the analysed layers {reps.layers}")
    if absent:
        raise ValueError(f"projection layers {absent} were not analysed; analysed: {reps.layers}")
    return {pooling: {str(x): projection_at(reps, pooling, x, max_per_language, seed, methods) for x in layers}}


def analyze_model(
    model,
    tokenizer,
    pairs_by_lang: PairsByLang,
    *,
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
    """:func:`measure_model`, then (optionally) projections, and the time taken; see the module doc.

    ``projection_layers``: ``"auto"`` = the recommended layer, a list of layers, or ``None``;
    ``projection_pooling``: default the recommended pooling (give the same one to two models
    whose pictures are to be compared).
    ``metric_kwargs`` go to :func:`analyze_layer` (``margin_k``, ``separability``...); the
    device they run on is recorded in ``results["settings"]`` too.
    """
    metric_kwargs.setdefault("device", next(model.parameters()).device)
    start = time.perf_counter()
    results, reps = measure_model(
        model, tokenizer, pairs_by_lang, layers=layers, pooling=pooling, include_special=include_special,
        batch_size=batch_size, cache_dir=cache_dir, max_length=max_length, pivot=pivot, metric=metric,
        progress=progress, seed=seed, **metric_kwargs,
    )
    with reps:
        if projection_layers is not None:
            rec = results["recommended"]
            chosen = [rec["layer"]] if projection_layers == "auto" else resolve_layers(projection_layers,
                                                                                         num_layers(model))
            results["projections"] = projections(reps, projection_pooling or rec["pooling"], chosen,
                                                 projection_max_per_language, seed, projection_methods)
    results["timing"] = {"encode_s": round(reps.encode_s, 2), "total_s": round(time.perf_counter() - start, 2)}
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

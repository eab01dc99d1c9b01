"""Every metric of one (pooling, layer) of stored representations, and of all of them.

    entry = analyze_layer(reps, "mean", 11)            # {"summary": {...}, "languages": {...}}
    per_layer = analyze_representations(reps)          # {pooling: {"11": entry, ...}}

Each layer is read on its own from the memory maps of a
:class:`~crossalign.analysis.representations.Representations` and measured per language
against the pivot: bitext retrieval (both directions, cosine and margin, blockwise:
:func:`crossalign.retrieval.retrieval_scores`), alignment, the cosine of translations
against other pairs; then over all languages: uniformity and language separability
(:mod:`crossalign.analysis.metrics`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from crossalign.analysis.metrics import (
    alignment,
    as_tensor,
    language_separability,
    pair_vs_random_cosine,
    uniformity,
)
from crossalign.analysis.representations import Representations
from crossalign.retrieval import retrieval_scores

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

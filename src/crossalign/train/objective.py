"""The AFP objective from the outputs of :class:`~crossalign.model.alignment.AlignmentModel`,
as named parts.

    totals = step_totals([batch])   # {"cl": pairs, "clm": response tokens} of the optimizer step
    loss, parts = afp_loss(out, totals=totals, weights={"cl": 1.0, "clm": 1.5})

The objective is a weighted sum of terms, each a summed loss normalised by the number of its
items in the whole optimizer step (every micro-batch on every rank): ``totals[name]``,
counted by :func:`step_totals` from the batch field of :data:`TERMS`. The contrastive term
(``cl``) gathers every rank's representations in rank order
(:func:`~crossalign.losses.gather.all_gather_with_grad`) and every rank computes the loss
over all of them; since only the local rows carry a graph, the ranks' gradients sum to the
gradient of the global loss, and the factor ``world_size`` undoes DDP's averaging. The LM
term (``clm``) of each rank covers its own tokens and takes the same factor. With one process
and one micro-batch the result is simply ``w_cl * mean per-pair InfoNCE + w_clm * mean
per-token NLL``.

``parts`` maps each computed term to a :class:`LossPart`: its summed loss, its item count and
the per-item metrics the trainer logs (``loss/<name>`` = sum / count, ``<name>/<metric>`` =
metric / count). Adding a term here is an entry in :data:`TERMS`, a function that turns the
model's outputs into its :class:`LossPart` and one line in :func:`afp_loss` (see
``docs/extending.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import torch

from crossalign.losses.gather import all_gather_with_grad
from crossalign.losses.infonce import info_nce


@dataclass(frozen=True)
class Term:
    """A term of the objective: the batch field counting its items, its default weight, the
    per-item metrics it reports besides its loss."""

    count_field: str
    weight: float
    metrics: tuple[str, ...] = ()


# The objective's terms, in the order they are logged; the keys name their weights and totals.
TERMS: dict[str, Term] = {
    "cl": Term(count_field="num_pairs", weight=1.0, metrics=("accuracy",)),  # contrastive, per pair
    "clm": Term(count_field="num_targets", weight=1.5),  # causal LM, per response token
}


@dataclass(frozen=True)
class LossPart:
    """One term on one micro-batch."""

    loss_sum: torch.Tensor  # () the loss summed over the term's items, with its graph
    count: float  # the items it covers (pairs, response tokens)
    metrics: dict[str, float] = field(default_factory=dict)  # per-item numerators, e.g. top-1 hits
    shared: bool = False  # computed over every rank's rows: the same figures on every rank


def step_totals(batches: Iterable[Mapping]) -> dict[str, float]:
    """Items of each term in ``batches`` (the micro-batches of a step): ``{"cl": pairs, "clm": tokens}``."""
    totals = dict.fromkeys(TERMS, 0.0)
    for batch in batches:
        for name, term in TERMS.items():
            totals[name] += float(batch[term.count_field])
    return totals


def contrastive_part(
    out: Mapping[str, torch.Tensor],
    *,
    temperature: float,
    symmetric: bool,
    center: bool,
    hidden_size: int | None,
    device: torch.device,
) -> LossPart:
    """InfoNCE over the representations of every rank (anchors against positives + hard negatives)."""
    # Every rank must join the gathers, even one whose micro-batch has no pair.
    width = hidden_size if hidden_size is not None else out["anchors"].shape[-1]
    empty = torch.zeros(0, width, device=device)
    anchors = all_gather_with_grad(out.get("anchors", empty))  # (P, H), rank order
    positives = all_gather_with_grad(out.get("positives", empty))  # (P, H)
    negatives = all_gather_with_grad(out.get("negatives", empty))  # (K, H)
    candidates = torch.cat([positives, negatives])  # (P + K, H)
    cl_sum, n_pairs, correct = info_nce(anchors, candidates, temperature, symmetric=symmetric, center=center)
    return LossPart(cl_sum, float(n_pairs), {"accuracy": float(correct)}, shared=True)


def lm_part(out: Mapping[str, torch.Tensor]) -> LossPart:
    """The LM loss the model summed over this rank's response tokens."""
    return LossPart(out["clm_sum"], float(out["clm_count"]))


def afp_loss(
    out: Mapping[str, torch.Tensor],
    *,
    totals: Mapping[str, float],
    world_size: int = 1,
    weights: Mapping[str, float] | None = None,
    temperature: float = 0.05,
    symmetric: bool = False,
    center: bool = False,
    hidden_size: int | None = None,
    device: torch.device | None = None,
) -> tuple[torch.Tensor, dict[str, LossPart]]:
    """``(sum_t w_t * sum_t * world_size / totals[t], {t: LossPart})`` over the terms with a weight > 0."""
    unknown = set(weights or {}) - set(TERMS)
    if unknown:
        raise ValueError(f"unknown loss terms {sorted(unknown)}; valid terms: {', '.join(TERMS)}")
    weights = {**{name: term.weight for name, term in TERMS.items()}, **(weights or {})}
    device = device or next((v.device for v in out.values() if torch.is_tensor(v)), torch.device("cpu"))
    parts: dict[str, LossPart] = {}
    if weights["cl"] > 0:
        parts["cl"] = contrastive_part(out, temperature=temperature, symmetric=symmetric, center=center,
                                       hidden_size=hidden_size, device=device)
    if weights["clm"] > 0 and "clm_sum" in out:
        parts["clm"] = lm_part(out)
    loss = torch.zeros((), device=device)
    for name, part in parts.items():
        if totals[name] > 0:
            loss = loss + weights[name] * part.loss_sum * (world_size / totals[name])
    return loss, parts

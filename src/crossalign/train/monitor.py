"""Held-out cross-lingual retrieval at the pooled layer, before and during training.

    monitor = RetrievalMonitor(tokenizer, src, tgt, layer=9, pooling="mean", every=100)
    monitor.measure(lm)   # {"heldout/retrieval": 0.64, ...}

Retrieval accuracy (top-1 by cosine, mean of both directions) of held-out translation
pairs shows whether a run builds the alignment it should: a contrastive loss can fall
while retrieval at the pooled layer drops (``../shared/AFP.md``). :func:`choose_layer`
implements ``contrastive.layer: auto``: the layer where the *base* model's retrieval of the
held-out pairs peaks (:func:`crossalign.retrieval.peak_layer`, the rule ``crossalign analyze``
recommends by too).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from transformers import TrainerCallback

from crossalign.model.encode import retrieval_by_layer
from crossalign.model.layers import num_layers
from crossalign.retrieval import peak_layer


def choose_layer(
    lm: nn.Module, tokenizer, src, tgt, pooling="mean", include_special=False, batch_size=32
) -> tuple[int, dict[int, float]]:
    """The layer (1..n) with the best held-out retrieval of the base model, and every layer's score.

    :func:`~crossalign.retrieval.peak_layer` decides: ties go to the lower layer (cheaper early
    exit). Layer 0 (token embeddings) is not even scored: training it aligns nothing above it."""
    if len(src) < 2:
        raise ValueError("contrastive.layer: auto needs at least 2 held-out pairs")
    layers = list(range(1, num_layers(lm) + 1))
    scores = retrieval_by_layer(lm, tokenizer, src, tgt, layers, pooling, include_special, batch_size)
    return peak_layer(scores), scores


class RetrievalMonitor:
    def __init__(
        self,
        tokenizer,
        src: Sequence[str],
        tgt: Sequence[str],
        layer: int,
        pooling: str = "mean",
        include_special: bool = False,
        every: int = 0,
        batch_size: int = 32,
    ):
        self.tokenizer, self.src, self.tgt = tokenizer, list(src), list(tgt)
        self.layer, self.pooling, self.include_special = layer, pooling, include_special
        self.every, self.batch_size = every, batch_size
        self._last_step = -1

    def due(self, step: int) -> bool:
        return self.every > 0 and step % self.every == 0 and step != self._last_step

    @torch.no_grad()
    def measure(self, lm: nn.Module, step: int | None = None) -> dict[str, float]:
        if step is not None:
            self._last_step = step
        score = retrieval_by_layer(
            lm,
            self.tokenizer,
            self.src,
            self.tgt,
            [self.layer],
            self.pooling,
            self.include_special,
            self.batch_size,
        )[self.layer]
        return {"heldout/retrieval": score}


class MonitorCallback(TrainerCallback):
    """Makes the Trainer log at every monitoring step, so the trainer's ``log`` can score retrieval."""

    def __init__(self, monitor: RetrievalMonitor):
        self.monitor = monitor

    def on_step_end(self, args, state, control, **kwargs):
        if self.monitor.due(state.global_step):
            control.should_log = True
        return control

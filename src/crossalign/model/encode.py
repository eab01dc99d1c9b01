"""Batched sentence encoding at one or more layers, with the pooling used in training.

    reps = encode(model, tokenizer, sentences, layers=[9, 11], pooling="mean")
    reps[11].shape  # (N, H), float32 on the CPU

Sentences are sorted by length so each batch pads little, run through
:func:`crossalign.model.layers.hidden_states_at` (which stops at the highest layer asked
for), pooled, and put back in input order. :func:`retrieval_by_layer` scores translation pairs'
top-1 retrieval at each layer (training's held-out monitor, ``layer: auto``, the Encoder's
``dev_pairs``, the Tatoeba study).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from crossalign.masks import pooling_mask
from crossalign.model.layers import hidden_states_at
from crossalign.model.pooling import pool
from crossalign.retrieval import retrieval_accuracy


def tokenize_for_pooling(tokenizer, sentences: Sequence[str], max_length: int | None = None):
    """Tokenize with padding and the special-tokens mask that :func:`crossalign.masks.pooling_mask` needs.

    Always right padding: pooling reads only the mask, and models with absolute position
    embeddings (GPT-2, XGLM) number positions from the first column, so left padding would
    shift a sentence's positions by its batch's padding.
    """
    return tokenizer(
        list(sentences), padding=True, truncation=max_length is not None, max_length=max_length,
        return_tensors="pt", return_special_tokens_mask=True, padding_side="right",
    )


@torch.no_grad()
def encode(
    model,
    tokenizer,
    sentences: Sequence[str],
    layers: Sequence[int],
    pooling: str = "mean",
    include_special: bool = False,
    batch_size: int = 32,
    max_length: int | None = 256,
    progress: bool = False,
    desc: str = "encoding",
) -> dict[int, torch.Tensor]:
    """``{layer: (N, H) float32 CPU tensor}`` of pooled representations of ``sentences``."""
    device = next(model.parameters()).device
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]), reverse=True)
    out: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc=desc, disable=not progress, unit="batch"):
        idx = order[start : start + batch_size]
        enc = tokenize_for_pooling(tokenizer, [sentences[i] for i in idx], max_length)
        states = hidden_states_at(
            model, enc["input_ids"].to(device), enc["attention_mask"].to(device), list(layers)
        )
        mask = pooling_mask(enc["attention_mask"], enc["special_tokens_mask"], include_special).to(device)
        for layer in layers:
            out[layer].append(pool(states[layer], mask, pooling).float().cpu())
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.tensor(order, dtype=torch.long)] = torch.arange(len(order))
    result = {}
    for layer, chunks in out.items():
        reps = torch.cat(chunks) if chunks else torch.empty(0)
        result[layer] = reps[inverse] if len(order) else reps
    return result


def retrieval_by_layer(
    lm: nn.Module,
    tokenizer,
    src: Sequence[str],
    tgt: Sequence[str],
    layers: Sequence[int],
    pooling: str = "mean",
    include_special: bool = False,
    batch_size: int = 32,
    max_length: int = 128,
) -> dict[int, float]:
    """``{layer: mean of src->tgt and tgt->src top-1 accuracy}``, computed in eval mode."""
    was_training = lm.training
    lm.eval()
    try:
        kwargs = dict(
            layers=list(layers),
            pooling=pooling,
            include_special=include_special,
            batch_size=batch_size,
            max_length=max_length,
        )
        a = encode(lm, tokenizer, list(src), **kwargs)
        b = encode(lm, tokenizer, list(tgt), **kwargs)
    finally:
        lm.train(was_training)
    return {
        layer: (retrieval_accuracy(a[layer], b[layer]) + retrieval_accuracy(b[layer], a[layer])) / 2
        for layer in layers
    }

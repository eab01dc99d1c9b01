"""Choosing k demonstrations for each evaluated item, seeded and never the item itself.

Two protocols:

* ``fixed`` (the AFP reference): shuffle the demonstration pool once with
  ``random.Random(seed)`` and take the first k for every item. When the pool is the
  evaluated split (or its translation, for parallel datasets), an item that is one of those
  k gets the next demonstration of the shuffled pool in its place.
* ``per_item`` (lm-evaluation-harness): one ``random.Random(seed)`` draws
  ``sample(pool, k)`` for each item in order; when the pool may contain the item, it draws
  k + 1 and drops the item, exactly as the harness does.

Items are identified by their ``id``; ``exclude_same_id`` says whether a pool item with the
evaluated item's id is the same item (same split, same language or a parallel dataset).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

MODES = ("fixed", "per_item")


def choose_demos(pool: Sequence[dict], items: Sequence[dict], k: int, seed: int, mode: str, *,
                 exclude_same_id: bool) -> list[list[dict]]:
    """For each item, its k demonstrations (dicts from ``pool``), in prompt order."""
    if mode not in MODES:
        raise ValueError(f"unknown demonstration mode {mode!r}; valid modes: {', '.join(MODES)}")
    if k == 0:
        return [[] for _ in items]
    need = k + (1 if exclude_same_id else 0)
    if len(pool) < need:
        raise ValueError(f"{k}-shot needs {need} demonstrations but the demonstration split has {len(pool)}")
    if mode == "fixed":
        order = list(pool)
        random.Random(seed).shuffle(order)
        head = order[: k + 1]
        out = []
        for item in items:
            if exclude_same_id:
                out.append([d for d in head if d["id"] != item["id"]][:k])
            else:
                out.append(head[:k])
        return out
    rng = random.Random(seed)
    out = []
    for item in items:
        if exclude_same_id:
            drawn = [d for d in rng.sample(list(pool), k + 1) if d["id"] != item["id"]][:k]
        else:
            drawn = rng.sample(list(pool), k)
        out.append(drawn)
    return out

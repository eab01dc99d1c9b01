"""Batching tokenised training samples: contrastive pairs and LM sequences in one dict.

    collate = AlignmentCollator(pad_id=tok.pad_token_id, padding_side="right", clm_batching="packing")
    batch = collate([dataset[0], dataset[1]])

Contrastive part: the B source sentences, then the B targets, then the K hard negatives
are padded together into ``cl_input_ids`` (2B+K, T) so one forward encodes them all;
``cl_pool_mask`` marks the tokens to pool (special tokens left out unless
``include_special``). LM part, by ``clm_batching``:

- ``padding``: ``clm_input_ids``/``clm_attention_mask``/``clm_labels`` (B, T), padded on the
  tokenizer's side;
- ``packing``: all sequences concatenated into ``clm_input_ids``/``clm_labels`` (1, sum L)
  with ``clm_lengths`` (n,); :mod:`crossalign.model.packing` turns the lengths into
  per-sample attention. No token of any sample is dropped.

``num_pairs`` and ``num_targets`` (supervised next-token positions) let the trainer
normalise per pair and per response token across micro-batches and ranks.
"""

from __future__ import annotations

import torch

from crossalign.masks import IGNORE, pooling_mask


def pad(seqs: list[list[int]], value: int, side: str) -> torch.Tensor:
    """Lists of ids -> (N, max len) long tensor padded on ``side``."""
    width = max((len(s) for s in seqs), default=0)
    out = torch.full((len(seqs), width), value, dtype=torch.long)
    for i, s in enumerate(seqs):
        if not s:
            continue
        if side == "left":
            out[i, width - len(s) :] = torch.tensor(s, dtype=torch.long)
        else:
            out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out


class AlignmentCollator:
    def __init__(
        self,
        pad_id: int,
        padding_side: str = "right",
        clm_batching: str = "padding",
        include_special: bool = False,
    ):
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if clm_batching not in ("padding", "packing"):
            raise ValueError(f"unknown clm_batching {clm_batching!r}; choose from ['padding', 'packing']")
        self.pad_id = pad_id
        self.side = padding_side
        self.clm_batching = clm_batching
        self.include_special = include_special

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        batch: dict[str, torch.Tensor] = {}
        pairs = [it for it in items if "src" in it]
        negs = [it for it in pairs if "neg" in it]
        seqs = [it["src"] for it in pairs] + [it["tgt"] for it in pairs] + [it["neg"] for it in negs]
        specials = (
            [it["src_special"] for it in pairs]
            + [it["tgt_special"] for it in pairs]
            + [it["neg_special"] for it in negs]
        )
        batch["num_pairs"] = torch.tensor(len(pairs))
        if pairs:
            ids = pad(seqs, self.pad_id, self.side)  # (2B+K, T)
            attn = pad([[1] * len(s) for s in seqs], 0, self.side)
            special = pad(specials, 1, self.side)
            batch["cl_input_ids"] = ids
            batch["cl_attention_mask"] = attn
            batch["cl_pool_mask"] = pooling_mask(attn, special, self.include_special)
            batch["cl_num_negatives"] = torch.tensor(len(negs))

        clm = [it for it in items if "clm_ids" in it]
        targets = sum(sum(1 for x in it["clm_labels"][1:] if x != IGNORE) for it in clm)
        batch["num_targets"] = torch.tensor(targets)
        if clm:
            if self.clm_batching == "packing":
                batch["clm_input_ids"] = torch.tensor([[t for it in clm for t in it["clm_ids"]]])
                batch["clm_labels"] = torch.tensor([[t for it in clm for t in it["clm_labels"]]])
                batch["clm_lengths"] = torch.tensor([len(it["clm_ids"]) for it in clm])
            else:
                batch["clm_input_ids"] = pad([it["clm_ids"] for it in clm], self.pad_id, self.side)
                batch["clm_attention_mask"] = pad([[1] * len(it["clm_ids"]) for it in clm], 0, self.side)
                batch["clm_labels"] = pad([it["clm_labels"] for it in clm], IGNORE, self.side)
        return batch

"""The AFP training module: pooled representations at one layer and the response-only LM loss.

    module = AlignmentModel(lm, layer=9, pooling="mean", packing="position_ids")
    out = module(**batch)   # batch from crossalign.data.collate.AlignmentCollator
    out["anchors"], out["positives"], out["negatives"]   # (B, H), (B, H), (K, H)
    out["clm_sum"], out["clm_count"]                     # summed -log p over response tokens

Both passes run in one ``forward`` so that a data-parallel wrapper (DDP, FSDP) sees one
forward per backward. The contrastive pass runs only the blocks below the pooled layer
(:func:`crossalign.model.layers.hidden_states_at`). With ``pack_pairs`` (for a model whose
``packing`` mode was verified by :func:`crossalign.model.packing.packing_mode`) it runs on the
real tokens only, the sentences packed into rows of at most ``pair_pack_tokens`` tokens, and
the states are put back in the padded layout before pooling: the representations are those
of the right-padded batch, without the padding's compute (translation pairs of a batch differ
in length: on Gemma-3-270M's tokenizer half or more of a padded pair batch is padding). The LM
pass runs the backbone without its head and applies the output layer only at supervised
positions through the fused chunked loss (:mod:`crossalign.losses.clm`), so (B, T, V) logits
never exist. One code path for any ``AutoModelForCausalLM`` (plain or wrapped by PEFT).
"""

from __future__ import annotations

import torch
from torch import nn

from crossalign.losses.clm import lm_loss, lm_loss_checkpointed
from crossalign.masks import IGNORE
from crossalign.model.layers import backbone, hidden_states_at, text_config, unwrap_peft
from crossalign.model.lm_head import finish_logits, output_head, output_layer
from crossalign.model.packing import packed_model_inputs
from crossalign.model.pooling import pool

HEAD_IMPLS = ("auto", "fused", "module")
PACKING = ("position_ids", "mask4d")


def _sharded(weight: torch.Tensor, vocab: int) -> bool:
    """True when the head weight is not a plain whole (V, H) tensor outside its module's forward
    (DeepSpeed ZeRO-3 partitions, FSDP flat/DTensor shards)."""
    return (
        getattr(weight, "ds_id", None) is not None
        or type(weight).__name__ == "DTensor"
        or weight.dim() != 2
        or weight.shape[0] != vocab
    )


class AlignmentModel(nn.Module):
    main_input_name = "cl_input_ids"
    accepts_loss_kwargs = False  # the trainer normalises the losses itself

    def __init__(
        self,
        lm: nn.Module,
        layer: int,
        pooling: str = "mean",
        packing: str = "position_ids",
        chunk_size: int = 1024,
        head_impl: str = "auto",
        pack_pairs: bool = False,
        pair_pack_tokens: int = 2048,
    ):
        super().__init__()
        if packing not in PACKING:
            raise ValueError(f"unknown packing {packing!r}; choose from {list(PACKING)}")
        if pair_pack_tokens < 1:
            raise ValueError(f"pair_pack_tokens must be >= 1, got {pair_pack_tokens}")
        self.lm = lm
        self.layer = layer
        self.pooling = pooling
        self.packing = packing
        self.chunk_size = chunk_size
        self.pack_pairs = pack_pairs
        self.pair_pack_tokens = pair_pack_tokens
        if head_impl not in HEAD_IMPLS:
            raise ValueError(f"unknown head_impl {head_impl!r}; choose from {list(HEAD_IMPLS)}")
        self.head_impl = head_impl

    @property
    def config(self):
        return self.lm.config

    @property
    def _no_split_modules(self):
        # FSDP's transformer-based auto-wrap reads the block class names from the model it wraps.
        return getattr(unwrap_peft(self.lm), "_no_split_modules", None)

    @property
    def hidden_size(self) -> int:
        return int(text_config(self.lm).hidden_size)

    def pair_states(self, input_ids, attention_mask) -> torch.Tensor:
        """(N, T, H) states at the pooled layer of a padded batch of sentences; zeros at padding
        when the sentences run packed."""
        if not self.pack_pairs:
            return hidden_states_at(self.lm, input_ids, attention_mask, [self.layer])[self.layer]
        real = attention_mask.bool()  # (N, T)
        lengths = real.sum(dim=1).tolist()
        tokens = input_ids[real]  # (S,) the sentences one after the other
        dtype = next(self.lm.parameters()).dtype
        # Consecutive sentences in rows of at most pair_pack_tokens tokens (a longer sentence
        # alone): attention over a packed row grows with the square of its length.
        rows, row, size = [], [], 0
        for n in lengths:
            if row and size + n > self.pair_pack_tokens:
                rows.append(row)
                row, size = [], 0
            row.append(n)
            size += n
        rows.append(row)
        pieces, start = [], 0
        for row in rows:
            ids = tokens[start : start + sum(row)][None]  # (1, L)
            start += sum(row)
            kwargs = packed_model_inputs(ids, row, self.packing, dtype)
            states = hidden_states_at(
                self.lm, ids, kwargs.get("attention_mask"), [self.layer], position_ids=kwargs["position_ids"]
            )[self.layer]  # (1, L, H)
            pieces.append(states[0])
        packed = torch.cat(pieces) if len(pieces) > 1 else pieces[0]  # (S, H)
        out = packed.new_zeros(*input_ids.shape, packed.shape[-1])  # (N, T, H)
        out[real] = packed
        return out

    def encode_pairs(self, input_ids, attention_mask, pool_mask, num_pairs: int) -> dict[str, torch.Tensor]:
        states = self.pair_states(input_ids, attention_mask)  # (2B+K, T, H)
        reps = pool(states, pool_mask, self.pooling)  # (2B+K, H)
        b = num_pairs
        return {"anchors": reps[:b], "positives": reps[b : 2 * b], "negatives": reps[2 * b :]}

    def _head_impl(self, head) -> str:
        if self.head_impl != "auto":
            return self.head_impl
        return "module" if _sharded(head.weight, int(text_config(self.lm).vocab_size)) else "fused"

    def lm_loss_sum(self, input_ids, labels, attention_mask=None, lengths=None) -> tuple[torch.Tensor, int]:
        """Summed -log p of the response tokens of (B, T) padded or (1, sum L) packed sequences."""
        if lengths is not None:
            dtype = next(self.lm.parameters()).dtype
            kwargs = packed_model_inputs(input_ids, lengths.tolist(), self.packing, dtype)
        else:
            kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        hidden = backbone(self.lm)(**kwargs, use_cache=False).last_hidden_state  # (B, T, H)
        shifted = labels[:, 1:]  # (B, T-1): token t+1 is predicted from position t
        sel = shifted != IGNORE
        h, y = hidden[:, :-1][sel], shifted[sel]  # (N, H), (N,)
        head = output_head(self.lm)
        impl = self._head_impl(head)
        if impl == "fused":
            return lm_loss(h, y, head.weight, head.bias, head.scale, head.softcap, self.chunk_size)
        module = output_layer(self.lm)

        def project(x):  # (n, H) -> (n, V) through the module, so sharding hooks gather its weight
            return finish_logits(module(x), head)

        return lm_loss_checkpointed(h, y, project, self.chunk_size)

    def forward(
        self,
        num_pairs=None,
        num_targets=None,
        cl_input_ids=None,
        cl_attention_mask=None,
        cl_pool_mask=None,
        cl_num_negatives=None,
        clm_input_ids=None,
        clm_labels=None,
        clm_attention_mask=None,
        clm_lengths=None,
    ) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        if cl_input_ids is not None:
            out.update(self.encode_pairs(cl_input_ids, cl_attention_mask, cl_pool_mask, int(num_pairs)))
        if clm_input_ids is not None:
            out["clm_sum"], n = self.lm_loss_sum(clm_input_ids, clm_labels, clm_attention_mask, clm_lengths)
            out["clm_count"] = torch.tensor(n, device=clm_input_ids.device)
        return out

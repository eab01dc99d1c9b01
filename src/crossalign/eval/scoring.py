"""Batched log-likelihood scoring of continuations: the engine behind every ICL task.

A :class:`Request` is one context (token ids, BOS included) followed by one or more
continuations (token ids). For each continuation the engine returns the sum of the
log-probabilities of its tokens given the context (``ll``) and, on request, the
log-likelihood of the whole sequence after the prefix shared by all requests (``ll_seq``).

How it stays fast while giving the same numbers as one-sequence-at-a-time scoring:

1. **Shared prefix, once.** The longest token prefix common to every context (the fixed
   demonstrations and the start of the template) is run once, batch 1, and its KV cache is
   reused by every batch.
2. **Shared context, once per item.** Each request's context (after that prefix) is run
   once, right-padded, for a batch of requests sorted by length; its last token is held back.
3. **Continuations as rows.** The context cache is copied to one row per continuation and
   *rolled* so that each row's valid keys end at the same index (padding moves to the far
   left, where the attention mask hides it). Each row then feeds
   ``[last context token] + continuation[:-1]`` with explicit position ids; the logits of
   those positions are exactly the predictions of the continuation tokens, so the
   log-softmax is taken only there (never over the whole sequence).

Padding never sits between real tokens, so sliding-window attention (Gemma 2/3), whose
window is counted in cache indices, sees the same keys as in an unpadded forward pass.
The tokenizer's padding side does not matter: the engine builds its own tensors.
:func:`score_naive` is the slow reference (batch 1, full forward, full log-softmax).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from crossalign.model.layers import backbone, unwrap_peft
from crossalign.model.lm_head import finish_logits, output_head, output_layer


@dataclass
class Request:
    context: list[int]
    continuations: list[list[int]]


@dataclass
class Scores:
    ll: list[float]  # per continuation: sum log p(continuation | context)
    ll_seq: list[float] | None  # per continuation: + log p(context tokens after the shared prefix)


def common_prefix_length(seqs: Sequence[Sequence[int]]) -> int:
    if not seqs:
        return 0
    first = seqs[0]
    n = min(len(s) for s in seqs)
    for s in seqs[1:]:
        i = 0
        while i < n and s[i] == first[i]:
            i += 1
        n = i
    return n


def _check(requests: Sequence[Request], max_length: int | None) -> None:
    for i, r in enumerate(requests):
        if not r.context:
            raise ValueError(f"request {i}: empty context (it must hold at least a BOS token)")
        for c in r.continuations:
            if not c:
                raise ValueError(f"request {i}: empty continuation")
            if max_length is not None and len(r.context) + len(c) > max_length:
                raise ValueError(
                    f"request {i}: {len(r.context) + len(c)} tokens exceed the model's maximum of "
                    f"{max_length}; use fewer shots or a shorter template"
                )


def _cache_tensors(cache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def _make_cache(tensors: list[tuple[torch.Tensor, torch.Tensor]]):
    # Here, not at the top: `crossalign evaluate --help` imports this module, and transformers
    # costs ~1 s there (torch alone is already imported).
    from transformers import DynamicCache

    # A config-less DynamicCache keeps every position in every layer (no sliding-window
    # truncation), which the rolling below needs; masks still apply the window.
    cache = DynamicCache()
    for layer, (k, v) in enumerate(tensors):
        cache.update(k, v, layer)
    return cache


def _gather_ll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(targets) from fp32 logits (N, V) -> (N,), with one fused log-softmax."""
    return torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def _split_head(model):
    """(decoder, output layer, :class:`~crossalign.model.lm_head.OutputHead`) when
    ``model(ids).logits`` is exactly the head applied to ``decoder(ids)`` (checked on a probe),
    else None. Computing the head only at the positions that are scored saves the padding's
    share of a large-vocabulary projection."""
    try:
        decoder, layer, head = backbone(model), output_layer(model), output_head(model)
        if decoder is unwrap_peft(model):
            return None
        n = layer.weight.shape[0]
        ids = torch.tensor([[1 % n, 7 % n, 11 % n, 3 % n]], device=next(model.parameters()).device)
        full = model(input_ids=ids).logits.float()
        split = finish_logits(layer(decoder(input_ids=ids).last_hidden_state), head)
        if full.shape != split.shape:
            return None
        tol = 1e-3 * float(full.abs().max()) + 1e-5
        if not torch.allclose(full, split, rtol=1e-3, atol=tol):
            return None
    except (AttributeError, TypeError, ValueError, RuntimeError, NotImplementedError):
        return None
    return decoder, layer, head


class Scorer:
    """Scores :class:`Request` lists with one model. Reuse one instance across tasks."""

    def __init__(self, model, batch_size: int = 16, max_rows: int = 64, pad_id: int = 0,
                 progress: Callable[[int], None] | None = None, use_split_head: bool = True):
        self.model = model
        self.batch_size = batch_size
        self.max_rows = max_rows
        self.pad_id = pad_id
        self.progress = progress
        self.device = next(model.parameters()).device
        # A PEFT wrapper hides the signature behind **kwargs: look at the model it wraps.
        params = inspect.signature(unwrap_peft(model).forward).parameters
        self._takes_positions = "position_ids" in params
        self._takes_keep = "logits_to_keep" in params
        # transformers renamed the cache argument and output field past_key_values -> cache (the old
        # name warns, and goes in 5.40); older releases (the 5.0 floor) know only past_key_values.
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        cfg = model.config
        self.max_length = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
        with torch.inference_mode():
            self._split = _split_head(model) if use_split_head else None
        self.head_chunk = 512  # positions per head projection: bounds the (N, vocab) fp32 buffer
        self._want_logits = False  # logits path only: all fed positions, or just the last one

    def _forward(self, ids, cache, mask=None, positions=None):
        """Run ``ids`` after ``cache``; returns (hidden states or None, logits or None, cache)."""
        kwargs = {"input_ids": ids, self._cache_arg: cache, "use_cache": True}
        if mask is not None:
            kwargs["attention_mask"] = mask
        if positions is not None and self._takes_positions:
            kwargs["position_ids"] = positions
        if self._split is not None:
            out = self._split[0](**kwargs)
            return out.last_hidden_state, None, out[self._cache_arg]
        if self._takes_keep:
            kwargs["logits_to_keep"] = 0 if self._want_logits else 1
        out = self.model(**kwargs)
        return None, out.logits, out[self._cache_arg]

    def _advance(self, ids, cache, mask=None, positions=None):
        self._want_logits = False
        return self._forward(ids, cache, mask, positions)[2]

    def _scored(self, ids, cache, mask, positions, targets, valid):
        """(sum of log p(targets) where ``valid`` (R, M) as (R,) float64, new cache); the
        log-softmax is taken only at valid positions (hidden path) or at the positions fed."""
        self._want_logits = True
        hidden, logits, cache = self._forward(ids, cache, mask, positions)
        lls = torch.zeros(valid.shape, dtype=torch.float64, device=valid.device)
        if hidden is not None:
            _, layer, head = self._split
            h, t = hidden[valid], targets[valid]  # (N, H), (N,)
            step = self.head_chunk
            parts = [_gather_ll(finish_logits(layer(h[s : s + step]), head), t[s : s + step])
                     for s in range(0, h.shape[0], step)]
            if parts:
                lls[valid] = torch.cat(parts).double()
        else:
            rows = max(1, self.head_chunk // max(1, logits.shape[1]))
            for s in range(0, logits.shape[0], rows):
                lp = _gather_ll(logits[s : s + rows].float().flatten(0, 1), targets[s : s + rows].flatten())
                lls[s : s + rows] = lp.view(-1, logits.shape[1]).double()
            lls = lls * valid
        # float64 sums: a continuation of hundreds of tokens would otherwise lose ~1e-4 to rounding
        return lls.sum(-1), cache

    @torch.inference_mode()
    def score(self, requests: Sequence[Request], with_seq: bool = False) -> list[Scores]:
        _check(requests, self.max_length)
        if not requests:
            return []
        dev = self.device
        contexts = [r.context for r in requests]
        k = min(common_prefix_length(contexts), min(len(c) for c in contexts) - 1)
        prefix: list[tuple[torch.Tensor, torch.Tensor]] = []
        if k > 0:
            ids = torch.tensor([contexts[0][:k]], device=dev)
            prefix = _cache_tensors(self._advance(ids, _make_cache([])))  # per layer (1, H, K, D)

        order = sorted(range(len(requests)), key=lambda i: -len(contexts[i]))
        results: list[Scores | None] = [None] * len(requests)
        batch: list[int] = []
        rows = 0
        for i in order:
            n = len(requests[i].continuations)
            if batch and (len(batch) >= self.batch_size or rows + n > self.max_rows):
                self._score_batch(requests, batch, k, prefix, with_seq, results)
                batch, rows = [], 0
            batch.append(i)
            rows += n
        if batch:
            self._score_batch(requests, batch, k, prefix, with_seq, results)
        return results  # type: ignore[return-value]

    def _score_batch(self, requests, batch, k, prefix, with_seq, results) -> None:
        dev = self.device
        b = len(batch)
        mids = [requests[i].context[k:-1] for i in batch]  # context after the prefix, last token held back
        a = torch.tensor([len(m) for m in mids], device=dev)  # (B,)
        a_max = int(a.max())
        cache = _make_cache([(kk.expand(b, -1, -1, -1), vv.expand(b, -1, -1, -1)) for kk, vv in prefix])
        ctx_ll = torch.zeros(b, dtype=torch.float64, device=dev)
        if a_max > 0:
            ids = torch.full((b, a_max), self.pad_id, dtype=torch.long, device=dev)
            for r, m in enumerate(mids):
                ids[r, : len(m)] = torch.tensor(m, device=dev)
            # Right padding after real tokens: causal attention keeps pads out of real positions,
            # so an all-ones mask is exact (and no row is ever fully masked).
            ones = torch.ones(b, k + a_max, dtype=torch.long, device=dev)
            if with_seq:
                tgt = torch.full((b, a_max), self.pad_id, dtype=torch.long, device=dev)
                for r, i in enumerate(batch):
                    t = requests[i].context[k + 1 :]
                    tgt[r, : len(t)] = torch.tensor(t, device=dev)
                valid = torch.arange(a_max, device=dev)[None, :] < a[:, None]  # (B, A)
                ctx_ll, cache = self._scored(ids, cache, ones, None, tgt, valid)
            else:
                cache = self._advance(ids, cache, mask=ones)
        tensors = _cache_tensors(cache) if (k > 0 or a_max > 0) else []
        s = k + a_max  # cached length

        # One row per continuation; rows of request r are rolled right by (a_max - a_r).
        req_of_row, conts = [], []
        for r, i in enumerate(batch):
            for c in requests[i].continuations:
                req_of_row.append(r)
                conts.append(c)
        rows = torch.tensor(req_of_row, device=dev)  # (R,)
        n_rows = len(conts)
        shift = (a_max - a)[rows]  # (R,)
        idx = (torch.arange(s, device=dev)[None, :] - shift[:, None]).clamp(min=0)  # (R, S)
        rolled = []
        for kk, vv in tensors:
            g = idx[:, None, :, None].expand(n_rows, kk.shape[1], s, kk.shape[3])
            rolled.append((kk[rows].gather(2, g), vv[rows].gather(2, g)))  # (R, H, S, D)
        cache_mask = torch.arange(s, device=dev)[None, :] >= shift[:, None]  # (R, S)

        m_max = max(len(c) for c in conts)
        ids = torch.full((n_rows, m_max), self.pad_id, dtype=torch.long, device=dev)
        tgt = torch.full((n_rows, m_max), self.pad_id, dtype=torch.long, device=dev)
        lens = torch.tensor([len(c) for c in conts], device=dev)
        for r, c in enumerate(conts):
            last = requests[batch[req_of_row[r]]].context[-1]
            ids[r, : len(c)] = torch.tensor([last, *c[:-1]], device=dev)
            tgt[r, : len(c)] = torch.tensor(c, device=dev)
        valid = torch.arange(m_max, device=dev)[None, :] < lens[:, None]  # (R, M)
        mask = torch.cat([cache_mask, valid], dim=1).long()  # (R, S + M)
        positions = (k + a[rows])[:, None] + torch.arange(m_max, device=dev)[None, :]  # (R, M)
        ll, _ = self._scored(ids, _make_cache(rolled), mask, positions, tgt, valid)  # (R,)

        ll, ctx_ll = ll.double().cpu().tolist(), ctx_ll.double().cpu().tolist()
        pos = 0
        for r, i in enumerate(batch):
            n = len(requests[i].continuations)
            own = ll[pos : pos + n]
            seq = [x + ctx_ll[r] for x in own] if with_seq else None
            results[i] = Scores(ll=own, ll_seq=seq)
            pos += n
        if self.progress is not None:
            self.progress(b)


@torch.inference_mode()
def score_naive(model, requests: Sequence[Request], with_seq: bool = False) -> list[Scores]:
    """The slow reference: each (context + continuation) alone, full forward, fp32 log-softmax
    over every position. ``ll_seq`` counts the tokens after the prefix shared by all contexts,
    like :meth:`Scorer.score`."""
    dev = next(model.parameters()).device
    contexts = [r.context for r in requests]
    k = min(common_prefix_length(contexts), min(len(c) for c in contexts) - 1) if requests else 0
    results = []
    for r in requests:
        ll, seq = [], []
        for c in r.continuations:
            ids = torch.tensor([r.context + c], device=dev)
            logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)  # (T, V)
            tok = logp[:-1].gather(-1, ids[0, 1:, None]).squeeze(-1)  # (T-1,) log p(token t+1)
            n = len(r.context)
            ll.append(float(tok[n - 1 :].double().sum()))
            seq.append(float(tok[k:].double().sum()))
        results.append(Scores(ll=ll, ll_seq=seq if with_seq else None))
    return results

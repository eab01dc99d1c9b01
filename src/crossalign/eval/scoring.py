"""Batched log-likelihood scoring of continuations: the engine behind every ICL task.

A :class:`Request` is one context (token ids, BOS included) followed by one or more
continuations (token ids). For each continuation the engine returns the sum of the
log-probabilities of its tokens given the context (``ll``) and, on request, the
log-likelihood of the whole sequence after the prefix shared by all requests (``ll_seq``).

How it stays fast while giving the same numbers as one-sequence-at-a-time scoring:

1. **Shared prefix, once.** The longest token prefix common to every context (the fixed
   demonstrations and the start of the template) is run once, batch 1, and its KV cache is
   reused by every batch.
2. **Context pass, once per item.** Each request's context (after that prefix) is run once,
   right-padded, for a batch of requests sorted by length, followed by the tokens that all its
   continuations share (XCOPA's choices often start alike): those are scored once, and the
   first token after them of *every* continuation is read from one logits row.
3. **Continuation pass, only what is left.** The context cache is gathered to one row per
   continuation with two or more tokens left and *rolled* so that each row's valid keys end at
   the same index (padding moves to the far left, where the attention mask hides it). Each row
   feeds its remaining tokens but the last, with explicit position ids. A batch of single-token
   continuations (or of one continuation per context) needs no second pass.
4. **The head, in large batches.** The hidden states of the scored positions (never the
   padding, never a context position unless ``ll_seq`` needs it) are queued across forward
   batches and projected ``head_chunk`` (512) at a time, as ``W @ h.T`` with ``log p = logit -
   logsumexp``: on a 262k vocabulary the head is over half of the work, and one large product
   runs ~1.5x faster per position than many small ones.

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
        # Positions per head projection: bounds the (N, vocab) fp32 buffer; the projection is one
        # large matrix product, several times faster per position at 512 rows than at 100.
        self.head_chunk = 512
        self._keep: int | None = 1  # logits path: logits_to_keep (0 = every position)
        self._queue: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._queued = 0

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
        if self._takes_keep and self._keep is not None:
            kwargs["logits_to_keep"] = self._keep
        out = self.model(**kwargs)
        return None, out.logits, out[self._cache_arg]

    def _advance(self, ids, cache, mask=None):
        self._keep = 1
        return self._forward(ids, cache, mask)[2]

    def _scored(self, ids, cache, mask, positions, picks, acc):
        """Forward ``ids`` (R, M) and add log p(target) at each pick to ``acc[slot]``; returns the cache.

        ``picks`` = (rows, cols, targets, slots), each (P,): the prediction at fed position
        (row, col) of token ``target``. Several picks may share a position (the first token of
        every choice after one context): its logits are computed once."""
        rows, cols, targets, slots = picks
        pos = rows * ids.shape[1] + cols  # (P,) flat position
        uniq, inverse = torch.unique(pos, return_inverse=True)  # (N,), (P,)
        # logits path: the model's own head, on the last positions that any pick needs
        keep = ids.shape[1] - int(cols.min()) if len(cols) else 1
        self._keep = 0 if keep >= ids.shape[1] else keep
        hidden, logits, cache = self._forward(ids, cache, mask, positions)
        if hidden is not None:
            self._enqueue(hidden.flatten(0, 1)[uniq], inverse, targets, slots, acc)
        else:
            off = ids.shape[1] - logits.shape[1]  # logits of the last positions only
            flat = logits.flatten(0, 1)
            u_rows, u_cols = uniq // ids.shape[1], uniq % ids.shape[1]
            sel = flat[u_rows * logits.shape[1] + (u_cols - off)]  # (N, V)
            step = self.head_chunk
            for s in range(0, sel.shape[0], step):
                lp = torch.log_softmax(sel[s : s + step].float(), dim=-1)
                here = (inverse >= s) & (inverse < s + step)
                acc.index_add_(0, slots[here], lp[inverse[here] - s, targets[here]].double())
        return cache

    def _enqueue(self, hidden, inverse, targets, slots, acc) -> None:
        """Queue hidden states (N, H) and their picks for the head; project once ``head_chunk``
        positions are waiting, so the head runs on large batches whatever the forward batch."""
        self._queue.append((hidden, inverse + self._queued, targets, slots))
        self._queued += hidden.shape[0]
        if self._queued >= self.head_chunk:
            self._flush(acc)

    def _flush(self, acc) -> None:
        if not self._queue:
            return
        _, layer, head = self._split
        h = torch.cat([q[0] for q in self._queue])  # (N, H)
        idx, tgt, slot = (torch.cat([q[i] for q in self._queue]) for i in (1, 2, 3))  # (P,)
        self._queue, self._queued = [], 0
        plain = head.scale == 1.0 and head.softcap is None
        linear = type(layer) is torch.nn.Linear
        step = self.head_chunk
        for s in range(0, h.shape[0], step):
            here = (idx >= s) & (idx < s + step)
            i, t = idx[here] - s, tgt[here]
            if linear:
                # (V, n) = W (V, H) @ h.T: ~1.3x the throughput of h @ W.T for a 262k vocabulary on
                # CPU (MKL); log p = logit - logsumexp, with no (V, n) log-softmax buffer.
                z = head.weight @ h[s : s + step].T
                if head.bias is not None:
                    z += head.bias[:, None]
                z = z.float() if plain else finish_logits(z, head)
                ll = z[t, i] - torch.logsumexp(z, dim=0)[i]
            else:
                z = layer(h[s : s + step])
                lp = torch.log_softmax(z.float() if plain else finish_logits(z, head), dim=-1)  # (n, V)
                ll = lp[i, t]
            acc.index_add_(0, slot[here], ll.double())

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

        # acc[first[i] + j]: ll of continuation j of request i; acc[n_conts + i]: its context's ll
        first, n_conts = [], 0
        for r in requests:
            first.append(n_conts)
            n_conts += len(r.continuations)
        # float64 sums: a continuation of hundreds of tokens would otherwise lose ~1e-4 to rounding
        acc = torch.zeros(n_conts + len(requests), dtype=torch.float64, device=dev)
        self._queue, self._queued = [], 0
        order = sorted(range(len(requests)), key=lambda i: -len(contexts[i]))
        batch: list[int] = []
        rows = 0
        for i in order:
            n = len(requests[i].continuations)
            if batch and (len(batch) >= self.batch_size or rows + n > self.max_rows):
                self._score_batch(requests, batch, k, prefix, with_seq, first, n_conts, acc)
                batch, rows = [], 0
            batch.append(i)
            rows += n
        if batch:
            self._score_batch(requests, batch, k, prefix, with_seq, first, n_conts, acc)
        if self._split is not None:
            self._flush(acc)
        values = acc.cpu().tolist()
        results = []
        for i, r in enumerate(requests):
            ll = values[first[i] : first[i] + len(r.continuations)]
            seq = [x + values[n_conts + i] for x in ll] if with_seq else None
            results.append(Scores(ll=ll, ll_seq=seq))
        return results

    def _score_batch(self, requests, batch, k, prefix, with_seq, first, n_conts, acc) -> None:
        """Score one batch of requests in (at most) two forward passes.

        1. Context pass, one right-padded row per request: the context after the prefix, then
           the tokens that all its continuations share (shared_r, at most all but one token of
           the shortest). It scores those shared tokens, and the first token after them for
           every continuation from one logits row (with ``with_seq``, the context tokens too).
        2. Continuation pass, one row per continuation with two or more tokens left: its
           remaining tokens but the last, after the context cache (rolled so that every row's
           keys end at the same index), scoring the tokens after each. A batch whose
           continuations are all single tokens past the shared part needs no second pass."""
        dev = self.device
        b = len(batch)
        picks: list[tuple[int, int, int, int]] = []  # (row, col, target, slot)
        fed, rests = [], []  # per request: tokens fed in pass 1; per continuation: (request row, rest, slot)
        for r, i in enumerate(batch):
            req = requests[i]
            conts = req.continuations
            p = min(common_prefix_length(conts), min(len(c) for c in conts) - 1)
            shared = conts[0][:p]
            a = len(req.context) - k  # >= 1: the prefix leaves at least one context token
            fed.append(req.context[k:] + shared)
            if with_seq:
                picks += [(r, t, req.context[k + t + 1], n_conts + i) for t in range(a - 1)]
            for j, c in enumerate(conts):
                slot = first[i] + j
                picks += [(r, a - 1 + t, shared[t], slot) for t in range(p)]
                picks.append((r, a - 1 + p, c[p], slot))
                if len(c) - p > 1:
                    rests.append((r, c[p:], slot))
        lens = torch.tensor([len(f) for f in fed], device=dev)  # (B,)
        l_max = int(lens.max())
        ids = torch.full((b, l_max), self.pad_id, dtype=torch.long, device=dev)
        for r, f in enumerate(fed):
            ids[r, : len(f)] = torch.tensor(f, device=dev)
        cache = _make_cache([(kk.expand(b, -1, -1, -1), vv.expand(b, -1, -1, -1)) for kk, vv in prefix])
        # Right padding after real tokens: causal attention keeps pads out of real positions,
        # so an all-ones mask is exact (and no row is ever fully masked).
        ones = torch.ones(b, k + l_max, dtype=torch.long, device=dev)
        cache = self._scored(ids, cache, ones, None, _picks(picks, dev), acc)
        if rests:
            self._score_rests(rests, _cache_tensors(cache), k, lens, l_max, acc)
        if self.progress is not None:
            self.progress(b)

    def _score_rests(self, rests, tensors, k, lens, l_max, acc) -> None:
        dev = self.device
        s = k + l_max  # cached length
        req_of_row = torch.tensor([r for r, _, _ in rests], device=dev)  # (R,)
        n_rows = len(rests)
        # Row of request r: its cache rolled right by (l_max - lens[r]), so that padding sits at
        # the far left, hidden by the mask, and no padding sits between real tokens.
        shift = (l_max - lens)[req_of_row]  # (R,)
        idx = (torch.arange(s, device=dev)[None, :] - shift[:, None]).clamp(min=0)  # (R, S)
        # one gather per layer straight from the per-request cache: (B, H, S, D) -> (R, H, S, D)
        rolled = [(kk.transpose(1, 2)[req_of_row[:, None], idx].transpose(1, 2),
                   vv.transpose(1, 2)[req_of_row[:, None], idx].transpose(1, 2)) for kk, vv in tensors]
        cache_mask = torch.arange(s, device=dev)[None, :] >= shift[:, None]  # (R, S)
        m_max = max(len(c) for _, c, _ in rests) - 1
        ids = torch.full((n_rows, m_max), self.pad_id, dtype=torch.long, device=dev)
        picks = []
        for row, (_, c, slot) in enumerate(rests):
            ids[row, : len(c) - 1] = torch.tensor(c[:-1], device=dev)
            picks += [(row, t, c[t + 1], slot) for t in range(len(c) - 1)]
        n_fed = torch.tensor([len(c) - 1 for _, c, _ in rests], device=dev)
        valid = torch.arange(m_max, device=dev)[None, :] < n_fed[:, None]  # (R, M)
        mask = torch.cat([cache_mask, valid], dim=1).long()  # (R, S + M)
        positions = (k + lens[req_of_row])[:, None] + torch.arange(m_max, device=dev)[None, :]  # (R, M)
        self._scored(ids, _make_cache(rolled), mask, positions, _picks(picks, dev), acc)


def _picks(picks: list[tuple[int, int, int, int]], dev) -> tuple[torch.Tensor, ...]:
    t = torch.tensor(picks, dtype=torch.long, device=dev).view(-1, 4)
    return t[:, 0], t[:, 1], t[:, 2], t[:, 3]


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

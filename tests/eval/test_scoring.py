"""Acceptance 1: the fast scorer equals naive scoring (one sequence, full forward, log-softmax)
within 1e-4 in fp32, on all five tasks, for left- and right-padding tokenizers; Gemma 3's
sliding window (8 in the tiny config) is far shorter than the few-shot prompts."""

from __future__ import annotations

import math

import pytest
import torch

from crossalign.eval.loaders import load_items
from crossalign.eval.render import encode_pair, prompt, render
from crossalign.eval.runner import EvalConfig, evaluate
from crossalign.eval.scoring import Request, Scorer, common_prefix_length
from crossalign.eval.tasks import load_task

# task -> (sample language, split evaluated); prompts are English (cross-lingual)
CASES = {
    "xnli": ("zh", "validation"),
    "xcopa": ("it", "test"),
    "pawsx": ("de", "test"),
    "xstorycloze": ("es", "eval"),
    "xwinograd": ("fr", "test"),
}


def naive_ll(model, context: list[int], continuation: list[int]) -> float:
    ids = torch.tensor([context + continuation])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
    pos = torch.arange(len(context) - 1, ids.shape[1] - 1)
    return float(logp[pos, ids[0, len(context) :]].double().sum())


@pytest.mark.parametrize("task", list(CASES))
@pytest.mark.parametrize("arch", ["llama", "gemma3"])
@pytest.mark.parametrize("template", ["afp", "lm_eval"])
def test_evaluate_lls_equal_naive(task, arch, template, tokenizer, data_dir, long_model_factory):
    model = long_model_factory(arch, tokenizer)
    lang, split = CASES[task]
    spec = load_task(task)
    cfg = EvalConfig(
        tasks=[task],
        languages=[lang],
        prompt_language="en",
        shots=[2],
        seeds=[3],
        template=template,
        split=split,
        demo_split=split if task == "xnli" else None,
        data_dir=str(data_dir),
        # gemma3: enough items for a group with its own cached prefix (>= 8 share demonstrations)
        limit=9 if arch == "gemma3" else 3,
        progress=False,
        batch_size=2,
        max_rows=3,
    )
    res = evaluate(model, tokenizer, cfg, log=lambda *_: None)
    (rows,) = res["predictions"].values()
    pool = {d["id"]: d for d in load_items(spec, "en", cfg.demo_split or spec.demo_split, data_dir)}
    items = {d["id"]: d for d in load_items(spec, lang, split, data_dir)}
    sep = spec.template(template, "en").separator
    worst = 0.0
    for row in rows:
        assert len(row["demos"]) == 2
        assert row["id"] not in row["demos"] or not spec.parallel
        demos = [render(spec, template, pool[d], "en", "en").demo() for d in row["demos"]]
        r = render(spec, template, items[row["id"]], lang, "en")
        for c, (ctx, cont) in enumerate(r.pairs):
            ctx_ids, cont_ids = encode_pair(tokenizer, prompt(demos, sep, ctx), cont)
            want = naive_ll(model, ctx_ids, cont_ids)
            worst = max(worst, abs(want - row["ll"][c]) / max(1.0, abs(want)))
    assert worst < 1e-5  # relative: log-likelihoods grow with the continuation


@pytest.mark.parametrize("split_head", [True, False])
@pytest.mark.parametrize("arch", ["llama", "gemma3", "xglm", "gpt2", "bloom"])
def test_other_architectures(arch, split_head, tokenizer, long_model_factory):
    model = long_model_factory(arch, tokenizer)
    shared = tokenizer.encode("Demo one. Yes\n\nDemo two, right? No\n\n")
    reqs = [
        Request(
            shared + tokenizer.encode(q, add_special_tokens=False),
            [tokenizer.encode(c, add_special_tokens=False) for c in conts],
        )
        for q, conts in [
            ("A cat", [" sat", " sat on the mat", " ran"]),
            ("The dog barked loudly", [" Yes"]),
            ("", [" No", " Also so"]),
            ("Kucing duduk", [" di atas", " tikar."]),
        ]
    ]
    scorer = Scorer(model, batch_size=2, max_rows=4, use_split_head=split_head)
    assert (scorer._split is not None) == split_head  # head at scored positions only / full logits
    scorer.head_chunk = 5  # several chunks even for these short inputs
    fast = scorer.score(reqs, with_seq=True)
    # the cached prefix keeps at least one token of every context out
    k = min(common_prefix_length([r.context for r in reqs]), min(len(r.context) for r in reqs) - 1)
    for r, s in zip(reqs, fast, strict=True):
        for c, ll, ls in zip(r.continuations, s.ll, s.ll_seq, strict=True):
            assert math.isclose(ll, naive_ll(model, r.context, c), rel_tol=1e-5, abs_tol=1e-5)
            # whole sequence after the shared prefix (its first token is predicted by the prefix)
            want = naive_ll(model, r.context[:k], r.context[k:] + c) - _first(model, r, k)
            assert math.isclose(ls, want, rel_tol=1e-5, abs_tol=1e-5)


def _first(model, r, k):
    return naive_ll(model, r.context[:k], r.context[k : k + 1]) if k < len(r.context) else 0.0


def test_seq_scores_whole_sequence(right_tokenizer, long_model_factory):
    model = long_model_factory("gemma3", right_tokenizer)
    tok = right_tokenizer
    reqs = [
        Request(
            tok.encode("The trophy did not fit because the trophy"),
            [tok.encode(" was big.", add_special_tokens=False)],
        ),
        Request(
            tok.encode("The trophy did not fit because the suitcase"),
            [tok.encode(" was big.", add_special_tokens=False)],
        ),
    ]
    out = Scorer(model).score(reqs, with_seq=True)
    k = min(common_prefix_length([r.context for r in reqs]), min(len(r.context) for r in reqs) - 1)
    for r, s in zip(reqs, out, strict=True):
        full = naive_ll(model, r.context[: k + 1], r.context[k + 1 :] + r.continuations[0])
        assert math.isclose(s.ll_seq[0], full, rel_tol=1e-5, abs_tol=1e-5)
    # the two contexts differ, so the whole-sequence scores differ by more than the continuation scores
    assert out[0].ll_seq[0] - out[1].ll_seq[0] != pytest.approx(out[0].ll[0] - out[1].ll[0], abs=1e-3)


def test_too_long_is_an_error(right_tokenizer):
    from crossalign.testing import tiny_model

    model = tiny_model("llama", right_tokenizer, max_positions=16)
    with pytest.raises(ValueError, match="exceed the model's maximum of 16"):
        Scorer(model).score([Request(list(range(3, 15)), [[5, 6, 7, 8, 9]])])


def test_peft_wrapped_model(right_tokenizer, long_model_factory):
    from peft import LoraConfig, get_peft_model

    from crossalign.testing import tiny_model

    tok = right_tokenizer
    model = get_peft_model(tiny_model("llama", tok, max_positions=1024),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.eval()
    shared = tok.encode("Demo one. Yes\n\nDemo two, right? No\n\n")
    reqs = [Request(shared + tok.encode(q, add_special_tokens=False), [tok.encode(c, add_special_tokens=False)
                                                                       for c in (" sat", " sat on the mat")])
            for q in ("A cat", "The dog barked loudly", "Kucing")]
    for r, s in zip(reqs, Scorer(model, batch_size=3).score(reqs), strict=True):
        for c, ll in zip(r.continuations, s.ll, strict=True):
            assert math.isclose(ll, naive_ll(model, r.context, c), rel_tol=1e-5, abs_tol=1e-5)


def test_split_head_probe_rejects_a_mismatch(right_tokenizer):
    from crossalign.testing import tiny_model

    model = tiny_model("llama", right_tokenizer)
    assert Scorer(model)._split is not None
    # a soft-cap that LlamaForCausalLM does not apply: head(decoder(x)) no longer equals the logits
    model.config.final_logit_softcapping = 0.5
    assert Scorer(model)._split is None


def _check_naive(model, reqs, out, k=None):
    if k is None:
        k = min(common_prefix_length([r.context for r in reqs]), min(len(r.context) for r in reqs) - 1)
    for r, s in zip(reqs, out, strict=True):
        for c, ll, ls in zip(r.continuations, s.ll, s.ll_seq, strict=True):
            assert math.isclose(ll, naive_ll(model, r.context, c), rel_tol=1e-5, abs_tol=1e-5)
            want = naive_ll(model, r.context[:k], r.context[k:] + c) - _first(model, r, k)
            assert math.isclose(ls, want, rel_tol=1e-5, abs_tol=1e-5)


def _shared_requests(tok):
    """Continuations sharing leading tokens (scored once in the context pass), one that is a
    prefix of another, single tokens, and a request with one long continuation."""
    enc = lambda s: tok.encode(s, add_special_tokens=False)
    shared = tok.encode("Demo one. Yes\n\nDemo two, right? No\n\n")
    common = enc(" the cat sat")
    return [
        Request(shared + enc("Then"), [common + enc(" on the mat"), common + enc(" down"), common]),
        Request(shared + enc("A dog"), [enc(" Yes"), enc(" No"), enc(" Yes") + enc(" No")]),
        Request(shared + enc("Kucing duduk di atas"), [enc(" tikar. Ang pusa ay nakaupo sa banig.")]),
        Request(shared + enc("The man broke his toe."), [common + enc(" on"), common + enc(" down")]),
    ]


@pytest.mark.parametrize("split_head", [True, False])
@pytest.mark.parametrize("arch", ["llama", "gemma3", "xglm", "gpt2", "bloom"])
def test_shared_continuation_tokens_equal_naive(arch, split_head, tokenizer, long_model_factory):
    model = long_model_factory(arch, tokenizer)
    reqs = _shared_requests(tokenizer)
    assert common_prefix_length(reqs[0].continuations) >= 2  # the case under test is there
    for batch_size, chunk in [(1, 2), (4, 10_000)]:
        scorer = Scorer(model, batch_size=batch_size, max_rows=8, use_split_head=split_head)
        scorer.head_chunk = chunk  # several projections per batch / one for every batch at the end
        _check_naive(model, reqs, scorer.score(reqs, with_seq=True))


class _Counted(Scorer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.passes, self.flushes = [], 0

    def _score_rests(self, rests, *args):
        self.passes.append(len(rests))
        super()._score_rests(rests, *args)

    def _flush(self, acc):
        self.flushes += bool(self._queue)
        super()._flush(acc)


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_continuation_pass_only_when_needed(arch, right_tokenizer, long_model_factory):
    """A batch whose continuations are single tokens past their shared part is scored in one
    forward pass (the context pass); a batch with longer ones adds the continuation pass."""
    tok = right_tokenizer
    model = long_model_factory(arch, tok)
    enc = lambda s: tok.encode(s, add_special_tokens=False)
    one = [Request(tok.encode("Is it so?"), [enc(" Yes")[:1], enc(" No")[:1]]),
           Request(tok.encode("Kucing duduk"), [enc(" di atas tikar.")]),  # one continuation: all in pass 1
           Request(tok.encode("A cat"), [enc(" sat on"), enc(" sat") + enc(" No")[:1]])]  # 1 token past shared
    sat = len(enc(" sat"))
    assert [len(c) for c in one[2].continuations] == [sat + 1, sat + 1]
    assert len(enc(" Yes, right?")) >= 2 and len(one[1].continuations[0]) >= 2
    scorer = _Counted(model, batch_size=8)
    out = scorer.score(one, with_seq=True)
    assert scorer.passes == []
    _check_naive(model, one, out)
    two = [*one, Request(tok.encode("The dog barked loudly"), [enc(" Yes, right?"), enc(" No")])]
    scorer = _Counted(model, batch_size=8)
    out = scorer.score(two, with_seq=True)
    assert scorer.passes == [1]  # only the two-token-or-longer rest gets a row
    _check_naive(model, two, out)


def test_head_queue_spans_batches(right_tokenizer, long_model_factory):
    """Hidden states of several forward batches go through the head together."""
    model = long_model_factory("gemma3", right_tokenizer)
    reqs = _shared_requests(right_tokenizer) * 3
    scorer = _Counted(model, batch_size=1)
    out = scorer.score(reqs, with_seq=True)
    assert scorer.flushes == 1  # 12 batches, one head projection
    _check_naive(model, reqs, out)
    scorer = _Counted(model, batch_size=1)
    scorer.head_chunk = 1
    again = scorer.score(reqs, with_seq=True)
    assert scorer.flushes >= 12
    for a, b in zip(again, out, strict=True):
        assert a.ll == pytest.approx(b.ll, rel=1e-6, abs=1e-6)
        assert a.ll_seq == pytest.approx(b.ll_seq, rel=1e-6, abs=1e-6)


def test_non_linear_output_layer(right_tokenizer, long_model_factory):
    """An output module that is not a plain nn.Linear is applied as a module."""
    model = long_model_factory("llama", right_tokenizer)
    reqs = _shared_requests(right_tokenizer)
    scorer = Scorer(model, batch_size=2)
    decoder, layer, head = scorer._split

    class Wrapped(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x)

    scorer._split = (decoder, Wrapped(layer), head)
    _check_naive(model, reqs, scorer.score(reqs, with_seq=True))

"""Demonstration choice (fixed per seed, per item as lm-evaluation-harness draws them) and
tokenization of (context, continuation) pairs."""

from __future__ import annotations

import random

import pytest

from crossalign.eval.demos import choose_demos
from crossalign.eval.render import encode_pair, fill

POOL = [{"id": str(i)} for i in range(20)]


def ids(demos):
    return [[d["id"] for d in ds] for ds in demos]


def test_fixed_is_the_reference_shuffle_and_never_the_item():
    order = list(POOL)
    random.Random(7).shuffle(order)  # the reference: random.seed(seed); shuffle; first k
    out = ids(choose_demos(POOL, POOL, 4, seed=7, mode="fixed", exclude_same_id=True))
    first4 = [d["id"] for d in order[:4]]
    for item, ds in zip(POOL, out, strict=True):
        assert item["id"] not in ds and len(ds) == 4
        if item["id"] not in first4:
            assert ds == first4
        else:  # the item's slot goes to the fifth demonstration, order kept
            assert ds == [x for x in (d["id"] for d in order[:5]) if x != item["id"]]
    other = ids(choose_demos(POOL, POOL[:1], 4, seed=8, mode="fixed", exclude_same_id=False))
    assert other[0] != ids(choose_demos(POOL, POOL[:1], 4, seed=7, mode="fixed", exclude_same_id=False))[0]


def test_per_item_matches_harness_sampler():
    items = POOL[:6]
    out = ids(choose_demos(POOL, items, 3, seed=1234, mode="per_item", exclude_same_id=True))
    rng = random.Random(1234)  # lm-eval: rnd.sample(docs, n + 1), drop the evaluated doc, keep n
    expect = [[d["id"] for d in rng.sample(POOL, 4) if d["id"] != it["id"]][:3] for it in items]
    assert out == expect
    assert len({tuple(x) for x in out}) > 1 and all(
        it["id"] not in ds for it, ds in zip(items, out, strict=True)
    )
    rng = random.Random(5)
    assert ids(choose_demos(POOL, items, 3, 5, "per_item", exclude_same_id=False)) == [
        [d["id"] for d in rng.sample(POOL, 3)] for _ in items
    ]


def test_demo_errors():
    assert choose_demos(POOL, POOL[:2], 0, 0, "fixed", exclude_same_id=True) == [[], []]
    with pytest.raises(ValueError, match="valid modes: fixed, per_item"):
        choose_demos(POOL, POOL, 2, 0, "random", exclude_same_id=True)
    with pytest.raises(ValueError, match="5-shot needs 6 demonstrations"):
        choose_demos(POOL[:5], POOL, 5, 0, "fixed", exclude_same_id=True)


def test_encode_pair_moves_trailing_space(right_tokenizer):
    tok = right_tokenizer
    ctx, cont = encode_pair(tok, "The cat sits ", "on the mat.")
    assert ctx == tok.encode("The cat sits")
    assert ctx + cont == tok.encode("The cat sits on the mat.")
    bos = tok.bos_token_id
    ctx, cont = encode_pair(tok, "", "Yes, the cat.")
    assert ctx == [bos] and cont == tok.encode("Yes, the cat.", add_special_tokens=False)


def test_fill_words_fields_filters():
    item = {"q": "cause", "s": "He fell _ down.", "c": "Apple"}
    words = {"because": "weil", "so": "also"}.__getitem__
    out = fill("{s|before_blank}|{s|after_blank|strip}|{c|lower_first}|{@because}", item, words)
    assert out == "He fell |down.|apple|weil"
    with pytest.raises(Exception, match="valid filters"):
        fill("{c|shout}", item, words)
    with pytest.raises(Exception, match="field 'x' is not in the item"):
        fill("{x}", item, words)

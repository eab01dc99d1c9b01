"""Encoding pairs to per-layer files: equal to model.encode, cached, stops early, cleans up."""

from __future__ import annotations

import numpy as np
import pytest

from crossalign.analysis.pooling_variants import POOLING_VARIANTS, parse_variant, variant_name
from crossalign.analysis.representations import encode_representations
from crossalign.model.encode import encode
from crossalign.model.layers import decoder_layers
from crossalign.testing import assert_close, tiny_model, tiny_tokenizer


@pytest.mark.parametrize("arch", ["gemma3", "bloom"])
def test_same_as_encode_for_every_variant(tokenizer, arch, make_pairs):
    model = tiny_model(arch, tokenizer)
    pairs = make_pairs(n=9)
    variants = ["mean", "last", "mean+special"]
    with encode_representations(model, tokenizer, pairs, [0, 2, 4], variants, batch_size=4, progress=False) as reps:
        assert reps.poolings == variants
        for variant in variants:
            pooling, special = parse_variant(variant)
            for lang, (piv, other) in pairs.items():
                ref = encode(model, tokenizer, [*piv, *other], [0, 2, 4], pooling, special, batch_size=5)
                for layer in (0, 2, 4):
                    got_piv, got_other = reps.pair(variant, layer, lang)
                    assert_close(np.concatenate([got_piv, got_other]), ref[layer], what=f"{variant} {layer}")
        labels = reps.labels()
        assert list(labels[:9]) == ["en"] * 9 and list(labels[9:18]) == ["de"] * 9
        directory = reps.directory
    assert not directory.exists()  # temporary files removed on close


@pytest.mark.parametrize("arch", ["gpt2", "xglm"])
def test_independent_of_batching_with_absolute_positions(arch, make_pairs):
    """A left-padding tokenizer must not make a sentence's states depend on its batch-mates."""
    left = tiny_tokenizer("left")
    model = tiny_model(arch, left)
    pairs = make_pairs(n=6)
    with encode_representations(model, left, pairs, [0, 4], ["mean", "last"], batch_size=7, progress=False) as a, \
            encode_representations(model, left, pairs, [0, 4], ["mean", "last"], batch_size=1, progress=False) as b:
        for variant in ("mean", "last"):
            for layer in (0, 4):
                assert_close(a.array(variant, layer), b.array(variant, layer), what=f"{variant} {layer}")


def test_cache_reuse_and_invalidation(right_tokenizer, gemma, tmp_path, make_pairs):
    pairs = make_pairs(n=6)
    with encode_representations(gemma, right_tokenizer, pairs, [1, 2], "mean", cache_dir=tmp_path, progress=False) as a:
        assert a.meta["computed"] == ["mean-L1", "mean-L2"]
        first = np.array(a.array("mean", 2))
    with encode_representations(gemma, right_tokenizer, pairs, [1, 2, 3], "mean", cache_dir=tmp_path,
                      progress=False) as b:
        assert b.meta["computed"] == ["mean-L3"]  # layers 1 and 2 come from the cache
        np.testing.assert_array_equal(np.array(b.array("mean", 2)), first)
        assert b.directory == a.directory
    assert a.directory.exists()  # a cache is kept
    assert not list(tmp_path.rglob("*.tmp"))
    # other weights (same config, same path) -> another cache entry
    other = tiny_model("gemma3", right_tokenizer, seed=1)
    with encode_representations(other, right_tokenizer, pairs, [2], "mean", cache_dir=tmp_path, progress=False) as c:
        assert c.directory != a.directory and c.meta["computed"] == ["mean-L2"]
    # other sentences -> another entry
    with encode_representations(gemma, right_tokenizer, make_pairs(n=6, seed=3), [2], "mean", cache_dir=tmp_path,
                      progress=False) as d:
        assert d.directory not in (a.directory, c.directory)


def test_forward_stops_at_highest_layer(right_tokenizer, gemma, make_pairs):
    calls = {i: 0 for i in range(4)}
    handles = [block.register_forward_hook(lambda m, a, o, i=i: calls.__setitem__(i, calls[i] + 1))
               for i, block in enumerate(decoder_layers(gemma))]
    try:
        with encode_representations(gemma, right_tokenizer, make_pairs(n=4), [1, 2], "mean", batch_size=8,
                          progress=False):
            pass
    finally:
        for h in handles:
            h.remove()
    assert calls[0] > 0 and calls[1] > 0
    assert calls[2] == 0 and calls[3] == 0  # blocks above the highest requested state never run


def test_float16_storage(right_tokenizer, gemma, make_pairs):
    with encode_representations(gemma, right_tokenizer, make_pairs(n=4), [2], "mean", dtype="float16",
                      progress=False) as reps:
        assert reps.array("mean", 2).dtype == np.float16


def test_bad_inputs(right_tokenizer, gemma, make_pairs):
    with pytest.raises(ValueError, match=r"valid layers are 0\.\.4"):
        encode_representations(gemma, right_tokenizer, make_pairs(n=4), [5], progress=False)
    with pytest.raises(ValueError, match="3 pivot sentences but 2"):
        encode_representations(gemma, right_tokenizer, {"de": (["a", "b", "c"], ["x", "y"])}, [1], progress=False)
    with pytest.raises(ValueError, match="pair 2 has an empty sentence"):
        encode_representations(gemma, right_tokenizer, {"de": (["a", "b"], ["x", "  "])}, [1], progress=False)
    with pytest.raises(ValueError, match="unknown pooling 'max'"):
        encode_representations(gemma, right_tokenizer, make_pairs(n=4), [1], "max", progress=False)


def test_pooling_variants_are_every_method_with_and_without_special():
    assert POOLING_VARIANTS == ("mean", "last", "mean+special", "last+special")  # --pooling's choices, in order
    for variant in POOLING_VARIANTS:
        assert variant_name(*parse_variant(variant)) == variant
    assert parse_variant("last", include_special=True) == ("last", True)
    with pytest.raises(ValueError, match="unknown pooling 'max'"):
        parse_variant("max")

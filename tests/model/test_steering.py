"""Steering maps: fitted on pairs, applied by hooks at one block's input, removed after."""

from __future__ import annotations

import pytest
import torch

from crossalign.model.layers import hidden_states_at
from crossalign.model.steering import fit_steering, incline_weight, steered
from crossalign.testing import assert_close, tiny_model, tiny_tokenizer

ENG = ["the cat sat on the mat", "a dog ran home", "birds fly south", "we eat bread at noon", "it rains today"]
OTHER = ["le chat dort", "un chien court vite", "les oiseaux volent", "nous mangeons du pain", "il pleut"]


@pytest.fixture(scope="module")
def lm():
    tok = tiny_tokenizer()
    return tiny_model("llama", tok, layers=4).eval(), tok


def _input_of(model, tok, text, layer):
    enc = tok([text], return_tensors="pt")
    return hidden_states_at(model, enc["input_ids"], enc["attention_mask"], [layer])[layer][0]


def test_mean_shift_moves_the_language_mean_onto_englishs(lm):
    model, tok = lm
    s = fit_steering(model, tok, {"fr": (ENG, OTHER)}, layers=[2], method="mean_shift")
    shift = s.maps["fr"][2]["shift"]
    h = torch.randn(3, shift.shape[0])
    assert_close(s.apply(h, "fr", 2), h + shift, what="mean shift")
    # the shift is the difference of the mean-pooled sentence representations
    from crossalign.model.encode import encode
    e = encode(model, tok, ENG, layers=[2])[2].mean(0)
    o = encode(model, tok, OTHER, layers=[2])[2].mean(0)
    assert_close(shift, e - o, rtol=1e-5, what="shift = mu_en - mu_fr")


def test_incline_weight_is_least_squares_and_shrinks_to_the_identity():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 8, generator=g, dtype=torch.float64)
    true = torch.randn(8, 8, generator=g, dtype=torch.float64)
    y = x @ true + 3.0
    # enough pairs, no penalty: the exact map
    assert_close(incline_weight(x, y, ridge=0.0).double(), true, rtol=1e-4, what="least squares")
    # a huge penalty: the identity (the map becomes the mean shift)
    assert_close(incline_weight(x, y, ridge=1e9).double(), torch.eye(8, dtype=torch.float64), rtol=1e-5,
                 atol=1e-6, what="identity")


def test_incline_maps_the_fitted_sentences_closer_to_english(lm):
    model, tok = lm
    from crossalign.model.encode import encode
    s = fit_steering(model, tok, {"fr": (ENG, OTHER)}, layers=[2], method="incline", ridge=0.01)
    e, o = encode(model, tok, ENG, layers=[2])[2], encode(model, tok, OTHER, layers=[2])[2]
    before = (o - e).norm()
    after = (s.apply(o, "fr", 2) - e).norm()
    assert after < 0.5 * before


def test_hooks_change_the_block_input_only_inside_and_leave_other_layers(lm):
    model, tok = lm
    s = fit_steering(model, tok, {"fr": (ENG, OTHER)}, layers=[2], method="mean_shift", strength=1.0)
    enc = tok(["le chat mange"], return_tensors="pt")
    plain = model(**enc).logits
    below = _input_of(model, tok, "le chat mange", 1)
    with steered(model, s, "fr"):
        moved = model(**enc).logits
        below_in = _input_of(model, tok, "le chat mange", 1)
    after = model(**enc).logits
    assert (moved - plain).abs().max() > 1e-3  # steering changed the output
    assert_close(after, plain, what="hooks removed")
    assert_close(below_in, below, what="a layer below the steered one")
    # the steered block receives exactly the shifted hidden state
    from crossalign.model.layers import decoder_layers
    seen = {}
    block = decoder_layers(model)[2]
    with steered(model, s, "fr"):
        def capture(module, args, kwargs):
            seen["x"] = args[0] if args else kwargs["hidden_states"]

        h = block.register_forward_pre_hook(capture, with_kwargs=True)
        model(**enc)
        h.remove()
    assert_close(seen["x"][0], _input_of(model, tok, "le chat mange", 2) + s.maps["fr"][2]["shift"],
                 what="block 2 input")
    zero = fit_steering(model, tok, {"fr": (ENG, OTHER)}, layers=[2], method="mean_shift", strength=0.0)
    with steered(model, zero, "fr"):
        assert_close(model(**enc).logits, plain, what="strength 0")


def test_unknown_language_and_bad_layers_are_errors(lm):
    model, tok = lm
    s = fit_steering(model, tok, {"fr": (ENG, OTHER)}, layers=[1], method="mean_shift")
    with pytest.raises(KeyError, match="no steering map for 'de'"), steered(model, s, "de"):
        pass
    with pytest.raises(ValueError, match=r"give layers in 1\.\.3"):
        fit_steering(model, tok, {"fr": (ENG, OTHER)}, layers=[4])
    with pytest.raises(ValueError, match="choose from"):
        fit_steering(model, tok, {"fr": (ENG, OTHER)}, layers=[1], method="rotate")

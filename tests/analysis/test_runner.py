"""The per-layer runner: layer specs, the recommendation, and behaviour on pairs with a known answer."""

from __future__ import annotations

import json

import pytest

from crossalign.analysis.inputs import group_by_language
from crossalign.analysis.runner import analyze_model, recommend_layer, resolve_layers
from crossalign.errors import InputError


def test_resolve_layers():
    assert resolve_layers("all", 4) == [0, 1, 2, 3, 4]
    assert resolve_layers("4, 0,-1", 4) == [0, 4]
    assert resolve_layers([2, "middle"], 4) == [2]
    with pytest.raises(ValueError, match=r"valid layers are 0\.\.4"):
        resolve_layers("1,7", 4)
    with pytest.raises(ValueError, match="no layers"):
        resolve_layers("", 4)


def _results(values: dict[str, dict[int, float]]) -> dict:
    return {"per_layer": {pooling: {str(layer): {"summary": {"retrieval": v}}
                                    for layer, v in by_layer.items()}
                          for pooling, by_layer in values.items()}}


def test_recommend_layer():
    res = _results({"mean": {0: 0.9, 1: 0.2, 2: 0.6, 3: 0.6}, "last": {1: 0.5, 2: 0.61}})
    assert recommend_layer(res) == (2, "last")
    assert recommend_layer(res, include_embedding=True) == (0, "mean")
    tie = _results({"mean": {1: 0.4, 2: 0.7, 3: 0.7}})
    assert recommend_layer(tie) == (2, "mean")  # ties go to the lower layer
    assert recommend_layer(_results({"mean": {0: 0.3}})) == (0, "mean")  # only layer 0 analysed
    with pytest.raises(ValueError, match="choose from"):
        recommend_layer(res, metric="bleu")


def test_recommend_layer_tie_between_poolings_goes_to_the_first_listed():
    assert recommend_layer(_results({"mean": {1: 0.5, 2: 0.7}, "last": {2: 0.7, 3: 0.7}})) == (2, "mean")
    assert recommend_layer(_results({"last": {2: 0.7, 3: 0.7}, "mean": {1: 0.5, 2: 0.7}})) == (2, "last")
    assert recommend_layer(_results({"mean": {1: 0.2}, "last": {0: 0.9, 1: 0.3}})) == (1, "last")

def test_identical_translations_are_perfectly_aligned(right_tokenizer, gemma, make_pairs):
    # Every "translation" is the pivot sentence itself: retrieval must be perfect at every layer,
    # alignment 0, and translations more similar than other pairs.
    pairs = make_pairs(n=10, identical=True)
    res = analyze_model(gemma, right_tokenizer, pairs, layers="1,-1", pooling=["mean", "last"],
                        progress=False, probe_folds=2, projection_layers=None)
    assert res["layers"] == [1, 4] and res["poolings"] == ["mean", "last"]
    for pooling in ("mean", "last"):
        for layer in ("1", "4"):
            s = res["per_layer"][pooling][layer]["summary"]
            # (the margin can rightly prefer an isolated neighbour, so only cosine must be perfect)
            assert s["retrieval"] == pytest.approx(1.0)
            assert s["alignment"] == pytest.approx(0.0, abs=1e-6)
            assert s["pair_cosine"] == pytest.approx(1.0, abs=1e-5)
            assert s["cosine_gap"] > 0
            per_lang = res["per_layer"][pooling][layer]["languages"]
            assert set(per_lang) == {"de", "fr", "zh"} and per_lang["de"]["pairs"] == 10
    json.dumps(res)  # JSON-ready


def test_analyze_model_end_to_end(right_tokenizer, gemma, make_pairs):
    pairs = make_pairs(n=12)
    res = analyze_model(gemma, right_tokenizer, pairs, layers="all", progress=False, probe_folds=2,
                        projection_max_per_language=6)
    assert res["layers"] == [0, 1, 2, 3, 4] and res["pivot"] == "en"
    rec = res["recommended"]
    assert (rec["layer"], rec["pooling"]) == recommend_layer(res)
    assert rec["value"] == res["per_layer"]["mean"][str(rec["layer"])]["summary"]["retrieval"]
    proj = res["projections"]["mean"][str(rec["layer"])]
    assert len(proj["labels"]) == 6 * 4  # 6 pivot rows + 6 per language
    assert len(proj["pca"]) == len(proj["tsne"]) == len(proj["labels"])
    s = res["per_layer"]["mean"]["2"]["summary"]
    for key in ("to_pivot", "from_pivot", "uniformity", "probe_accuracy", "silhouette", "random_cosine"):
        assert key in s
    with pytest.raises(ValueError, match=r"valid layers are 0\.\.4"):
        analyze_model(gemma, right_tokenizer, pairs, layers="9", progress=False)


class _P:
    def __init__(self, sl, tl, src, tgt, origin=None):
        self.src_lang, self.tgt_lang, self.src, self.tgt, self.origin = sl, tl, src, tgt, origin


def test_group_by_language():
    pairs = [_P("de", "en", "Hallo", "Hello"), _P("en", "fr", "Yes", "Oui"), _P("de", "en", "Ja", "Yes"),
             _P("de", "en", "Nein", "No"), _P("fr", "en", "Non", "No")]
    out = group_by_language(pairs, pivot="eng", max_per_language=2)
    assert out == {"de": (["Hello", "Yes"], ["Hallo", "Ja"]), "fr": (["Yes", "No"], ["Oui", "Non"])}
    with pytest.raises(InputError, match=r"^data/x\.tsv:7: pair de-fr has no 'en'"):
        group_by_language([*pairs, _P("de", "fr", "a", "b", "data/x.tsv:7")])
    with pytest.raises(InputError, match="fewer than 2 pairs"):
        group_by_language([_P("de", "en", "a", "b"), *pairs[1:2], *pairs[4:]])

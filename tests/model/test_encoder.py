"""crossalign.Encoder: sentence-transformers / MTEB calls on tiny models, the layer it chooses, and
retrieval on real Tatoeba equal to the analysis' retrieval at the same layer and pooling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from crossalign import Encoder
from crossalign.errors import ConfigError
from crossalign.model.encode import encode
from crossalign.testing import assert_close, tiny_model, tiny_tokenizer

SENTENCES = ["The cat sits on the mat.", "Kucing.", "Die Katze sitzt auf der Matte, ja wirklich.", "猫"]


@pytest.fixture(scope="module")
def tiny():
    tok = tiny_tokenizer(padding_side="left")
    return tiny_model("gemma3", tok), tok


def _differs(a, b, rtol: float = 1e-3) -> bool:
    """True when two embedding arrays differ by more than ``rtol`` of the second's largest magnitude."""
    return float(np.abs(np.asarray(a) - np.asarray(b)).max()) > rtol * float(np.abs(np.asarray(b)).max())


def test_embeddings_are_the_pooled_states_of_the_layer(tiny):
    model, tok = tiny
    enc = Encoder(model, tok, layer=2, pooling="mean")
    emb = enc.encode(SENTENCES, batch_size=3)
    assert isinstance(emb, np.ndarray) and emb.dtype == np.float32 and emb.shape == (4, 32)
    assert_close(emb, encode(model, tok, SENTENCES, layers=[2])[2], what="mean, layer 2")
    assert _differs(emb, encode(model, tok, SENTENCES, layers=[3])[3].numpy())  # the layer matters
    last = Encoder(model, tok, layer=3, pooling="last").encode(SENTENCES)
    assert_close(last, encode(model, tok, SENTENCES, layers=[3], pooling="last")[3], what="last, layer 3")
    special = Encoder(model, tok, layer=3, pooling="mean", include_special=True).encode(SENTENCES)
    assert_close(special, encode(model, tok, SENTENCES, layers=[3], include_special=True)[3], what="mean+special")
    assert _differs(special, Encoder(model, tok, layer=3).encode(SENTENCES))  # BOS is pooled
    assert_close(enc.encode(SENTENCES, batch_size=1), emb, what="one sentence a batch")
    assert enc.get_sentence_embedding_dimension() == 32
    attention = [m for m in model.modules() if hasattr(m, "attention_dropout")]
    model.train()  # a model in training (dropout on) gets eval-mode embeddings and stays in training
    try:
        for module in attention:
            module.attention_dropout = 0.5
        assert_close(enc.encode(SENTENCES, batch_size=3), emb, what="encoded while training")
        assert model.training
    finally:
        for module in attention:
            module.attention_dropout = 0.0
        model.eval()


def test_sentence_transformers_return_types(tiny):
    model, tok = tiny
    enc = Encoder(model, tok, layer=-1)
    assert enc.layer == 4 and Encoder(model, tok, layer="middle").layer == 2
    emb = enc.encode(SENTENCES)
    one = enc.encode(SENTENCES[2])
    assert one.shape == (32,)
    assert_close(one, emb[2], what="one sentence")
    tensor = enc.encode(SENTENCES, convert_to_tensor=True)
    assert isinstance(tensor, torch.Tensor) and tensor.shape == (4, 32)
    rows = enc.encode(SENTENCES, convert_to_numpy=False)
    assert isinstance(rows, list) and len(rows) == 4 and rows[0].shape == (32,)
    unit = enc.encode(SENTENCES, normalize_embeddings=True)
    assert_close(np.linalg.norm(unit, axis=1), np.ones(4), what="unit norms")
    assert_close(unit, F.normalize(torch.from_numpy(emb), dim=-1), what="normalized")
    assert enc.encode([]).shape == (0, 32)
    assert_close(enc.encode(["x"], prompt="query: "), enc.encode(["query: x"]), what="prompt")
    sim = enc.similarity(emb, emb[:2])
    want = unit @ unit[:2].T
    assert sim.shape == (4, 2)
    assert_close(sim, want, what="similarity")
    assert_close(enc.similarity_pairwise(emb, unit), np.ones(4), what="pairwise similarity")


def test_mteb_batches_and_task_arguments(tiny):
    """MTEB 2.x gives a DataLoader of {"text": [...]} batches and the task's metadata."""
    model, tok = tiny
    enc = Encoder(model, tok, layer=2)
    batches = torch.utils.data.DataLoader([{"text": s} for s in SENTENCES], batch_size=3)
    emb = enc.encode(batches, task_metadata=None, hf_split="test", hf_subset="deu-eng", prompt_type=None,
                     batch_size=2, show_progress_bar=False, precision="float32")
    assert_close(emb, enc.encode(SENTENCES), what="batches vs list")
    with pytest.raises(TypeError, match="batch 0"):
        enc.encode([[1, 2]].__iter__())
    with pytest.raises(TypeError, match=r"inputs\[1\]"):
        enc.encode(["ok", 3])
    with pytest.raises(TypeError):
        enc.encode(SENTENCES, output_value="token_embeddings")  # not offered: refused, not ignored
    with pytest.raises(ValueError, match="precision"):
        enc.encode(SENTENCES, precision="int8")


def test_bad_layer_and_pooling_are_refused(tiny):
    model, tok = tiny
    with pytest.raises(ConfigError, match=r"layer: layer 9 does not exist.*0\.\.4"):
        Encoder(model, tok, layer=9)
    with pytest.raises(ConfigError, match="layer: 'nine'"):
        Encoder(model, tok, layer="nine")
    with pytest.raises(ConfigError, match="pooling: 'max'"):
        Encoder(model, tok, layer=1, pooling="max")
    with pytest.raises(ConfigError, match="'auto' needs a checkpoint written by crossalign train"):
        Encoder(model, tok)  # a model from_config records no layer
    with pytest.raises(TypeError, match="tokenizer"):
        Encoder(model, layer=1)


def test_auto_takes_the_layer_and_pooling_a_trained_checkpoint_records(tmp_path):
    from transformers import AutoModelForCausalLM

    tok = tiny_tokenizer()
    tiny_model("llama", tok).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    (tmp_path / "crossalign_train.json").write_text(json.dumps({"layer": 3, "layer_scores": {}}))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"contrastive": {"pooling": "last",
                                                                          "include_special": True}}))
    enc = Encoder(str(tmp_path), device="cpu")
    assert (enc.layer, enc.pooling, enc.include_special) == (3, "last", True)
    assert enc.describe()["model"] == str(tmp_path) and enc.name == f"crossalign/{tmp_path.name}"
    want = encode(enc.model, enc.tokenizer, SENTENCES, layers=[3], pooling="last", include_special=True)[3]
    assert_close(enc.encode(SENTENCES), want, what="recorded layer and pooling")
    # a model object loaded from that folder is read the same way; explicit settings win
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert Encoder(loaded, tok).layer == 3
    mean = Encoder(loaded, tok, pooling="mean")  # the recorded include_special still applies
    want = encode(loaded, tok, SENTENCES, layers=[3], pooling="mean", include_special=True)[3]
    assert mean.include_special is True
    assert_close(mean.encode(SENTENCES), want, what="recorded include_special")
    explicit = Encoder(loaded, tok, layer=1, pooling="mean", include_special=False)
    assert (explicit.layer, explicit.pooling, explicit.include_special) == (1, "mean", False)


def test_auto_with_dev_pairs_is_trainings_layer_choice(tiny):
    """``dev_pairs`` picks the layer as ``contrastive.layer: auto`` does (train.monitor.choose_layer)."""
    from crossalign.train.monitor import choose_layer

    model, tok = tiny
    src = ["The cat sits on the mat.", "I like green tea.", "He dropped a hammer.", "Yes", "Translate: hi"]
    tgt = ["Die Katze sitzt auf der Matte.", "Ich mag grünen Tee.", "Er ließ einen Hammer fallen.", "Ja",
           "Übersetze: hallo"]
    enc = Encoder(model, tok, dev_pairs=(src, tgt))
    layer, scores = choose_layer(model, tok, src, tgt)
    assert enc.layer == layer and enc.layer_scores == pytest.approx(scores)
    assert set(enc.layer_scores) == {1, 2, 3, 4}
    with pytest.raises(ConfigError, match="dev_pairs"):
        Encoder(model, tok, dev_pairs=(src, tgt[:2]))


@pytest.mark.parametrize(("layer", "pooling"), [(2, "mean"), (3, "last")])
def test_tatoeba_retrieval_equals_the_analysis(shared_data, layer, pooling):
    """On real Tatoeba pairs, top-1 retrieval of the Encoder's embeddings is the number ``crossalign
    analyze`` reports for the same model, layer and pooling, language by language, both ways."""
    from crossalign.analysis.inputs import group_by_language
    from crossalign.analysis.runner import measure_model
    from crossalign.data.sources import PairsSpec, read_pairs
    from crossalign.retrieval import retrieval_accuracy

    files = [str(shared_data / "tatoeba" / f"tatoeba.{c}-eng.{c}") for c in ("deu", "cmn")]
    by_lang = group_by_language(read_pairs(PairsSpec(paths=files)), "en", max_per_language=150)
    tok = tiny_tokenizer()
    model = tiny_model("gemma3", tok, seed=3)
    results, reps = measure_model(model, tok, by_lang, layers=[layer], pooling=pooling, progress=False,
                                  separability=())
    enc = Encoder(model, tok, layer=layer, pooling=pooling)
    with reps:
        for lang, (eng, other) in by_lang.items():
            a, b = enc.encode(other), enc.encode(eng)  # (150, H) each
            ref_eng, ref_other = (np.array(x) for x in reps.pair(pooling, layer, lang))  # copies of the memory map
            assert_close(a, ref_other, what=f"{lang} embeddings")
            assert_close(b, ref_eng, what=f"en embeddings ({lang})")
            entry = results["per_layer"][pooling][str(layer)]["languages"][lang]
            to_pivot = retrieval_accuracy(torch.from_numpy(a), torch.from_numpy(b))
            from_pivot = retrieval_accuracy(torch.from_numpy(b), torch.from_numpy(a))
            assert (to_pivot, from_pivot) == pytest.approx((entry["to_pivot"], entry["from_pivot"]), abs=1e-9)
            assert 0 < to_pivot < 1  # a real measurement: neither nothing nor everything

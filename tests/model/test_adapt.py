"""LoRA, freezing and parameter counting on a tiny model; resume loading checks its input."""

from __future__ import annotations

import pytest
import torch

from crossalign.model.adapt import add_lora, freeze_embeddings, trainable_parameters
from crossalign.testing import tiny_model
from crossalign.train.checkpoint import load_lm_weights


def test_lora_trains_only_adapters_and_refuses_the_head(right_tokenizer):
    model = tiny_model("llama", right_tokenizer)
    _, total = trainable_parameters(model)
    lora = add_lora(model, r=2, alpha=4, target_modules=["q_proj", "v_proj"])
    trainable, total_after = trainable_parameters(lora)
    names = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)
    assert total_after == total + trainable
    with pytest.raises(ValueError, match="output layer"):
        add_lora(tiny_model("llama", right_tokenizer), target_modules=["lm_head"])
    with pytest.raises(ValueError, match="linear layers of this model"):
        add_lora(tiny_model("llama", right_tokenizer), target_modules=["no_such_module"])


def test_freeze_embeddings_counts_tied_once(right_tokenizer):
    model = tiny_model("gemma3", right_tokenizer)
    emb = model.get_input_embeddings().weight.numel()
    trainable, total = trainable_parameters(model)
    assert trainable == total
    freeze_embeddings(model)
    assert trainable_parameters(model) == (total - emb, total)
    assert not model.get_output_embeddings().weight.requires_grad  # tied: the same tensor


def test_load_lm_weights_roundtrip_and_mismatch(right_tokenizer, tmp_path):
    a = tiny_model("gemma3", right_tokenizer, seed=1)
    a.save_pretrained(tmp_path / "a")
    b = tiny_model("gemma3", right_tokenizer, seed=2)
    load_lm_weights(b, tmp_path / "a")
    for (n, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q), n
    other = tiny_model("llama", right_tokenizer)
    with pytest.raises(ValueError, match="does not have"):
        load_lm_weights(other, tmp_path / "a")
    with pytest.raises(FileNotFoundError):
        load_lm_weights(other, tmp_path)

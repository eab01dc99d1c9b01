"""The training module on every tiny architecture: early exit (acceptance 6), the output
layer at supervised positions, and the LM loss against the model's own loss."""

from __future__ import annotations

import pytest
import torch

from crossalign.data.collate import AlignmentCollator
from crossalign.data.samples import TrainSample
from crossalign.model.alignment import AlignmentModel
from crossalign.model.layers import num_layers
from crossalign.model.lm_head import check_output_head, head_logits, output_head
from crossalign.model.packing import packing_mode
from crossalign.model.pooling import pool
from crossalign.testing import ARCHITECTURES, assert_close, assert_grads_close, tiny_model
from crossalign.train.dataset import tokenize_samples

SAMPLES = [
    TrainSample(
        "The cat sits on the mat.",
        "猫坐在垫子上。",
        None,
        "I like green tea. Answer in German:",
        " Ich mag grünen Tee.",
        "t:1",
    ),
    TrainSample("Bonjour", "你好", None, "Translate into French:", " bonjour le chat", "t:2"),
    TrainSample(
        "He dropped a hammer on his foot.", "Er ließ einen Hammer fallen.", None, "Why?", " because", "t:3"
    ),
]


def _batch(tokenizer, batching="padding"):
    data, _ = tokenize_samples(tokenizer, SAMPLES, clm_max_length=64)
    collate = AlignmentCollator(tokenizer.pad_token_id, tokenizer.padding_side, batching)
    return collate([data[i] for i in range(len(data))])


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_early_exit_equals_full_forward(arch, tokenizer):
    model = tiny_model(arch, tokenizer)
    batch = _batch(tokenizer)
    for layer in (1, num_layers(model) // 2, num_layers(model)):
        module = AlignmentModel(model, layer, "mean")
        with torch.no_grad():
            reps = module.encode_pairs(
                batch["cl_input_ids"], batch["cl_attention_mask"], batch["cl_pool_mask"], 3
            )
            full = model(
                input_ids=batch["cl_input_ids"],
                attention_mask=batch["cl_attention_mask"],
                output_hidden_states=True,
            ).hidden_states[layer]
        ref = pool(full, batch["cl_pool_mask"], "mean")
        got = torch.cat([reps["anchors"], reps["positives"]])
        assert_close(got, ref, what=f"{arch} layer {layer}")


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_output_head_equals_model_logits(arch, right_tokenizer):
    model = tiny_model(arch, right_tokenizer)
    if arch == "gemma3":
        model.config.final_logit_softcapping = 2.0  # make the cap matter at tiny-model scale
    ids = torch.randint(3, 300, (2, 7))
    with torch.no_grad():
        ref = model(input_ids=ids).logits
        hidden = model.base_model(input_ids=ids).last_hidden_state
        ours = head_logits(output_head(model), hidden[:, [1, 4]])
    assert_close(ours, ref[:, [1, 4]].float(), what=arch)
    check_output_head(model, ids)
    if arch == "gemma3":
        model.config.final_logit_softcapping = None  # our head now caps nothing; the model does not either
        check_output_head(model, ids)


def test_check_output_head_catches_an_unknown_transform(right_tokenizer):
    model = tiny_model("llama", right_tokenizer)
    model.config.logit_scale = 3.0  # read by our head, ignored by Llama's forward
    with pytest.raises(ValueError, match="cannot reproduce"):
        check_output_head(model, torch.randint(3, 300, (1, 6)))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_lm_loss_equals_model_loss(arch, tokenizer):
    model = tiny_model(arch, tokenizer)
    batch = _batch(tokenizer)
    module = AlignmentModel(model, 1)
    with torch.no_grad():
        out = module(**batch)
        ref = model(
            input_ids=batch["clm_input_ids"],
            attention_mask=batch["clm_attention_mask"],
            labels=batch["clm_labels"],
        ).loss
    assert int(out["clm_count"]) == int(batch["num_targets"])
    assert_close(out["clm_sum"] / out["clm_count"], ref, what=arch)


@pytest.mark.parametrize("arch", ["gemma3", "gpt2"])
def test_module_head_path_equals_fused(arch, right_tokenizer):
    """The checkpointed path used under ZeRO-3/FSDP gives the fused path's loss and gradients."""
    model = tiny_model(arch, right_tokenizer)
    if arch == "gemma3":
        model.config.final_logit_softcapping = 2.0
    batch = _batch(right_tokenizer)
    results = []
    for impl in ("fused", "module"):
        model.zero_grad()
        out = AlignmentModel(model, 1, head_impl=impl, chunk_size=5)(**batch)
        out["clm_sum"].backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results.append((out["clm_sum"].detach(), grads))
    (a, ga), (b, gb) = results
    assert_close(a, b, what=arch)
    assert_grads_close(ga, gb, what=arch)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_packed_pairs_equal_padded_pairs(arch, tokenizer):
    """pack_pairs runs the contrastive pass on real tokens only (one packed row, or several with
    a small pair_pack_tokens) and gives the representations and gradients of the right-padded
    batch, for every architecture that can pack (left or right padding on input)."""
    model = tiny_model(arch, tokenizer)
    mode = packing_mode(model)
    if mode == "padding":
        with pytest.raises(ValueError, match="packing"):
            AlignmentModel(model, 1, packing=mode)
        return
    batch = _batch(tokenizer)
    right = AlignmentCollator(tokenizer.pad_token_id, "right", "padding")(
        [it for it in tokenize_samples(tokenizer, SAMPLES, clm_max_length=64)[0]]
    )
    ids, mask, pool_mask = batch["cl_input_ids"], batch["cl_attention_mask"], batch["cl_pool_mask"]
    assert (mask == 0).any()  # the batch has padding to skip
    results = []
    for layer in (1, num_layers(model)):
        for pack, budget in ((False, 2048), (True, 2048), (True, 10)):
            model.zero_grad()
            module = AlignmentModel(model, layer, "mean", mode, pack_pairs=pack, pair_pack_tokens=budget)
            if pack:
                reps = module.encode_pairs(ids, mask, pool_mask, 3)
            else:
                reps = module.encode_pairs(
                    right["cl_input_ids"], right["cl_attention_mask"], right["cl_pool_mask"], 3
                )
            got = torch.cat([reps["anchors"], reps["positives"]])
            (got * torch.linspace(-1, 1, got.shape[-1])).sum().backward()
            grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
            results.append((layer, pack, got.detach(), grads))
    for layer, pack, got, grads in results:
        _, _, want, want_grads = next(r for r in results if r[0] == layer and not r[1])
        assert_close(got, want, what=f"{arch} layer {layer} pack {pack}")
        assert_grads_close(grads, want_grads, what=f"{arch} layer {layer} pack {pack}")


def test_packed_pairs_skip_the_padding(right_tokenizer, monkeypatch):
    """The packed contrastive pass feeds the model rows of real tokens only, within the budget."""
    model = tiny_model("llama", right_tokenizer)
    batch = _batch(right_tokenizer)
    seen = []
    monkeypatch.setattr(
        "crossalign.model.alignment.hidden_states_at",
        lambda lm, ids, attn, layers, position_ids=None: seen.append(ids.shape) or {1: torch.zeros(*ids.shape, 64)},
    )
    lengths = batch["cl_attention_mask"].sum(dim=1).tolist()
    AlignmentModel(model, 1, pack_pairs=True, pair_pack_tokens=max(lengths) + 1).encode_pairs(
        batch["cl_input_ids"], batch["cl_attention_mask"], batch["cl_pool_mask"], 3
    )
    assert sum(s[1] for s in seen) == sum(lengths) < batch["cl_input_ids"].numel()
    assert all(s[0] == 1 and s[1] <= max(lengths) + 1 for s in seen) and len(seen) > 1


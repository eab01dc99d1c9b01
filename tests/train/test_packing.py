"""Acceptance 5: a packed sample's logits equal those of the same sample run alone, on every
architecture that can pack; the others are detected and batched by padding."""

from __future__ import annotations

import pytest
import torch

from crossalign.data.collate import AlignmentCollator
from crossalign.model.alignment import AlignmentModel
from crossalign.model.lm_head import head_logits, output_head
from crossalign.model.packing import block_causal_mask, packed_model_inputs, packing_mode
from crossalign.testing import ARCHITECTURES, assert_close, tiny_model

EXPECTED_MODE = {
    "llama": "position_ids",
    "gemma3": "position_ids",
    "gpt2": "position_ids",
    "xglm": "mask4d",
    "bloom": "padding",
}


def test_block_causal_mask_by_hand():
    m = block_causal_mask([2, 1], torch.float32)[0, 0]
    allowed = (m == 0).int().tolist()
    assert allowed == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_packed_logits_equal_alone(arch, right_tokenizer):
    model = tiny_model(arch, right_tokenizer)
    mode = packing_mode(model)
    assert mode == EXPECTED_MODE[arch]
    if mode == "padding":
        return  # verified above: BLOOM is batched by padding, never packed
    gen = torch.Generator().manual_seed(1)
    lengths = [5, 12, 9]  # longer than gemma3's sliding window of 8: the window must survive packing
    seqs = [torch.randint(3, 300, (1, n), generator=gen) for n in lengths]
    head = output_head(model)
    with torch.no_grad():
        alone = [
            head_logits(head, model.base_model(input_ids=s, use_cache=False).last_hidden_state) for s in seqs
        ]
        packed_ids = torch.cat(seqs, dim=1)
        kwargs = packed_model_inputs(packed_ids, lengths, mode, torch.float32)
        packed = head_logits(head, model.base_model(**kwargs, use_cache=False).last_hidden_state)
    for got, want in zip(packed.split(lengths, dim=1), alone, strict=True):
        assert_close(got, want, what=arch)


@pytest.mark.parametrize("arch", ["llama", "gemma3", "xglm", "gpt2"])
def test_packed_lm_loss_equals_padded(arch, right_tokenizer, make_items):
    model = tiny_model(arch, right_tokenizer)
    mode = packing_mode(model)
    items = make_items(right_tokenizer)
    padded = AlignmentCollator(right_tokenizer.pad_token_id, "right", "padding")(items)
    packed = AlignmentCollator(right_tokenizer.pad_token_id, "right", "packing")(items)
    assert packed["clm_input_ids"].shape[0] == 1
    assert packed["clm_input_ids"].numel() == sum(len(it["clm_ids"]) for it in items)  # nothing dropped
    with torch.no_grad():
        a = AlignmentModel(model, 1, packing=mode)(**padded)
        b = AlignmentModel(model, 1, packing=mode)(**packed)
    assert int(a["clm_count"]) == int(b["clm_count"]) == int(packed["num_targets"])
    assert_close(a["clm_sum"], b["clm_sum"])


@pytest.mark.parametrize("arch,batching", [("llama", "packing"), ("xglm", "padding"), ("bloom", "packing")])
def test_run_packs_pairs_when_the_model_can(arch, batching, tiny_checkpoints, samples_file, tmp_path):
    """crossalign train runs the contrastive pass packed whenever the model's packing mode is
    verified, whatever the LM batching; BLOOM (no packing mode) keeps padded pairs."""
    from crossalign.train.wiring import build_run

    from .test_end_to_end import make_cfg, quiet

    cfg = make_cfg(tiny_checkpoints[arch], samples_file, tmp_path / "o", clm__batching=batching)
    module = build_run(cfg, say=quiet).trainer.model
    assert module.pack_pairs == (EXPECTED_MODE[arch] != "padding")
    if module.pack_pairs:
        assert module.packing == EXPECTED_MODE[arch]

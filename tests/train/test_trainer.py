"""The Trainer subclass: gradient accumulation (acceptance 4) and logging of the loss parts."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import TrainingArguments

from crossalign.data.collate import AlignmentCollator
from crossalign.data.samples import read_samples
from crossalign.model.alignment import AlignmentModel
from crossalign.testing import assert_close, assert_grads_close, tiny_model, tiny_tokenizer
from crossalign.train.dataset import tokenize_samples
from crossalign.train.objective import afp_loss, step_totals
from crossalign.train.trainer import AlignmentTrainer


class Recorder:
    """A collator that remembers the batches it built."""

    def __init__(self, collate):
        self.collate, self.batches = collate, []

    def __call__(self, items):
        batch = self.collate(items)
        self.batches.append(batch)
        return batch


def _one_sgd_step(tmp_path, data, tok, batch, accum, w_cl, name, **loss_options):
    """Parameters before and after one plain-SGD step with lr 1 (so the change is -grad)."""
    module = AlignmentModel(tiny_model("llama", tok), layer=2, packing="position_ids")
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    args = TrainingArguments(
        output_dir=str(tmp_path / name),
        optim="sgd",
        learning_rate=1.0,
        lr_scheduler_type="constant",
        max_steps=1,
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=accum,
        max_grad_norm=0,
        weight_decay=0.0,
        report_to="none",
        remove_unused_columns=False,
        save_strategy="no",
        seed=0,
        logging_steps=1,
        dataloader_pin_memory=False,
    )
    recorder = Recorder(AlignmentCollator(tok.pad_token_id, tok.padding_side, "packing"))
    trainer = AlignmentTrainer(
        model=module, args=args, train_dataset=data, data_collator=recorder, weights={"cl": w_cl, "clm": 1.5},
        **loss_options,
    )
    trainer.train()
    grads = {n: before[n] - p.detach() for n, p in module.named_parameters()}
    return grads, recorder.batches, trainer.state.log_history


def _data(samples_file, tok, n=8):
    data, _ = tokenize_samples(tok, read_samples(samples_file)[:n], clm_max_length=64)
    return data


def test_accumulation_equals_one_big_batch_for_lm_loss(tmp_path, samples_file):
    tok = tiny_tokenizer()
    data = _data(samples_file, tok)
    one, _, _ = _one_sgd_step(tmp_path, data, tok, 8, 1, 0.0, "one")
    two, batches, _ = _one_sgd_step(tmp_path, data, tok, 4, 2, 0.0, "two")
    assert len(batches) == 2
    assert_grads_close(two, one)
    assert any(g.abs().sum() > 0 for g in one.values())


def test_accumulation_normalises_contrastive_loss_per_pair(tmp_path, samples_file):
    """With both losses, 2 micro-batches of 4 give the gradient of
    w_cl * (sum of the micro-batches' InfoNCE sums) / 8 + w_clm * (LM sum) / (all tokens)."""
    tok = tiny_tokenizer()
    data = _data(samples_file, tok)
    got, batches, logs = _one_sgd_step(tmp_path, data, tok, 4, 2, 1.0, "both")
    module = AlignmentModel(tiny_model("llama", tok), layer=2, packing="position_ids")
    module.train()
    tokens = sum(float(b["num_targets"]) for b in batches)
    assert step_totals(batches) == {"cl": 8.0, "clm": tokens}
    for b in batches:
        loss, _ = afp_loss(module(**b), totals={"cl": 8.0, "clm": tokens}, weights={"cl": 1.0, "clm": 1.5})
        loss.backward()
    assert_grads_close(got, {name: p.grad for name, p in module.named_parameters()})
    step = logs[0]
    assert {"loss/cl", "loss/clm", "cl/accuracy", "loss"} <= set(step)
    assert math.isclose(step["loss"], step["loss/cl"] + 1.5 * step["loss/clm"], rel_tol=1e-6)


def test_centred_contrastive_loss_reaches_the_gradient(tmp_path, samples_file):
    """contrastive.center: the trainer's step is the gradient of the centred InfoNCE, not the plain one."""
    tok = tiny_tokenizer()
    data = _data(samples_file, tok)
    got, batches, logs = _one_sgd_step(tmp_path, data, tok, 8, 1, 1.0, "centred", center=True, symmetric=True)
    grads = {}
    for center in (True, False):
        module = AlignmentModel(tiny_model("llama", tok), layer=2, packing="position_ids")
        module.train()
        b = batches[0]
        loss, parts = afp_loss(module(**b), totals={"cl": 8.0, "clm": float(b["num_targets"])},
                               weights={"cl": 1.0, "clm": 1.5}, temperature=0.05, symmetric=True, center=center)
        loss.backward()
        grads[center] = {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}
        if center:
            assert math.isclose(logs[0]["loss/cl"], float(parts["cl"].loss_sum.detach()) / 8, rel_tol=1e-5)
    assert_grads_close(got, grads[True])
    assert any(not torch.allclose(grads[True][n], grads[False][n], rtol=1e-3, atol=1e-6) for n in grads[True])


def test_loss_parts_travel_by_name(samples_file):
    """afp_loss: named totals and weights in, named parts out; nothing after the outputs is positional."""
    tok = tiny_tokenizer()
    batch = AlignmentCollator(tok.pad_token_id, tok.padding_side, "packing")(_data(samples_file, tok))
    module = AlignmentModel(tiny_model("llama", tok), layer=2, packing="position_ids")
    out = module(**batch)
    totals = step_totals([batch])
    loss, parts = afp_loss(out, totals=totals, weights={"cl": 0.5, "clm": 2.0})
    assert list(parts) == ["cl", "clm"] and parts["cl"].shared and not parts["clm"].shared
    assert parts["cl"].count == totals["cl"] == 8 and parts["clm"].count == totals["clm"]
    expect = 0.5 * parts["cl"].loss_sum / 8 + 2.0 * parts["clm"].loss_sum / totals["clm"]
    assert_close(loss, expect)
    assert 0 <= parts["cl"].metrics["accuracy"] <= 8
    _, only_lm = afp_loss(out, totals=totals, weights={"cl": 0.0})
    assert list(only_lm) == ["clm"]
    with pytest.raises(ValueError, match="unknown loss terms \\['kl'\\]; valid terms: cl, clm"):
        afp_loss(out, totals=totals, weights={"kl": 1.0})
    with pytest.raises(TypeError):
        afp_loss(out, totals, 1)  # the counts must be named

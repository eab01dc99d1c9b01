"""Training options through real short runs: TensorBoard logging, a tokenizer without a pad
token, frozen embeddings, gradient checkpointing, hard negatives, bf16 autocast."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from crossalign.errors import InputError
from crossalign.model.adapt import enable_gradient_checkpointing
from crossalign.model.alignment import AlignmentModel
from crossalign.testing import assert_grads_close, tiny_model, tiny_tokenizer
from crossalign.train.wiring import build_run, finish_run

from .test_end_to_end import make_cfg, quiet


def test_tensorboard_gets_the_loss_parts(tiny_checkpoints, samples_file, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = make_cfg(
        tiny_checkpoints["llama"],
        samples_file,
        tmp_path / "o",
        training__report_to=["tensorboard"],
        monitor__heldout=4,
        monitor__every=1,
    )
    finish_run(build_run(cfg, say=quiet))
    events = list((tmp_path / "o" / "runs").rglob("events.out.tfevents.*"))
    assert events
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss/cl", "train/loss/clm", "train/cl/accuracy", "train/heldout/retrieval"} <= tags


def test_tokenizer_without_pad_token_trains(tmp_path, samples_file):
    tok = tiny_tokenizer()
    model = tiny_model("llama", tok)
    tok.pad_token = None
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    cfg = make_cfg(tmp_path / "m", samples_file, tmp_path / "o", training__max_steps=1)
    run = build_run(cfg, say=quiet)
    assert run.tokenizer.pad_token == run.tokenizer.eos_token  # documented: EOS pads, labels mask it
    out = finish_run(run)
    assert json.loads((out / "tokenizer_config.json").read_text()).get("pad_token") in (None, "</s>")


def test_frozen_embeddings_stay_frozen_with_a_tied_head(tiny_checkpoints, samples_file, tmp_path):
    cfg = make_cfg(tiny_checkpoints["gemma3"], samples_file, tmp_path / "o", training__freeze_embeddings=True)
    run = build_run(cfg, say=quiet)
    before = run.lm.get_input_embeddings().weight.detach().clone()
    out = finish_run(run)
    reloaded = AutoModelForCausalLM.from_pretrained(out)
    assert torch.equal(reloaded.get_input_embeddings().weight, before)
    assert not torch.equal(
        reloaded.model.layers[0].mlp.up_proj.weight,
        AutoModelForCausalLM.from_pretrained(tiny_checkpoints["gemma3"]).model.layers[0].mlp.up_proj.weight,
    )


def test_gradient_checkpointing_gives_the_same_gradients(make_items):
    from crossalign.data.collate import AlignmentCollator
    from crossalign.train.objective import afp_loss, step_totals

    tok = tiny_tokenizer()
    batch = AlignmentCollator(tok.pad_token_id, "right", "packing")(make_items(tok))
    grads = []
    for checkpointing in (False, True):
        model = tiny_model("gemma3", tok)
        model.train()
        if checkpointing:
            enable_gradient_checkpointing(model)
        module = AlignmentModel(model, 2)
        loss, _ = afp_loss(module(**batch), totals=step_totals([batch]))
        loss.backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    assert_grads_close(grads[1], grads[0])


def test_hard_negatives_need_data(tiny_checkpoints, samples_file, tmp_path):
    cfg = make_cfg(tiny_checkpoints["llama"], samples_file, tmp_path / "o", contrastive__hard_negatives=True)
    with pytest.raises(InputError, match="hard_negative"):
        build_run(cfg, say=quiet)
    rows = [json.loads(line) for line in samples_file.read_text().splitlines()]
    for i, row in enumerate(rows):
        row["pair"]["hard_negative"] = rows[(i + 1) % len(rows)]["pair"]["tgt"]
    samples_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    run = build_run(cfg, say=quiet)
    assert run.counts["hard_negatives"] == 16
    batch = run.trainer.data_collator([run.trainer.train_dataset[i] for i in range(2)])
    assert batch["cl_input_ids"].shape[0] == 6 and int(batch["cl_num_negatives"]) == 2
    finish_run(run)


def test_bf16_autocast_on_cpu_is_close_to_fp32(make_items):
    from crossalign.data.collate import AlignmentCollator

    tok = tiny_tokenizer()
    batch = AlignmentCollator(tok.pad_token_id, "right", "packing")(make_items(tok))
    module = AlignmentModel(tiny_model("llama", tok), 2)
    ref = module(**batch)["clm_sum"]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = module(**batch)["clm_sum"]
    out.backward()
    assert torch.isfinite(out) and abs(out.item() - ref.item()) / ref.item() < 0.02
    assert all(torch.isfinite(p.grad).all() for p in module.parameters() if p.grad is not None)

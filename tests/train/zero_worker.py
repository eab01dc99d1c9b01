"""Worker for test_deepspeed.py (under torchrun, 2 gloo processes on CPU): the training step of
fsdp_worker.py (same samples, SGD, 3 steps) run by a DeepSpeed engine with ZeRO stage 2 or 3.
Not a test module.

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/train/zero_worker.py OUT 2 3

DeepSpeed picks its CPU accelerator with the gloo backend when no GPU is present. Writes
``OUT/zero<stage>_rank<r>.pt``: the reported loss of every step, the full parameters after the
last step (gathered under ZeRO-3), which LM-head loss ran, parameters still gathered after each
step (ZeRO-3) and hooks left on the blocks. Rank 0 also saves the final model from the engine's
consolidated state dict (``OUT/zero<stage>_saved``), as accelerate's ``get_state_dict`` does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import deepspeed
import torch
import torch.distributed as dist
from fsdp_worker import LAYER, LR, STEPS, samples, step_loss, watch_head_impl

from crossalign.data.collate import AlignmentCollator
from crossalign.model.alignment import AlignmentModel
from crossalign.model.layers import decoder_layers
from crossalign.testing import tiny_model, tiny_tokenizer
from crossalign.train.checkpoint import save_final_model
from crossalign.train.dataset import tokenize_samples


def gathered_now(module) -> list[str]:
    """Parameters whose ZeRO-3 partitions are assembled (they should be only inside a forward)."""
    from deepspeed.runtime.zero.partition_parameters import ZeroParamStatus

    return [n for n, p in module.named_parameters() if getattr(p, "ds_status", None) == ZeroParamStatus.AVAILABLE]


def run_stage(out: Path, stage: int) -> None:
    world, rank = dist.get_world_size(), dist.get_rank()
    tok = tiny_tokenizer(padding_side="left")
    module = AlignmentModel(tiny_model("llama", tok), layer=LAYER, packing="position_ids")
    module.train()
    data, _ = tokenize_samples(tok, samples(), clm_max_length=64, hard_negatives=True)
    items = [data[i] for i in range(len(data))]
    collate = AlignmentCollator(tok.pad_token_id, "left", "packing")
    config = {"train_micro_batch_size_per_gpu": len(items) // world, "gradient_accumulation_steps": 1,
              # threshold 0: ZeRO-3 keeps parameters under 1e5 elements whole by default, which would be
              # all of a tiny model's
              "zero_optimization": {"stage": stage, "stage3_gather_16bit_weights_on_model_save": True,
                                    "stage3_param_persistence_threshold": 0},
              "zero_allow_untested_optimizer": True, "gradient_clipping": 0.0}
    engine, _, _, _ = deepspeed.initialize(model=module, optimizer=torch.optim.SGD(module.parameters(), lr=LR),
                                           config=config)
    blocks = decoder_layers(module.lm)
    hooks_before = [len(b._forward_pre_hooks) for b in blocks]
    seen: dict = {"gathered_after_step": [], "hooks_left": []}
    watch_head_impl(module, seen)
    if stage == 3:  # the share of the weights this rank holds
        seen["local_fraction"] = (sum(p.ds_tensor.numel() for p in module.parameters())
                                  / sum(p.ds_numel for p in module.parameters()))
    losses = []
    for step in range(STEPS):
        loss, reported = step_loss(engine, module, collate, items, step, rank, world)
        engine.backward(loss)
        engine.step()
        losses.append(reported)
        seen["gathered_after_step"].append(gathered_now(module) if stage == 3 else [])
        seen["hooks_left"].append([len(b._forward_pre_hooks) - n for b, n in zip(blocks, hooks_before, strict=True)])
    with deepspeed.zero.GatheredParameters(list(module.lm.parameters()), enabled=stage == 3):
        params = {n: p.detach().clone() for n, p in module.lm.named_parameters()}
    state = engine._zero3_consolidated_16bit_state_dict() if stage == 3 else module.state_dict()
    if rank == 0:
        state_dict = {k.removeprefix("lm."): v for k, v in state.items()}
        save_final_model(module.lm, tok, out / f"zero{stage}_saved", merge_lora=False, state_dict=state_dict)
    torch.save({"losses": losses, "params": params, **seen}, out / f"zero{stage}_rank{rank}.pt")


if __name__ == "__main__":
    deepspeed.init_distributed(dist_backend="gloo")
    for stage in sys.argv[2:]:
        run_stage(Path(sys.argv[1]), int(stage))
    dist.destroy_process_group()

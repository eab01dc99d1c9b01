"""Worker for test_fsdp.py (alone, or under torchrun with 2 gloo processes on CPU): a few SGD
steps of crossalign's own training step (AlignmentModel forward, afp_loss with cross-rank
negatives, backward, optimizer) on a tiny model, unsharded (1 process, the whole batch) or
sharded with torch's FSDP2 ``fully_shard`` (2 processes, half the batch each). Not a test module.

    python tests/train/fsdp_worker.py OUT                                    # 1 process
    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/train/fsdp_worker.py OUT

Sharding follows accelerate's FSDP2 preparation (``accelerate.utils.fsdp_utils.fsdp2_prepare_model``:
every decoder block, the input embedding when untied, one unit of the final norm and the output
embedding with ``reshard_after_forward=False``, then the root, which under the Trainer is the
AlignmentModel). The ``head`` case instead gives the output layer a unit of its own that reshards
after every forward, so its weight is a sharded DTensor whenever the LM loss reads it.

Writes ``OUT/<case>_of<world>_rank<r>.pt`` per case: the reported loss of every step, the full
parameters after the last step, and what the checks inside the run saw (FSDP groups still
unsharded when the LM pass begins, i.e. after the early-exit pair pass; groups not resharded, or
unsharded storage not freed, after each step; hooks left on the blocks). Rank 0 of the
``llama-accelerate`` case also saves the final model from a full state dict
(``OUT/saved_of<world>``), the way the train command saves after FSDP.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from ddp_worker import PROMPTS, SENTENCES  # the samples of the DDP test

from crossalign.data.collate import AlignmentCollator
from crossalign.data.samples import TrainSample
from crossalign.losses.gather import all_reduce_sum
from crossalign.model.alignment import AlignmentModel
from crossalign.model.layers import backbone, decoder_layers
from crossalign.testing import tiny_model, tiny_tokenizer
from crossalign.train.checkpoint import save_final_model
from crossalign.train.dataset import tokenize_samples
from crossalign.train.objective import afp_loss

# case -> (architecture, sharding); gemma3's tiny model ties its input and output embeddings
CASES = {"llama-accelerate": ("llama", "accelerate"), "llama-head": ("llama", "head"),
         "gemma3-accelerate": ("gemma3", "accelerate")}
# SGD, so that parameters after a few steps compare linearly in the gradients: Adam divides by the
# root of the second moment, which turns rounding noise of near-zero gradients into update-sized
# differences between two correct runs.
STEPS, LAYER, W_CL, W_CLM, TAU, LR = 3, 2, 1.0, 1.5, 0.05, 1e-3


def samples() -> list[TrainSample]:
    return [TrainSample(s, t, f"{t} {s}", p, r, f"x:{i}")
            for i, ((s, t), (p, r)) in enumerate(zip(SENTENCES, PROMPTS, strict=True))]


def fsdp_groups(module: torch.nn.Module) -> dict[str, object]:
    """``{module name: its FSDP state}`` for every module ``fully_shard`` was applied to."""
    from torch.distributed.fsdp import FSDPModule

    return {name or "<root>": m._get_fsdp_state() for name, m in module.named_modules() if isinstance(m, FSDPModule)}


def not_resharded(module: torch.nn.Module) -> list[str]:
    """FSDP groups whose parameters are not back to their shards, whose all-gathered storage is
    still allocated, or that are not idle."""
    from torch.distributed.fsdp._fully_shard._fsdp_common import TrainingState

    bad = []
    for name, state in fsdp_groups(module).items():
        group = state._fsdp_param_group
        if group is None:
            continue
        held = sum(t.untyped_storage().size() for p in group.fsdp_params for t in p.all_gather_outputs)
        if not group.is_sharded or held or state._training_state != TrainingState.IDLE:
            bad.append(name)
    return bad


def full(t: torch.Tensor) -> torch.Tensor:
    """The whole tensor of a parameter or gradient (gathered from every rank when sharded)."""
    return (t.full_tensor() if hasattr(t, "full_tensor") else t).detach().clone()


def shard(module: AlignmentModel, how: str) -> None:
    from torch.distributed.fsdp import fully_shard

    lm = module.lm
    for block in decoder_layers(lm):
        fully_shard(block)
    emb, head = lm.get_input_embeddings(), lm.get_output_embeddings()
    tied = emb.weight is head.weight
    if how == "accelerate":
        if not tied:
            fully_shard(emb)
        fully_shard([backbone(lm).norm, *([emb] if tied else []), head], reshard_after_forward=False)
    elif how == "head":
        assert not tied, "the head case needs untied embeddings"
        fully_shard(head)
    fully_shard(module)


def step_loss(model, module: AlignmentModel, collate, items: list, step: int, rank: int, world: int):
    """``(loss to backpropagate, the step's global loss as a number)`` of step ``step``: a different
    global batch (order) each step, this rank's share of it through ``model`` (the module itself
    or its wrapper: FSDP root, DeepSpeed engine)."""
    batch_items = items[step:] + items[:step]
    per = len(batch_items) // world
    mine = batch_items[rank * per : (rank + 1) * per]
    total_tokens = float(collate(batch_items)["num_targets"])
    loss, parts = afp_loss(model(**collate(mine)), totals={"cl": float(len(batch_items)), "clm": total_tokens},
                           world_size=world, weights={"cl": W_CL, "clm": W_CLM}, temperature=TAU,
                           symmetric=True, hidden_size=module.hidden_size)
    clm_sum = all_reduce_sum(torch.tensor(float(parts["clm"].loss_sum.detach()), dtype=torch.float64)).item()
    return loss, W_CL * float(parts["cl"].loss_sum.detach()) / parts["cl"].count + W_CLM * clm_sum / total_tokens


def watch_head_impl(module: AlignmentModel, seen: dict) -> None:
    """Record in ``seen["head_impl"]`` which LM-head loss each step ran: "fused" on a whole weight,
    "module" on a sharded one."""
    head_impl = module._head_impl
    seen["head_impl"] = []

    def watched(head):
        seen["head_impl"].append(head_impl(head))
        return seen["head_impl"][-1]

    module._head_impl = watched


def run_case(case: str, rank: int, world: int, out: Path) -> dict:
    arch, how = CASES[case]
    tok = tiny_tokenizer(padding_side="left")
    module = AlignmentModel(tiny_model(arch, tok), layer=LAYER, packing="position_ids")
    module.train()
    data, _ = tokenize_samples(tok, samples(), clm_max_length=64, hard_negatives=True)
    items = [data[i] for i in range(len(data))]
    collate = AlignmentCollator(tok.pad_token_id, "left", "packing")
    if world > 1:
        shard(module, how)
    blocks = decoder_layers(module.lm)
    hooks_before = [len(b._forward_pre_hooks) for b in blocks]
    seen: dict = {"unsharded_at_lm_pass": [], "not_resharded_after_step": [], "hooks_left": []}
    lm_loss_sum = module.lm_loss_sum

    def watched_lm_loss_sum(*args, **kwargs):  # the LM pass starts right after the early-exit pair pass
        if world > 1:
            seen["unsharded_at_lm_pass"].append(
                [i for i, b in enumerate(blocks) if not b._get_fsdp_state()._fsdp_param_group.is_sharded])
        return lm_loss_sum(*args, **kwargs)

    module.lm_loss_sum = watched_lm_loss_sum
    watch_head_impl(module, seen)
    local = sum(p.to_local().numel() if hasattr(p, "to_local") else p.numel() for p in module.parameters())
    seen["local_fraction"] = local / sum(p.numel() for p in module.parameters())
    opt = torch.optim.SGD(module.parameters(), lr=LR)
    losses, grads = [], []
    for step in range(STEPS):
        loss, reported = step_loss(module, module, collate, items, step, rank, world)
        loss.backward()
        grads.append({n: full(p.grad) for n, p in module.lm.named_parameters() if p.grad is not None})
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(reported)
        if world > 1:
            seen["not_resharded_after_step"].append(not_resharded(module))
        seen["hooks_left"].append([len(b._forward_pre_hooks) - n for b, n in zip(blocks, hooks_before, strict=True)])
    params = {name: full(p) for name, p in module.lm.named_parameters()}
    if case == "llama-accelerate":
        state_dict = None
        if world > 1:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

            # what accelerate's get_state_dict does for FSDP2: every rank joins, rank 0 receives
            whole = get_model_state_dict(module, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
            state_dict = {k.removeprefix("lm."): v for k, v in whole.items()}
        if rank == 0:
            save_final_model(module.lm, tok, out / f"saved_of{world}", merge_lora=False, state_dict=state_dict)
    return {"losses": losses, "grads": grads, "params": params, **seen}


if __name__ == "__main__":
    out_dir = Path(sys.argv[1])
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if world > 1 else 0
    for case in sys.argv[2:] or CASES:
        torch.save(run_case(case, rank, world, out_dir), out_dir / f"{case}_of{world}_rank{rank}.pt")
    if world > 1:
        dist.destroy_process_group()

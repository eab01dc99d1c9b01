"""Worker for test_distributed.py (run under torchrun): loss and gradients on this rank's half
of a batch, with DDP, written to $OUT/rank{r}.pt. Not a test module itself."""

from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from crossalign.data.collate import AlignmentCollator
from crossalign.data.samples import TrainSample
from crossalign.losses.gather import all_reduce_sum
from crossalign.model.alignment import AlignmentModel
from crossalign.testing import tiny_model, tiny_tokenizer
from crossalign.train.dataset import tokenize_samples
from crossalign.train.objective import afp_loss

SENTENCES = [
    ("The cat sits on the mat.", "猫坐在垫子上。"),
    ("Bonjour", "你好"),
    ("He dropped a hammer.", "Er ließ einen Hammer fallen."),
    ("Where is the station?", "车站在哪里？"),
]
PROMPTS = [
    ("I like green tea. Answer in German:", " Ich mag grünen Tee."),
    ("Translate:", " bonjour le chat"),
    ("Why?", " because"),
    ("The man broke his toe. Answer in Chinese:", " 那个人弄断了脚趾。"),
]
W_CL, W_CLM, TAU = 1.0, 1.5, 0.05


def items(tok):
    samples = [
        TrainSample(s, t, f"{t} {s}", p, r, f"x:{i}")
        for i, ((s, t), (p, r)) in enumerate(zip(SENTENCES, PROMPTS, strict=True))
    ]
    data, _ = tokenize_samples(tok, samples, clm_max_length=64, hard_negatives=True)
    return [data[i] for i in range(len(data))]


def run(rank: int, world: int) -> dict:
    tok = tiny_tokenizer(padding_side="left")
    module = AlignmentModel(tiny_model("llama", tok), layer=2, packing="position_ids")
    module.train()
    all_items = items(tok)
    per = len(all_items) // world
    mine = all_items[rank * per : (rank + 1) * per]
    collate = AlignmentCollator(tok.pad_token_id, "left", "packing")
    batch = collate(mine)
    total_tokens = float(collate(all_items)["num_targets"])
    model = DistributedDataParallel(module, find_unused_parameters=True) if world > 1 else module
    out = model(**batch)
    loss, parts = afp_loss(
        out,
        totals={"cl": float(len(all_items)), "clm": total_tokens},
        world_size=world,
        weights={"cl": W_CL, "clm": W_CLM},
        temperature=TAU,
        symmetric=True,
        hidden_size=module.hidden_size,
    )
    loss.backward()
    clm_sum = all_reduce_sum(torch.tensor(float(parts["clm"].loss_sum.detach()), dtype=torch.float64)).item()
    reported = W_CL * float(parts["cl"].loss_sum.detach()) / parts["cl"].count + W_CLM * clm_sum / total_tokens
    grads = {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}
    return {"loss": reported, "grads": grads}


if __name__ == "__main__":
    out_dir = sys.argv[1]
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if world > 1 else 0
    result = run(rank, world)
    torch.save(result, os.path.join(out_dir, f"rank{rank}_of{world}.pt"))
    if world > 1:
        dist.destroy_process_group()

"""Where the time of a ``crossalign train`` step goes: the same run as ``bench/reference_speed.py``'s
side of ours, in-process under cProfile, broken down by phase.

    flock /tmp/cpu.lock .venv/bin/python bench/profile_train.py \
        --model runs/reference_speed/xglm-23m --data runs/reference_speed/samples.jsonl --steps 40
    flock /tmp/cpu.lock .venv/bin/python bench/profile_train.py \
        --model runs/reference_speed/xglm-564m --data runs/reference_speed/samples.jsonl --steps 4

(the model folders and samples are the ones ``bench/reference_speed.py`` builds.) Printed: for each
phase, its cumulative seconds over the training loop, per step, and its share of the loop
(``Trainer._inner_training_loop``). Phases nest (the LM pass holds the head loss; the backward is
outside both), so shares are of the loop, not a partition; *unattributed* is the loop minus the
top-level phases. cProfile slows Python-heavy code more than tensor kernels: the Python phases
(collation, logging, callbacks) are upper bounds.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
from pathlib import Path

# (label, module path fragment, function name, top-level phase of the step)
PHASES = [
    ("training loop (train_runtime)", "transformers/trainer.py", "_inner_training_loop", False),
    ("data: fetch + collate (get_batch_samples)", "crossalign/train/trainer.py", "get_batch_samples", True),
    ("  collation (AlignmentCollator)", "crossalign/data/collate.py", "__call__", False),
    ("forward + loss (compute_loss)", "crossalign/train/trainer.py", "compute_loss", True),
    ("  contrastive pass, early exit (pair_states)", "crossalign/model/alignment.py", "pair_states", False),
    ("  LM pass + head loss (lm_loss_sum)", "crossalign/model/alignment.py", "lm_loss_sum", False),
    ("    fused chunked head loss, forward", "crossalign/losses/clm.py", "forward", False),
    ("  loss terms (afp_loss)", "crossalign/train/objective.py", "afp_loss", False),
    ("backward (accelerator.backward)", "accelerate/accelerator.py", "backward", True),
    ("    fused chunked head loss, backward", "crossalign/losses/clm.py", "backward", False),
    ("gradient clipping (clip_grad_norm_)", "torch/nn/utils/clip_grad.py", "clip_grad_norm_", True),
    ("optimizer step", "torch/optim/optimizer.py", "wrapper", True),
    ("lr scheduler step", "torch/optim/lr_scheduler.py", "step", True),
    ("logging (AlignmentTrainer.log)", "crossalign/train/trainer.py", "log", True),
    ("callbacks (call_event)", "transformers/trainer_callback.py", "call_event", True),
    ("zero_grad", "torch/optim/optimizer.py", "zero_grad", True),
]


def cumulative(stats: pstats.Stats, fragment: str, name: str) -> tuple[float, int]:
    """Cumulative seconds and primitive calls of the functions ``name`` in files matching ``fragment``
    (the outermost frames only: recursion is counted once by cProfile's cumtime)."""
    total, calls = 0.0, 0
    for (path, _line, func), (cc, _nc, _tt, ct, _callers) in stats.stats.items():
        if func == name and fragment in path.replace("\\", "/"):
            total += ct
            calls += cc
    return total, calls


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="model folder (bench/reference_speed.py builds them)")
    p.add_argument("--data", required=True, help="training samples (crossalign generate output)")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--layer", default="1")
    p.add_argument("--output", help="also write the figures as JSON here")
    args = p.parse_args()

    from crossalign.cli import main as cli_main

    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["train", "--model.name_or_path", args.model, "--model.allow_pickle", "--model.dtype", "float32",
               "--model.device", "cpu", "--data.train_file", args.data, "--contrastive.pooling", "last",
               "--contrastive.layer", args.layer, "--contrastive.temperature", "0.05",
               "--contrastive.max_length", str(args.max_length), "--clm.weight", "1.5",
               "--clm.max_length", str(args.max_length), "--no-clm.add_eos",
               "--training.per_device_train_batch_size", str(args.batch), "--training.max_steps", str(args.steps),
               "--training.learning_rate", "1e-5", "--training.lr_scheduler_type", "cosine",
               "--training.warmup_ratio", "0.03", "--training.bf16", "false", "--training.seed", "0",
               "--training.logging_steps", "1", "--training.save_steps", "1000000", "--training.report_to", "none",
               "--training.output_dir", str(Path(tmp) / "out"), "--training.args", "disable_tqdm=true"]
        prof = cProfile.Profile()
        prof.enable()
        rc = cli_main(cmd)
        prof.disable()
        if rc != 0:
            sys.exit(rc)
    stats = pstats.Stats(prof)
    loop, _ = cumulative(stats, *PHASES[0][1:3])
    rows, top = [], 0.0
    for label, frag, name, is_top in PHASES:
        sec, calls = cumulative(stats, frag, name)
        if is_top:
            top += sec
        rows.append({"phase": label, "seconds": sec, "per_step": sec / args.steps, "calls": calls,
                     "share": sec / loop if loop else float("nan")})
    rows.append({"phase": "unattributed (loop - top-level phases)", "seconds": loop - top,
                 "per_step": (loop - top) / args.steps, "calls": 0, "share": (loop - top) / loop if loop else 0})
    print(f"\n{args.model}: {args.steps} steps, batch {args.batch}, max length {args.max_length} (under cProfile)")
    print(f"{'phase':<48} {'s':>8} {'s/step':>8} {'share':>7} {'calls':>7}")
    for r in rows:
        print(f"{r['phase']:<48} {r['seconds']:8.2f} {r['per_step']:8.3f} {100 * r['share']:6.1f}% {r['calls']:7d}")
    if args.output:
        Path(args.output).write_text(json.dumps({"model": args.model, "steps": args.steps, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

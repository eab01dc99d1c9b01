"""Where the time of a ``crossalign train`` step goes: the same run as ``bench/reference_speed.py``'s
side of ours, in-process under cProfile, broken down by phase.

    flock /tmp/cpu.lock .venv/bin/python bench/profile_train.py \
        --model runs/reference_speed/xglm-23m --data runs/reference_speed/samples.jsonl --steps 40
    flock /tmp/cpu.lock .venv/bin/python bench/profile_train.py \
        --model runs/reference_speed/xglm-564m --data runs/reference_speed/samples.jsonl --steps 4

    flock /tmp/cpu.lock .venv/bin/python bench/profile_train.py \
        --model runs/reference_speed/xglm-23m --data runs/reference_speed/samples.jsonl --steps 40 \
        --reference /tmp/afp-ref --ref-data runs/reference_speed/samples.ref.json

(the model folders and samples are the ones ``bench/reference_speed.py`` builds.) With
``--reference`` (a checkout of chongli17/CrossLingualAlignment, and its environment
``.venv-afp-ref/`` as ``bench/reference_speed.py`` builds it), the reference's unmodified
``src/train.py`` is profiled too, in its own environment (``python -m cProfile``), on the same
model, samples (its JSON-lines copy), batch and steps, and the common phases are printed side by
side (seconds per step, reference / ours). Printed: for each
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


# The reference's phases (its CLTrainer.train is its own copy of the Trainer loop; transformers 4.28). The loop,
# the top-level phases and the unattributed rest of both tables are compared side by side, in order: their
# names (the labels without the parenthesis) must match.
REF_PHASES = [
    ("training loop (CLTrainer.train)", "src/trainers.py", "train", False),
    ("data: fetch + collate (DataLoader __next__)", "torch/utils/data/dataloader.py", "__next__", True),
    ("  collation (OurDataCollatorWithPadding)", "src/train.py", "__call__", False),
    ("forward + loss (Trainer.compute_loss)", "transformers/trainer.py", "compute_loss", True),
    ("  contrastive + LM forward (cl_forward)", "src/decoder_models.py", "cl_forward", False),
    ("    LM pass + head loss (clm_forward)", "src/decoder_models.py", "clm_forward", False),
    ("backward (Tensor.backward)", "torch/_tensor.py", "backward", True),
    ("gradient clipping (clip_grad_norm_)", "torch/nn/utils/clip_grad.py", "clip_grad_norm_", True),
    ("optimizer step", "torch/optim/optimizer.py", "wrapper", True),
    ("lr scheduler step", "torch/optim/lr_scheduler.py", "step", True),
    ("logging (Trainer.log)", "transformers/trainer.py", "log", True),
    ("callbacks (call_event)", "transformers/trainer_callback.py", "call_event", True),
    ("zero_grad (Module.zero_grad)", "torch/nn/modules/module.py", "zero_grad", True),
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
    p.add_argument("--reference", help="a checkout of chongli17/CrossLingualAlignment: profile it too, side by side")
    p.add_argument("--ref-venv", default=str(Path(__file__).resolve().parents[1] / ".venv-afp-ref"),
                   help="the reference's environment (bench/reference_speed.py builds it)")
    p.add_argument("--ref-data", help="the same samples in the reference's format (samples.ref.json)")
    args = p.parse_args()
    if args.reference and not args.ref_data:
        p.error("--reference needs --ref-data (the samples in the reference's format)")

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
        our_tokens = json.loads((Path(tmp) / "out" / "model" / "crossalign_train.json").read_text())["tokens"]
    ours = phase_rows(pstats.Stats(prof), PHASES, args.steps)
    print_rows(f"crossalign, {args.model}: {args.steps} steps, batch {args.batch}, max length {args.max_length} "
               "(under cProfile)", ours)
    out = {"model": args.model, "steps": args.steps, "rows": ours, "tokens": our_tokens}
    if args.reference:
        ref = profile_reference(args)
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from reference_speed import reference_tokens

        rows = [json.loads(line) for line in Path(args.ref_data).read_text(encoding="utf-8").splitlines() if line]
        ref_tokens = reference_tokens(Path(args.model), rows, args.steps, args.batch, args.max_length)
        print_rows(f"reference ({args.reference}), same run (under cProfile)", ref)
        print(f"\nside by side under cProfile, {args.steps} steps; real tokens fed forward: reference {ref_tokens:,}, "
              f"crossalign {our_tokens:,} (the reference drops each batch's LM remainder past a block)")
        print(f"{'phase':<24} {'ref s/step':>10} {'ours s/step':>11} {'ref/ours':>9} "
              f"{'ref ms/1k tok':>13} {'ours ms/1k tok':>14} {'ref/ours':>9}")
        side = []
        for ro, rr in zip(comparable(ours), comparable(ref), strict=True):
            phase = ro["phase"].split(" (")[0]
            assert phase == rr["phase"].split(" (")[0], (ro["phase"], rr["phase"])
            a, b = rr["per_step"], ro["per_step"]
            ta, tb = 1e6 * rr["seconds"] / ref_tokens, 1e6 * ro["seconds"] / our_tokens
            ratio = a / b if b > 1e-9 else float("inf")
            token_ratio = ta / tb if tb > 1e-9 else float("inf")
            side.append({"phase": phase, "reference_s_step": a, "crossalign_s_step": b, "ratio_step": ratio,
                         "reference_ms_per_1k_tokens": ta, "crossalign_ms_per_1k_tokens": tb,
                         "ratio_per_token": token_ratio})
            print(f"{phase:<24} {a:10.4f} {b:11.4f} {ratio:8.2f}x {ta:13.2f} {tb:14.2f} {token_ratio:8.2f}x")
        out.update(reference_rows=ref, reference_tokens=ref_tokens, side_by_side=side)
    if args.output:
        Path(args.output).write_text(json.dumps(out, indent=1))


def phase_rows(stats: pstats.Stats, phases: list, steps: int) -> list[dict]:
    """Seconds, seconds per step, calls and share of the loop of every phase, and the unattributed rest."""
    loop, _ = cumulative(stats, *phases[0][1:3])
    rows, top = [], 0.0
    for label, frag, name, is_top in phases:
        sec, calls = cumulative(stats, frag, name)
        if is_top:
            top += sec
        rows.append({"phase": label, "seconds": sec, "per_step": sec / steps, "calls": calls, "top": is_top,
                     "share": sec / loop if loop else float("nan")})
    rows.append({"phase": "unattributed (loop - top-level phases)", "seconds": loop - top, "top": False,
                 "per_step": (loop - top) / steps, "calls": 0, "share": (loop - top) / loop if loop else 0})
    return rows


def comparable(rows: list[dict]) -> list[dict]:
    """The rows two trainers share: the loop, the top-level phases and the unattributed rest."""
    return [rows[0], *(r for r in rows if r["top"]), rows[-1]]


def print_rows(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    print(f"{'phase':<48} {'s':>8} {'s/step':>8} {'share':>7} {'calls':>7}")
    for r in rows:
        print(f"{r['phase']:<48} {r['seconds']:8.2f} {r['per_step']:8.3f} {100 * r['share']:6.1f}% {r['calls']:7d}")


def profile_reference(args) -> list[dict]:
    """The reference's own ``src/train.py``, unmodified, under ``python -m cProfile`` in its environment."""
    import subprocess

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from reference_speed import offline_env, reference_command

    reference = Path(args.reference).resolve()
    ref_python = Path(args.ref_venv).resolve() / "bin" / "python"
    if not ref_python.exists():
        raise SystemExit(f"{ref_python} not found: build the reference environment with bench/reference_speed.py")
    env = offline_env()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        cmd = reference_command(reference, ref_python, Path(args.model).resolve(), Path(args.ref_data).resolve(),
                                args.steps, args, cwd)
        prof = cwd / "reference.prof"
        # ``python -m cProfile`` would run train.py with cProfile as __main__, and its final torch.save of
        # the training arguments (a class of train.py's __main__) could not pickle them: run_path installs
        # the script as __main__ while it runs, as ``python train.py`` does.
        wrapper = ("import cProfile, runpy, sys; script, out = sys.argv[1], sys.argv[2]; "
                   "sys.argv = [script] + sys.argv[3:]; sys.path.insert(0, script.rsplit('/', 1)[0]); "
                   "p = cProfile.Profile(); p.enable()\n"
                   "try:\n    runpy.run_path(script, run_name='__main__')\n"
                   "finally:\n    p.disable(); p.dump_stats(out)")
        cmd = [cmd[0], "-c", wrapper, cmd[1], str(prof), *cmd[2:]]
        with open(cwd / "train.log", "w") as log:
            rc = subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
        if rc != 0:
            raise SystemExit(f"the reference failed (exit {rc}):\n" + (cwd / "train.log").read_text()[-3000:])
        return phase_rows(pstats.Stats(str(prof)), REF_PHASES, args.steps)

if __name__ == "__main__":
    main()

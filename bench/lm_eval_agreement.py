"""Agreement and speed of crossalign's evaluator against lm-evaluation-harness, same model and items.

    pip install -e '.[bench]'      # lm-eval 0.4.x
    flock /tmp/crossalign-heavy.lock python bench/lm_eval_agreement.py \
        --model ~/.cache/crossalign/models/gemma-3-270m --limit 500 --shots 0 5 --tasks xcopa

Both sides use lm-eval's templates and protocol: crossalign with ``template: lm_eval`` and
``demo_mode: per_item`` (seed 1234, lm-eval's default few-shot seed), lm-eval with the
local-file task configs in bench/lm_eval_tasks (XCOPA zh and PAWS-X de from ../shared/data,
first --limit test items, demonstrations from the validation split). Prints, per task and
number of shots, from one run: accuracy of both, the share of items with the same prediction,
the largest log-likelihood gap, the wall seconds of each evaluator (crossalign's ``evaluate``,
lm-eval's ``simple_evaluate`` on an ``HFLM`` wrapping the same model object, both with batch
size --batch-size) and their ratio. Both engines first run a 2-item warm-up, untimed, so that
neither pays the first forward pass's one-time costs. Run from the repository root (the task
configs use paths relative to it).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from crossalign.eval.runner import EvalConfig, evaluate

ROOT = Path(__file__).resolve().parents[1]
PAIRS = {"xcopa": ("zh", "xcopa_zh_local"), "pawsx": ("de", "paws_de_local")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(Path("~/.cache/crossalign/models/gemma-3-270m").expanduser()))
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--shots", type=int, nargs="+", default=[0, 5])
    ap.add_argument("--tasks", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--output", default=None, help="Write the figures as JSON here.")
    args = ap.parse_args()

    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_grad_enabled(False)
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=args.batch_size, device="cpu")
    manager = TaskManager(include_path=str(ROOT / "bench" / "lm_eval_tasks"))

    def run_ours(task, lang, k, limit):
        cfg = EvalConfig(tasks=[task], languages=[lang], prompt_language="same", shots=[k], seeds=[1234],
                         demo_mode="per_item", template="lm_eval", data_dir=args.data_dir,
                         limit=limit, progress=False, batch_size=args.batch_size)
        return evaluate(model, tok, cfg, log=lambda *_: None)

    def run_lm_eval(lm_task, k, limit):
        return lm_eval.simple_evaluate(model=lm, tasks=[lm_task], num_fewshot=k, limit=limit,
                                       task_manager=manager, log_samples=True, fewshot_random_seed=1234,
                                       random_seed=0, numpy_random_seed=0, torch_random_seed=0)

    figures = []
    for task in args.tasks:
        lang, lm_task = PAIRS[task]
        for k in args.shots:
            run_ours(task, lang, k, 2)
            run_lm_eval(lm_task, k, 2)
            t0 = time.perf_counter()
            ours = run_ours(task, lang, k, args.limit)
            t1 = time.perf_counter()
            res = run_lm_eval(lm_task, k, args.limit)
            t2 = time.perf_counter()
            samples = sorted(res["samples"][lm_task], key=lambda s: s["doc_id"])
            preds = next(iter(ours["predictions"].values()))
            same, gap = 0, 0.0
            for s, p in zip(samples, preds, strict=True):
                lls = [float(r[0]) for r in s["filtered_resps"]]
                same += int(max(range(len(lls)), key=lls.__getitem__) == p["pred"])
                gap = max(gap, max(abs(a - b) for a, b in zip(lls, p["ll"], strict=True)))
            row = {"task": task, "language": lang, "shots": k, "items": len(preds),
                   "acc_crossalign": ours["runs"][0]["metrics"]["acc"],
                   "acc_lm_eval": res["results"][lm_task]["acc,none"],
                   "same_prediction": same / len(preds), "max_abs_ll_gap": gap,
                   "seconds_crossalign": round(t1 - t0, 1), "seconds_lm_eval": round(t2 - t1, 1),
                   "speedup_vs_lm_eval": round((t2 - t1) / (t1 - t0), 2), "batch_size": args.batch_size,
                   "threads": torch.get_num_threads()}
            figures.append(row)
            print(json.dumps(row), flush=True)
    for f in figures:
        print(f"{f['task']} {f['language']} {f['shots']}-shot, {f['items']} items: crossalign "
              f"{f['seconds_crossalign']} s, lm-eval {f['seconds_lm_eval']} s, {f['speedup_vs_lm_eval']}x; "
              f"same prediction {f['same_prediction']:.1%}")
    if args.output:
        Path(args.output).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()

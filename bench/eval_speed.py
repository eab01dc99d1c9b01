"""Wall time of crossalign's evaluator against lm-evaluation-harness and reference-style scoring.

    flock /tmp/crossalign-heavy.lock python bench/eval_speed.py \
        --model ~/.cache/crossalign/models/gemma-3-270m --items 100

One workload, three engines, one run: 5-shot, fixed demonstrations (seed 0), cross-lingual
(English demonstrations and template, queries in --language) on XCOPA and PAWS-X from
../shared/data, the first --items test items of each. All three score the *same*
(context, continuation) strings with the same model:

* crossalign: :class:`crossalign.eval.scoring.Scorer` (shared prefix once, context once per
  item, log-softmax at continuation positions only);
* lm-evaluation-harness: ``HFLM.loglikelihood`` on those requests (its batching and
  one-forward-per-choice scoring);
* reference style (the AFP code): batch 1, one full forward per choice, fp32 log-softmax
  over the whole vocabulary at every position.

``--synthetic N`` replaces the benchmark items by N generated ones (a context of about 40 words
and --shots demonstrations of about 30, 2-4 continuations of 3-8 words, words drawn from a fixed
list with a seed), for a machine that has the model folder but not ../shared/data, such as the lent
GPU machine (bench/gpu_check.sh). ``--device`` and ``--dtype`` choose where and how all engines run.

Timings include tokenization. Prints seconds and the ratios, and the largest log-likelihood
difference between engines as a check that they computed the same thing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from crossalign.eval.demos import choose_demos
from crossalign.eval.loaders import load_items
from crossalign.eval.render import encode_pair, prompt, render
from crossalign.eval.scoring import Request, Scorer, score_naive
from crossalign.eval.tasks import load_task

ROOT = Path(__file__).resolve().parents[1]


def workload(tasks, language, data_dir, n_items, shots, seed, template):
    """[(context string, [continuation strings])] for every item of every task."""
    out = []
    for name in tasks:
        spec = load_task(name)
        items = load_items(spec, language, spec.eval_split, data_dir)[:n_items]
        pool = load_items(spec, "en", spec.demo_split, data_dir)
        demos = choose_demos(pool, items, shots, seed, "fixed", exclude_same_id=False)[0]
        texts = [render(spec, template, d, "en", "en").demo() for d in demos]
        sep = spec.template(template, "en").separator
        for item in items:
            r = render(spec, template, item, language, "en")
            out.append([(prompt(texts, sep, ctx), cont) for ctx, cont in r.pairs])
    return out


WORDS = ["the", "cat", "dog", "house", "river", "city", "green", "small", "runs", "sees", "because", "after",
         "market", "train", "school", "water", "light", "friend", "morning", "night", "road", "window"]


def synthetic(n_items: int, shots: int, seed: int):
    """[(context, [continuations])] of ``n_items`` generated items with ``shots`` demonstrations."""
    import random

    rng = random.Random(seed)

    def words(k: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(k))

    out = []
    for _ in range(n_items):
        demos = "".join(f"{words(rng.randint(20, 40))}. Answer: {words(4)}\n\n" for _ in range(shots))
        context = f"{demos}{words(rng.randint(25, 55))}. Answer:"
        out.append([(context, " " + words(rng.randint(3, 8))) for _ in range(rng.randint(2, 4))])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(Path("~/.cache/crossalign/models/gemma-3-270m").expanduser()))
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--tasks", nargs="+", default=["xcopa", "pawsx"])
    ap.add_argument("--language", default="zh")
    ap.add_argument("--items", type=int, default=100, help="Test items per task.")
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--template", default="afp")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--output", default=None, help="Write the figures as JSON here.")
    ap.add_argument("--synthetic", type=int, default=0, help="N generated items instead of the benchmarks.")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--no-reference", action="store_true", help="Skip the (slow) reference-style engine.")
    args = ap.parse_args()

    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_grad_enabled(False)
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=getattr(torch, args.dtype)).to(args.device).eval()
    if args.synthetic:
        work = synthetic(args.synthetic, args.shots, 0)
    else:
        work = workload(args.tasks, args.language, args.data_dir, args.items, args.shots, 0, args.template)
    n_items, n_choices = len(work), sum(len(w) for w in work)
    print(f"{n_items} items, {n_choices} choices, device {args.device}, {args.dtype}, "
          f"threads {torch.get_num_threads()}", flush=True)

    def sync():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    def requests():
        reqs = []
        for pairs in work:
            enc = [encode_pair(tok, c, x) for c, x in pairs]
            reqs.append(Request(enc[0][0], [x for _, x in enc]))
        return reqs

    sync()
    t = time.perf_counter()
    ours = Scorer(model, batch_size=args.batch_size, max_rows=4 * args.batch_size,
                  pad_id=tok.pad_token_id or 0).score(requests())
    sync()
    t_ours = time.perf_counter() - t
    print(f"crossalign: {t_ours:.1f} s", flush=True)

    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=args.batch_size, device=args.device)
    inst = [Instance(request_type="loglikelihood", doc={}, arguments=(c, x), idx=j)
            for pairs in work for j, (c, x) in enumerate(pairs)]
    sync()
    t = time.perf_counter()
    theirs = lm.loglikelihood(inst, disable_tqdm=True)
    sync()
    t_lm = time.perf_counter() - t
    print(f"lm-eval: {t_lm:.1f} s", flush=True)

    t_ref, ref = None, None
    if not args.no_reference:
        t = time.perf_counter()
        ref = score_naive(model, requests())
        sync()
        t_ref = time.perf_counter() - t
        print(f"reference style: {t_ref:.1f} s", flush=True)

    flat_ours = [x for s in ours for x in s.ll]
    gap_lm = max(abs(a - b[0]) for a, b in zip(flat_ours, theirs, strict=True))
    gap_ref = None if ref is None else max(
        abs(a - b) for a, b in zip(flat_ours, [x for s in ref for x in s.ll], strict=True))
    # a choice counts as agreeing when both engines pick the same continuation for the item
    picks_ours, picks_lm, k = [], [], 0
    for pairs, s in zip(work, ours, strict=True):
        lls = [theirs[k + j][0] for j in range(len(pairs))]
        k += len(pairs)
        picks_ours.append(max(range(len(pairs)), key=lambda j: s.ll[j]))
        picks_lm.append(max(range(len(pairs)), key=lambda j: lls[j]))
    same = sum(a == b for a, b in zip(picks_ours, picks_lm, strict=True))
    fig = {"model": args.model, "tasks": ["synthetic"] if args.synthetic else args.tasks,
           "language": None if args.synthetic else args.language, "shots": args.shots,
           "items": n_items, "choices": n_choices, "seconds_crossalign": round(t_ours, 2),
           "seconds_lm_eval": round(t_lm, 2), "seconds_reference": t_ref and round(t_ref, 2),
           "requests_per_s_crossalign": round(n_choices / t_ours, 1),
           "requests_per_s_lm_eval": round(n_choices / t_lm, 1),
           "speedup_vs_lm_eval": round(t_lm / t_ours, 2), "speedup_vs_reference": t_ref and round(t_ref / t_ours, 2),
           "same_prediction_as_lm_eval": f"{same}/{n_items}", "device": args.device, "dtype": args.dtype,
           "max_ll_gap_vs_lm_eval": gap_lm, "max_ll_gap_vs_reference": gap_ref,
           "threads": torch.get_num_threads()}
    print(json.dumps(fig, indent=2))
    if args.output:
        Path(args.output).write_text(json.dumps(fig, indent=2) + "\n")


if __name__ == "__main__":
    main()

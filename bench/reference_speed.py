"""Training speed against the real AFP reference code (chongli17/CrossLingualAlignment), run
unmodified in its own pinned environment, side by side with ``crossalign train``.

    git clone https://github.com/chongli17/CrossLingualAlignment ~/CrossLingualAlignment
    flock /tmp/cpu.lock .venv/bin/python bench/reference_speed.py --reference ~/CrossLingualAlignment
    flock /tmp/cpu.lock .venv/bin/python bench/reference_speed.py --reference ~/CrossLingualAlignment \
        --shape 564m --steps 3 6                  # the xglm-564M shape: ~20 s/step, ~20 GB RAM on CPU

The reference repository is the user's checkout; nothing of it is copied here. The script

1. builds (or reuses) a virtual environment for it, ``.venv-afp-ref/`` (``--ref-venv``), with the
   packages of its ``requirements.txt`` at their pins where they install on this Python, and
   says which could not be pinned and what was used instead (``ENV_CHANGES`` below: torch 2.13.0
   for 1.13.1, sentencepiece 0.1.99 when 0.1.97 does not build, deepspeed and wandb left out,
   the unpinned transitive packages capped at what transformers 4.28 / datasets 2.14 ran with);
2. builds, in that environment (transformers 4.28.1), a random-init XGLM of the chosen shape
   (``23m``: d_model 512, 6 layers, 8 heads, FFN 2048, 8,008-token vocabulary; ``564m``: the
   facebook/xglm-564M shape, d_model 1024, 24 layers, 16 heads, FFN 4096, 256,008 tokens) and a
   tokenizer: a sentencepiece unigram model of 8,000 pieces trained here on the DDTP en-de text
   (the real XGLM's is unigram too), saved as XGLM's ``sentencepiece.bpe.model`` plus the
   ``tokenizer.json`` that 4.28 converts from it. transformers 5 reads a folder holding only the
   ``.model`` as an 11-token tokenizer without any error, hence the ``tokenizer.json``; the
   script checks that the token ids of both sides agree on real sentences (and stops if not);
3. writes the same 2,000 DDTP en-de samples for both: ``crossalign generate --mode translation``
   and the same samples in the reference's JSON-lines format (``sent0, sent1, clm_text,
   clm_prompt_len`` as its ``generate_sup_data.py`` writes them, the prompt length counting the
   space before the answer);
4. trains with both, interleaved (reference, ours, reference, ours), each at two step counts:
   the reference's ``src/train.py`` through its own command line, ours through ``crossalign
   train``, with batch 4, max length 128 (sentences and LM sequences; the reference's LM block
   size 128), pooled last token of layer 1 (``--pooler_type last-1`` / ``--contrastive.pooling
   last --contrastive.layer 1``), CLM weight 1.5, temperature 0.05, lr 1e-5 cosine with 3%
   warm-up, full fine-tuning, fp32 on CPU, no evaluation, no checkpoints. No EOS is appended to
   our LM samples, as the reference appends none. The optimizers are each trainer's default:
   the reference's transformers 4.28 ``adamw_hf``, ours transformers 5's ``adamw_torch_fused``.

Printed, from that one run: seconds per step, marginal (difference of the wall times of the two
step counts over the difference of steps, so start-up, loading and saving cancel) and by the
Trainer's ``train_runtime`` (also marginal; includes the first step's warm-up in neither);
real tokens per second (contrastive sentences plus LM tokens fed forward, padding excluded:
ours from ``state.num_input_tokens_seen``, the reference's counted here from the batches its
seeded sampler draws, ``--data_seed 0``, and its LM blocking, which drops the remainder of each
batch's concatenation past a multiple of 128); peak RSS of each training process (``ru_maxrss``
of the child); the ratios ours / reference.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PAIRS = ROOT.parent / "shared" / "data" / "parallel" / "ddtp.en-de.tsv"

SHAPES = {
    # vocabulary: the tokenizer's 8,008 ids (8,000 sentencepiece pieces, XGLM's fairseq offset of 1 and its
    # 7 made-up words); the 564m shape keeps the real model's 256,008-row embedding and head.
    "23m": dict(d_model=512, num_layers=6, attention_heads=8, ffn_dim=2048, vocab_size=8008),
    "564m": dict(d_model=1024, num_layers=24, attention_heads=16, ffn_dim=4096, vocab_size=256008),
}
DEFAULT_STEPS = {"23m": (10, 40), "564m": (3, 6)}
SP_PIECES = 8000

TORCH_SPEC = os.environ.get("TORCH_SPEC", "torch==2.13.0")
# requirements.txt line -> (what is installed instead, why); a pin absent here is installed as it is.
ENV_CHANGES = {
    "torch==1.13.1": (TORCH_SPEC, "torch 1.13.1 has no wheel for this Python/CPU here; the CPU wheel crossalign uses"),
    "deepspeed==0.10.0": (None, "only for --deepspeed runs (not used: one CPU process); it builds CUDA ops"),
    "wandb": (None, "train.py does not import it; the runs pass --report_to none"),
}
FALLBACKS = {  # pin -> what to use when the pin fails to install
    "sentencepiece==0.1.97": ("sentencepiece==0.1.99", "0.1.97 has no wheel for Python 3.11 and its sdist "
                                                       "needs cmake to build; 0.1.99 is the first with one"),
}
EXTRA = [  # not in requirements.txt: caps that keep 2023's transformers/datasets working with today's releases
    ("tokenizers==0.13.3", "what transformers 4.28.1 (tokenizers<0.14) ran with"),
    ("numpy<2", "pandas 2.2.1 and scikit-learn 1.2.2 are built against numpy 1"),
    ("pyarrow<15", "today's pyarrow (26) needs numpy >= 2; 14.0.2 is of datasets 2.14.6's time (late 2023)"),
    ("protobuf==3.20.3", "only for 4.28's sentencepiece -> tokenizer.json conversion done by this benchmark"),
]

# Run in the reference's environment (transformers 4.28): build the model and the tokenizer folder.
REF_BUILD = r"""
import json, sys, torch
from transformers import XGLMConfig, XGLMForCausalLM, XGLMTokenizerFast
spm, out, shape = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
tok = XGLMTokenizerFast(vocab_file=spm, from_slow=True, model_max_length=2048)
assert len(tok) <= shape["vocab_size"], (len(tok), shape["vocab_size"])
# the other fields of facebook/xglm-564M's config.json (GELU, dropout 0.1, scaled embeddings, tied head)
config = XGLMConfig(**shape, max_position_embeddings=2048, dropout=0.1, attention_dropout=0.1,
                    activation_dropout=0.0, activation_function="gelu", scale_embedding=True,
                    layerdrop=0.0, init_std=0.02, use_cache=True, pad_token_id=1, bos_token_id=0,
                    eos_token_id=2, decoder_start_token_id=2)
torch.manual_seed(0)
model = XGLMForCausalLM(config)
model.save_pretrained(out)
tok.save_pretrained(out)
print(sum(p.numel() for p in model.parameters()))
"""

# Run on both sides: the token ids of some texts under the model folder's tokenizer(s).
ENCODE = r"""
import json, sys
from transformers import AutoTokenizer
folder, texts = sys.argv[1], json.load(open(sys.argv[2]))
out = {}
for use_fast in ([True, False] if sys.argv[3] == "both" else [True]):
    tok = AutoTokenizer.from_pretrained(folder, use_fast=use_fast)
    out["fast" if use_fast else "slow"] = {
        "class": type(tok).__name__, "len": len(tok),
        "specials": [tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.unk_token_id],
        "ids": [tok(t, max_length=128, truncation=True)["input_ids"] for t in texts]}
print(json.dumps(out))
"""


def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, **kw)


def pip_install(venv: Path, specs: list[str], check: bool = True) -> bool:
    """pip install into ``venv``; its output goes to ``venv/pip.log`` (shown when it fails)."""
    with open(venv / "pip.log", "a") as out:
        ok = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", *specs],
                            stdout=out, stderr=subprocess.STDOUT).returncode == 0
    if check and not ok:
        raise SystemExit(f"pip install {' '.join(specs)} failed in {venv}:\n" + (venv / "pip.log").read_text()[-3000:])
    return ok


def log(msg: str) -> None:
    print(f"[reference_speed] {msg}", flush=True)


# ----------------------------------------------------------------------------- environment


def ensure_ref_venv(reference: Path, venv: Path) -> dict:
    """The reference's environment: its requirements at their pins where installable. Reused when
    its record (``afp-ref-env.json``) matches these requirements."""
    reqs = [ln.strip() for ln in (reference / "requirements.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
    record_path = venv / "afp-ref-env.json"
    if record_path.exists():
        record = json.loads(record_path.read_text())
        if record.get("requirements") == reqs and record.get("torch") == TORCH_SPEC:
            log(f"reusing {venv}")
            return record
    log(f"building {venv} for {reference} (a few minutes)")
    sh([sys.executable, "-m", "venv", "--clear", str(venv)])
    changes, plain = [], []
    for req in reqs:
        if req in ENV_CHANGES:
            instead, why = ENV_CHANGES[req]
            changes.append({"requirement": req, "installed": instead, "why": why})
        else:
            plain.append(req)
    pip_install(venv, [TORCH_SPEC])  # first, so that nothing later resolves another torch build
    for req in list(plain):
        if req in FALLBACKS:
            plain.remove(req)
            if pip_install(venv, [req], check=False):
                plain.append(req)
            else:
                instead, why = FALLBACKS[req]
                changes.append({"requirement": req, "installed": instead, "why": why})
                plain.append(instead)
    extra = [spec for spec, _ in EXTRA]
    changes += [{"requirement": None, "installed": spec, "why": why} for spec, why in EXTRA]
    pip_install(venv, plain + extra)
    freeze = sh([str(venv / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True).stdout.split()
    record = {"requirements": reqs, "torch": TORCH_SPEC, "changes": changes, "freeze": freeze}
    record_path.write_text(json.dumps(record, indent=1))
    return record


def print_env(record: dict) -> None:
    log("reference environment: requirements.txt at its pins except")
    for c in record["changes"]:
        what = (f"{c['requirement']} -> {c['installed'] or 'left out'}" if c["requirement"]
                else f"added {c['installed']}")
        log(f"  {what}: {c['why']}")
    keys = ("torch", "transformers", "tokenizers", "datasets", "sentencepiece", "numpy", "pyarrow", "huggingface-hub")
    log("  installed: " + ", ".join(f for f in record["freeze"] if f.split("==")[0].lower() in keys))


# ----------------------------------------------------------------------------- model, tokenizer, data


def build_model(work: Path, shape: str, ref_python: Path, pairs: Path) -> Path:
    folder = work / f"xglm-{shape}"
    if (folder / "tokenizer.json").exists() and (folder / "pytorch_model.bin").exists():
        log(f"reusing {folder}")
        return folder
    spm_prefix = work / f"spm-unigram-{SP_PIECES}"
    if not Path(f"{spm_prefix}.model").exists():
        import sentencepiece as spm

        corpus = work / "spm-corpus.txt"
        with open(pairs, encoding="utf-8") as f, open(corpus, "w", encoding="utf-8") as out:
            for line in f:
                for side in line.rstrip("\n").split("\t")[:2]:
                    out.write(side + "\n")
        log(f"training a sentencepiece unigram model ({SP_PIECES} pieces) on {pairs.name}")
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(spm_prefix), vocab_size=SP_PIECES, model_type="unigram",
            character_coverage=0.9995, num_threads=os.cpu_count() or 1, input_sentence_size=200_000,
            shuffle_input_sentence=True, minloglevel=2)
    log(f"building a random-init XGLM of the {shape} shape with transformers 4.28")
    tmp = folder.with_name(folder.name + ".tmp")
    out = sh([str(ref_python), "-c", REF_BUILD, f"{spm_prefix}.model", str(tmp), json.dumps(SHAPES[shape])],
             capture_output=True).stdout
    log(f"  {int(out.split()[-1]) / 1e6:.1f}M parameters (tied head), saved to {folder}")
    tmp.rename(folder)
    return folder


def check_token_ids(folder: Path, ref_python: Path, texts: list[str], work: Path) -> int:
    """Token ids of ``texts`` under transformers 4.28 (fast and slow) and under ours: they must agree."""
    path = work / "tokenizer-check.json"
    path.write_text(json.dumps(texts, ensure_ascii=False))
    ref = json.loads(sh([str(ref_python), "-c", ENCODE, str(folder), str(path), "both"], capture_output=True).stdout)
    ours = json.loads(sh([sys.executable, "-c", ENCODE, str(folder), str(path), "fast"],
                         capture_output=True).stdout)["fast"]
    for name, side in (("4.28 slow (sentencepiece)", ref["slow"]), ("4.28 fast", ref["fast"])):
        bad = [i for i, (a, b) in enumerate(zip(side["ids"], ours["ids"], strict=True)) if a != b]
        if bad or side["len"] != ours["len"] or side["specials"] != ours["specials"]:
            raise SystemExit(f"token ids differ between {name} and ours ({ours['class']}): texts {bad[:5]}, "
                             f"sizes {side['len']} vs {ours['len']}, specials {side['specials']} vs "
                             f"{ours['specials']}")
    n = sum(len(x) for x in ours["ids"])
    log(f"token ids agree on {len(texts)} texts ({n} tokens): transformers 4.28 {ref['fast']['class']} and "
        f"{ref['slow']['class']}, ours {ours['class']} (transformers 5), {ours['len']} tokens, "
        f"bos/eos/pad/unk {ours['specials']}")
    return n


def write_data(work: Path, pairs: Path, samples: int) -> tuple[Path, Path, list[dict]]:
    ours = work / "samples.jsonl"
    sh([sys.executable, "-m", "crossalign.cli", "generate", "--mode", "translation", "--pairs.paths", str(pairs),
        "--output", str(ours), "--max_samples", str(samples), "--seed", "0"], capture_output=True)
    rows = [json.loads(line) for line in ours.read_text(encoding="utf-8").splitlines()]
    ref_rows = []
    for r in rows:
        # the reference's sample: prompt length in characters up to the answer, the space included
        answer = r["response"].removeprefix(" ")
        text = r["prompt"] + r["response"]
        ref_rows.append({"sent0": r["pair"]["src"], "sent1": r["pair"]["tgt"], "clm_text": text,
                         "clm_prompt_len": len(text) - len(answer)})
    ref = work / "samples.ref.json"
    ref.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ref_rows), encoding="utf-8")
    log(f"{len(rows)} samples: {ours.name} (crossalign generate) and {ref.name} (the reference's format)")
    return ours, ref, ref_rows


def reference_tokens(folder: Path, ref_rows: list[dict], steps: int, batch: int, max_len: int) -> int:
    """Real tokens the reference feeds forward in its first ``steps`` steps: the order of its sampler
    (``RandomSampler`` with a generator seeded by ``--data_seed 0``), its sentences cut at max_len,
    its LM samples concatenated per batch and cut into max_len blocks, the remainder dropped."""
    import torch
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    order = torch.randperm(len(ref_rows), generator=torch.Generator().manual_seed(0)).tolist()

    def enc(texts: list[str]) -> list[list[int]]:
        return tok(texts, max_length=max_len, truncation=True)["input_ids"]

    total = 0
    for s in range(steps):
        rows = [ref_rows[i] for i in order[s * batch:(s + 1) * batch]]
        total += sum(len(x) for x in enc([r["sent0"] for r in rows] + [r["sent1"] for r in rows]))
        lm = sum(len(x) for x in enc([r["clm_text"] for r in rows]))
        total += lm // max_len * max_len if lm >= max_len else lm
    return total


# ----------------------------------------------------------------------------- the runs


def drop_weights(folder: Path) -> None:
    """Trained weights and optimizer states are not needed (GBs a run at the 564m shape); logs and metrics stay."""
    for f in folder.rglob("*"):
        if f.suffix in (".bin", ".safetensors", ".pt", ".pth") and f.is_file():
            f.unlink()


def timed(cmd: list[str], cwd: Path, log_path: Path, env: dict) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of one training process."""
    t0 = time.perf_counter()
    with open(log_path, "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} {cmd[1]} failed; see {log_path}:\n" + log_path.read_text()[-3000:])
    return wall, usage.ru_maxrss / 1e6  # KiB on Linux


def offline_env() -> dict:
    """The environment of both trainers' processes: offline, no wandb, no tokenizer threads."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "WANDB_DISABLED": "true", "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false"}


def reference_command(reference: Path, ref_python: Path, model: Path, data: Path, steps: int, args,
                      cwd: Path) -> list[str]:
    """The reference's ``src/train.py`` command line for ``steps`` steps of the benchmark's run."""
    return [str(ref_python), str(reference / "src" / "train.py"),
            "--model_name_or_path", str(model), "--train_file", str(data), "--output_dir", str(cwd / "out"),
            "--cache_dir", str(cwd / "cache"), "--pooler_type", f"last-{args.layer}", "--temp", "0.05",
            "--do_clm", "--clm_weight", "1.5", "--do_train", "--max_steps", str(steps),
            "--per_device_train_batch_size", str(args.batch), "--gradient_accumulation_steps", "1",
            "--learning_rate", "1e-5", "--lr_scheduler_type", "cosine", "--warmup_ratio", "0.03",
            "--max_seq_length", str(args.max_length), "--clm_block_size", str(args.max_length),
            "--seed", "0", "--data_seed", "0", "--no_cuda", "--report_to", "none", "--save_strategy", "no",
            "--evaluation_strategy", "no", "--logging_steps", "1", "--disable_tqdm", "true",
            "--overwrite_output_dir"]


def run_reference(reference: Path, ref_python: Path, model: Path, data: Path, steps: int, args, work: Path,
                  env: dict) -> dict:
    cwd = work / f"ref-{steps}"  # its own cwd: train.py caches the dataset under ./data/cache/
    subprocess.run(["rm", "-rf", str(cwd)], check=True)
    cwd.mkdir(parents=True)
    cmd = reference_command(reference, ref_python, model, data, steps, args, cwd)
    wall, rss = timed(cmd, cwd, cwd / "train.log", env)
    metrics = dict(re.findall(r"^(\w+) = (\S+)$", (cwd / "out" / "train_results.txt").read_text(), re.M))
    drop_weights(cwd / "out")
    return {"wall": wall, "rss": rss, "runtime": float(metrics["train_runtime"]), "cmd": cmd}


def run_ours(model: Path, data: Path, steps: int, args, work: Path, env: dict) -> dict:
    out = work / f"ours-{steps}"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    cmd = [sys.executable, "-m", "crossalign.cli", "train", "--model.name_or_path", str(model),
           "--model.allow_pickle", "--model.dtype", "float32", "--model.device", "cpu",
           "--data.train_file", str(data), "--contrastive.pooling", "last", "--contrastive.layer", str(args.layer),
           "--contrastive.temperature", "0.05", "--contrastive.max_length", str(args.max_length),
           "--clm.weight", "1.5", "--clm.max_length", str(args.max_length), "--no-clm.add_eos",
           "--training.per_device_train_batch_size", str(args.batch), "--training.max_steps", str(steps),
           "--training.learning_rate", "1e-5", "--training.lr_scheduler_type", "cosine",
           "--training.warmup_ratio", "0.03", "--training.bf16", "false", "--training.seed", "0",
           "--training.logging_steps", "1", "--training.save_steps", "1000000", "--training.report_to", "none",
           "--training.output_dir", str(out), "--training.args", "disable_tqdm=true"]
    out.mkdir(parents=True)
    wall, rss = timed(cmd, work, out.with_suffix(".log"), env)
    text = out.with_suffix(".log").read_text()
    runtime = re.findall(r"'train_runtime': '?([0-9.]+)", text)
    facts = json.loads((out / "model" / "crossalign_train.json").read_text())
    drop_weights(out)
    return {"wall": wall, "rss": rss, "runtime": float(runtime[-1]) if runtime else float("nan"),
            "tokens": facts["tokens"], "cmd": cmd}


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        names = re.findall(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = names[0] if names else cpu
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 2**20
    return f"{cpu}, {len(os.sched_getaffinity(0))} cores, {mem:.0f} GiB RAM"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reference", type=Path, required=True, help="a checkout of chongli17/CrossLingualAlignment")
    p.add_argument("--shape", choices=list(SHAPES), default="23m")
    p.add_argument("--steps", type=int, nargs=2, metavar=("SHORT", "LONG"), default=None,
                   help="the two step counts of each trainer (default: 10 40 for 23m, 3 6 for 564m)")
    p.add_argument("--ref-venv", type=Path, default=ROOT / ".venv-afp-ref")
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "reference_speed")
    p.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS)
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--layer", type=int, default=1)
    p.add_argument("--prepare-only", action="store_true",
                   help="build the environment, model, tokenizer and data, check the token ids, and stop")
    args = p.parse_args()
    reference = args.reference.resolve()
    if not (reference / "src" / "train.py").exists():
        raise SystemExit(f"{reference} is not a checkout of the reference (no src/train.py)")
    short, long = args.steps or DEFAULT_STEPS[args.shape]
    if not 0 < short < long:
        raise SystemExit("--steps SHORT LONG: 0 < SHORT < LONG")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)

    record = ensure_ref_venv(reference, args.ref_venv.resolve())
    print_env(record)
    ref_python = args.ref_venv.resolve() / "bin" / "python"
    model = build_model(work, args.shape, ref_python, args.pairs)
    ours_data, ref_data, ref_rows = write_data(work, args.pairs, args.samples)
    texts = [t for r in ref_rows[:6] for t in (r["sent0"], r["sent1"], r["clm_text"])]
    check_token_ids(model, ref_python, texts, work)
    if args.prepare_only:
        return

    env = offline_env()
    runs: dict[tuple[str, int], dict] = {}
    for steps in (short, long):  # interleaved: reference, ours, reference, ours
        log(f"reference, {steps} steps ...")
        runs["ref", steps] = run_reference(reference, ref_python, model, ref_data, steps, args, work, env)
        log(f"  wall {runs['ref', steps]['wall']:.1f} s, train_runtime {runs['ref', steps]['runtime']:.1f} s")
        log(f"crossalign, {steps} steps ...")
        runs["ours", steps] = run_ours(model, ours_data, steps, args, work, env)
        log(f"  wall {runs['ours', steps]['wall']:.1f} s, train_runtime {runs['ours', steps]['runtime']:.1f} s")
    for steps in (short, long):
        runs["ref", steps]["tokens"] = reference_tokens(model, ref_rows, steps, args.batch, args.max_length)

    def fig(side: str) -> dict:
        a, b = runs[side, short], runs[side, long]
        n = long - short
        s_wall, s_rt = (b["wall"] - a["wall"]) / n, (b["runtime"] - a["runtime"]) / n
        tok = (b["tokens"] - a["tokens"]) / n
        return {"s_wall": s_wall, "s_rt": s_rt, "tok_step": tok, "tps": tok / s_wall, "tps_rt": tok / s_rt,
                "rss": max(a["rss"], b["rss"])}

    ref, ours = fig("ref"), fig("ours")
    print()
    print(f"AFP training step, random XGLM {args.shape} ({machine()}), fp32, batch {args.batch}, max length "
          f"{args.max_length}, pooled last token of layer {args.layer}, CLM weight 1.5, {args.samples} DDTP en-de "
          f"samples; marginal over steps {short + 1}-{long} (one run each)")
    print(f"{'':26}{'reference':>11}{'crossalign':>11}{'ours/ref':>10}")
    rows = [("s/step (wall)", "s_wall", "{:.3f}"), ("s/step (train_runtime)", "s_rt", "{:.3f}"),
            ("real tokens/step", "tok_step", "{:.0f}"), ("real tokens/s (wall)", "tps", "{:.0f}"),
            ("real tokens/s (runtime)", "tps_rt", "{:.0f}"), ("peak RSS (GB)", "rss", "{:.2f}")]
    for label, key, f in rows:
        print(f"{label:26}{f.format(ref[key]):>11}{f.format(ours[key]):>11}{ours[key] / ref[key]:>9.2f}x")
    print("wall seconds per run: " + ", ".join(f"{side} {s}: {runs[side, s]['wall']:.1f}"
                                             for side in ("ref", "ours") for s in (short, long)))
    (work / f"result-{args.shape}.json").write_text(json.dumps(
        {"machine": machine(), "shape": args.shape, "steps": [short, long], "reference": ref, "crossalign": ours,
         "runs": {f"{k[0]}-{k[1]}": v for k, v in runs.items()}, "environment": record["changes"]}, indent=1))


if __name__ == "__main__":
    main()

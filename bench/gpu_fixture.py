"""A model folder and a training file for launch checks on a machine without model files or data
(the lent GPU machine): a random-init model of a real shape (bench/shapes.py) saved with
crossalign's tiny byte-level tokenizer, and AFP samples in crossalign's schema.

    python bench/gpu_fixture.py --shape qwen2.5-0.5b --out /tmp/fixture
    # -> /tmp/fixture/model (safetensors + tokenizer), /tmp/fixture/samples.jsonl

The tokenizer's 400 ids are a subset of the model's vocabulary, so every id is valid; the text is
a few multilingual sentences repeated with numbers, so the batches have realistic lengths.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from crossalign.testing import tiny_tokenizer
from shapes import shape_model

PAIRS = [
    ("The cat sits on the mat and looks at the birds in the garden.", "猫坐在垫子上，看着花园里的鸟。"),
    ("He dropped a hammer on his foot, so he went to the doctor.", "Er ließ einen Hammer auf seinen Fuß fallen."),
    ("Where is the station? I have to catch the last train tonight.", "Où est la gare ? Je dois prendre le train."),
    ("The children played football in the park until it got dark.", "Los niños jugaron al fútbol en el parque."),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", default="qwen2.5-0.5b")
    ap.add_argument("--out", required=True)
    ap.add_argument("--samples", type=int, default=512)
    args = ap.parse_args()
    out = Path(args.out)
    tok = tiny_tokenizer(padding_side="right")
    tok.model_max_length = 2048
    model = shape_model(args.shape, dtype=torch.float32)
    model.save_pretrained(out / "model")
    tok.save_pretrained(out / "model")
    rows = []
    for i in range(args.samples):
        en, other = PAIRS[i % len(PAIRS)]
        en2, other2 = PAIRS[(i + 1) % len(PAIRS)]
        rows.append({"pair": {"src_lang": "en", "tgt_lang": "zh", "src": f"{en} ({i})", "tgt": f"{other} ({i})"},
                     "prompt": f"{en2} Number {i}. Translate:", "response": f" {other2} {i}",
                     "prompt_lang": "en", "response_lang": "zh"})
    (out / "samples.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                       encoding="utf-8")
    print(f"wrote {out / 'model'} ({args.shape}, random init) and {len(rows)} samples to {out / 'samples.jsonl'}")


if __name__ == "__main__":
    main()

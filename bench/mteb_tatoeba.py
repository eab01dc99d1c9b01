"""MTEB's own Tatoeba bitext-mining task (mteb 2.x) on crossalign.Encoder, with the Tatoeba test
files of ../shared/data put in place of the hub download, against crossalign's own retrieval.

    python3 -m venv /tmp/mteb-venv && /tmp/mteb-venv/bin/pip install torch==2.13.0 mteb==2.26.24 \
        && /tmp/mteb-venv/bin/pip install -e .
    /tmp/mteb-venv/bin/python bench/mteb_tatoeba.py MODEL LAYER [N_PAIRS]   (MODEL 'tiny' = a random tiny Gemma-3)

Measured (2026-12-01, AMD EPYC 2 cores): ``pypi:gemma-3-270m 11 1000`` gives MTEB accuracy = our
retrieval on every subset (deu 0.7590, fra 0.6760, cmn 0.5950, ind 0.6090; docs/encoding.md).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import mteb
import numpy as np
import torch
from datasets import Dataset, DatasetDict
from mteb.models import EncoderProtocol

from crossalign import Encoder
from crossalign.analysis.inputs import group_by_language
from crossalign.analysis.runner import measure_model
from crossalign.data.sources import PairsSpec, read_pairs
from crossalign.retrieval import retrieval_accuracy

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tatoeba"
SUBSETS = {"deu": "de", "fra": "fr", "cmn": "zh", "ind": "id"}

model_name, layer = sys.argv[1], int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else None
torch.manual_seed(0)
if model_name == "tiny":
    from crossalign.testing import tiny_model, tiny_tokenizer

    tok = tiny_tokenizer()
    enc = Encoder(tiny_model("gemma3", tok), tok, layer=layer, pooling="mean", name="crossalign/tiny-gemma3")
else:
    enc = Encoder(model_name, layer=layer, pooling="mean", dtype="float32", device="cpu")
print(enc, "| isinstance(enc, mteb EncoderProtocol):", isinstance(enc, EncoderProtocol))

pairs = read_pairs(PairsSpec(paths=[f"{DATA}/tatoeba.{c}-eng.{c}" for c in SUBSETS]))
by_lang = group_by_language(pairs, "en", n)
task = mteb.get_task("Tatoeba", hf_subsets=[f"{c}-eng" for c in SUBSETS])
# what load_data would fetch from mteb/tatoeba-bitext-mining: sentence1 = xxx, sentence2 = eng
task.dataset = {f"{c}-eng": DatasetDict({"test": Dataset.from_dict(
    {"sentence1": by_lang[lang][1], "sentence2": by_lang[lang][0]})}) for c, lang in SUBSETS.items()}
task.data_loaded = True

start = time.perf_counter()
result = mteb.evaluate(enc, task, cache=None, encode_kwargs={"batch_size": 32}, show_progress_bar=False)
mteb_s = time.perf_counter() - start
scores = {s["hf_subset"]: s for s in result.task_results[0].scores["test"]}

ours, _ = measure_model(enc.model, enc.tokenizer, by_lang, layers=[layer], pooling="mean", progress=False,
                        separability=())
print(f"\nlayer {layer}, mean pooling, {n or 'all'} pairs per language; MTEB took {mteb_s:.0f} s")
print("subset   pairs  MTEB acc  MTEB f1  analysis to_pivot  retrieval_accuracy(Encoder)")
for c, lang in SUBSETS.items():
    eng, other = by_lang[lang]
    a, b = enc.encode(other, batch_size=32), enc.encode(eng, batch_size=32)
    direct = retrieval_accuracy(torch.from_numpy(a), torch.from_numpy(b))
    analysis = ours["per_layer"]["mean"][str(layer)]["languages"][lang]["to_pivot"]
    s = scores[f"{c}-eng"]
    print(f"{c}-eng  {len(eng):6d}  {s['accuracy']:.4f}    {s['f1']:.4f}   {analysis:.4f}             {direct:.4f}")
    assert np.isclose(s["accuracy"], analysis, atol=1e-6) and np.isclose(direct, analysis, atol=1e-6)
print("MTEB accuracy == crossalign analysis retrieval (xx -> en) on every subset")

"""Per-layer cross-lingual retrieval of Gemma-3-270M on the 16 Tatoeba languages (issue 5, acceptance 3).

    flock /tmp/crossalign-heavy.lock python bench/analysis_tatoeba.py --pairs 500 \
        --output /tmp/analysis_tatoeba > /tmp/analysis_tatoeba.log 2>&1

Reads ``tatoeba.xxx-eng.{xxx,eng}`` from ``../shared/data/tatoeba`` (override with
``--data``), keeps the first ``--pairs`` pairs of each language, and encodes every sentence
once at all 19 states (embedding output + 18 blocks) with three pooling variants from the
same forward: mean over the sentence tokens without BOS (the default), mean with BOS
(``mean+special``) and the last token. It prints, per layer, Tatoeba top-1 retrieval
xx->eng and eng->xx (cosine, mean over languages, plus the 9-language mean over deu fra spa
cmn jpn rus tur tha ind available here), margin scoring, and the other metrics for mean
pooling; then writes the full report (JSON, markdown, PNGs) to ``--output``. The cosine
metrics of every variant are computed at every layer; separability (probe + silhouette) and
projections only for mean pooling, to keep the run short on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import torch

from crossalign.analysis.inputs import group_by_language
from crossalign.analysis.layer_metrics import analyze_layer
from crossalign.analysis.projection import projection_at
from crossalign.analysis.report import write_report
from crossalign.analysis.representations import encode_representations
from crossalign.analysis.runner import recommend_layer, recommendation, results_header
from crossalign.data.sources import PairsSpec, read_pairs
from crossalign.model.layers import num_layers
from crossalign.model.load import ModelConfig, load_model, load_tokenizer

LANGS = ["ara", "cmn", "deu", "fra", "hin", "ind", "ita", "jpn", "kor", "nld", "pol", "por", "rus", "spa",
         "tur", "vie"]
# The 9-language mean quoted in ../shared/AFP.md (tha is not among the 16 files here).
NINE = ["de", "fr", "es", "zh", "ja", "ru", "tr", "th", "id"]
DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tatoeba"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="pypi:gemma-3-270m")
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--languages", default=",".join(LANGS))
    ap.add_argument("--pairs", type=int, default=500, help="first N pairs of each language")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--poolings", default="mean,mean+special,last")
    ap.add_argument("--cache-dir", default="/tmp/crossalign-analysis-cache")
    ap.add_argument("--output", default="/tmp/analysis_tatoeba")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.manual_seed(0)

    t0 = time.perf_counter()
    prefixes = [str(Path(args.data) / f"tatoeba.{lang}-eng") for lang in args.languages.split(",")]
    spec = PairsSpec(paths=prefixes)
    by_lang = group_by_language(read_pairs(spec), pivot="en", max_per_language=args.pairs)
    cfg = ModelConfig(name_or_path=args.model, dtype="float32", device="cpu")
    model, tok = load_model(cfg), load_tokenizer(cfg)
    n = num_layers(model)
    t_load = time.perf_counter() - t0
    print(f"model {args.model}: {n} layers; {len(by_lang)} languages x {args.pairs} pairs; "
          f"torch threads {torch.get_num_threads()}; load {t_load:.1f}s", flush=True)

    t1 = time.perf_counter()
    poolings = args.poolings.split(",")
    reps = encode_representations(model, tok, by_lang, range(n + 1), poolings, batch_size=args.batch_size,
                        cache_dir=args.cache_dir, pivot="en", progress=bool(os.isatty(2)))
    t_encode = time.perf_counter() - t1
    print(f"encoded {reps.num_rows} sentences at {n + 1} layers x {len(poolings)} poolings "
          f"in {t_encode:.1f}s "
          f"(computed: {len(reps.meta['computed'])} layer files, cache {args.cache_dir})", flush=True)

    t2 = time.perf_counter()
    results = results_header(model, reps, 0, {"margin_k": 4, "uniformity_t": 2.0})
    results["per_layer"] = {}
    for pooling in reps.poolings:
        separability = ("probe", "silhouette") if pooling == "mean" else ()
        results["per_layer"][pooling] = {
            str(layer): analyze_layer(reps, pooling, layer, separability=separability)
            for layer in reps.layers
        }
    layer, best = recommend_layer(results)
    results["recommended"] = recommendation(results, layer, best, "retrieval")
    results["projections"] = {"mean": {str(x): projection_at(reps, "mean", x) for x in sorted({layer, n})}}
    t_metrics = time.perf_counter() - t2
    results["timing"] = {"load_s": t_load, "encode_s": t_encode, "metrics_s": t_metrics}
    files = write_report(results, args.output, labels=("gemma-3-270m",))
    reps.close()

    nine = [lang for lang in NINE if lang in by_lang]
    print(f"\nTatoeba top-1 (%), {len(by_lang)} languages x first {args.pairs} pairs, pivot eng. "
          f"'9' = mean over {' '.join(nine)} ({len(nine)} of the 9 quoted in AFP.md)")
    print("| layer | mean: xx→eng | eng→xx | xx→eng (9) | xx→eng margin | eng→xx margin | "
          "mean+BOS: xx→eng | last: xx→eng | eng→xx | lang-ID probe | align | unif |")
    print("|" + "---|" * 12)
    for x in range(n + 1):
        m = results["per_layer"]["mean"][str(x)]
        s = m["summary"]
        s9 = sum(m["languages"][lang]["to_pivot"] for lang in nine) / max(len(nine), 1)
        cells = [str(x), *(f"{100 * v:.1f}" for v in (s["to_pivot"], s["from_pivot"], s9,
                                                         s["to_pivot_margin"], s["from_pivot_margin"]))]
        for pooling, keys in (("mean+special", ("to_pivot",)), ("last", ("to_pivot", "from_pivot"))):
            entry = results["per_layer"].get(pooling, {}).get(str(x))
            cells += [f"{100 * entry['summary'][k]:.1f}" if entry else "" for k in keys]
        cells += [f"{100 * s['probe_accuracy']:.1f}", f"{s['alignment']:.3f}", f"{s['uniformity']:.3f}"]
        print("| " + " | ".join(cells) + " |")
    print(f"\nrecommended: layer {layer} ({best}), retrieval {results['recommended']['value']:.3f}")
    print(f"wall time: load {t_load:.0f}s, encode {t_encode:.0f}s, metrics+report {t_metrics:.0f}s, "
          f"total {time.perf_counter() - t0:.0f}s; report: {files['markdown']}")


if __name__ == "__main__":
    main()

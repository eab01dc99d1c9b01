"""Configuration of the quickstart: one YAML file (``configs/quickstart.yaml``) for every stage.

The sections reuse the configurations of the individual commands (``train`` is a full
:class:`~crossalign.train.config.TrainConfig`, ``evaluate`` a full
:class:`~crossalign.eval.runner.EvalConfig`); the quickstart fills in what links the stages
(the model, the generated training file, the output folders).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crossalign.errors import ConfigError
from crossalign.eval.runner import EvalConfig
from crossalign.model.load import ModelConfig
from crossalign.pipeline.data import AlignmentData, source_specs
from crossalign.train.config import TrainConfig

STAGES = ("model", "data", "before", "train", "after", "report")


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
    data: AlignmentData = field(default_factory=AlignmentData)
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

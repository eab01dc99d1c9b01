"""The saved checkpoints of a study run's training stage, and loading one for a dev measurement.

    for step, path in saved_checkpoints(out / "train"):
        lm = load_checkpoint(cfg, base_path, path)      # the base model with that checkpoint's weights
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from crossalign.experiments.config import ExperimentConfig
from crossalign.model.adapt import add_lora
from crossalign.model.load import load_model
from crossalign.train.checkpoint import load_lm_weights


def saved_checkpoints(train_dir: Path) -> list[tuple[int, Path]]:
    """``[(step, folder)]`` of the trainer's ``checkpoint-N`` folders, by step."""
    return sorted((int(p.name.rsplit("-", 1)[-1]), p) for p in Path(train_dir).glob("checkpoint-*")
                  if p.name.rsplit("-", 1)[-1].isdigit())


def load_checkpoint(cfg: ExperimentConfig, base_path: str, checkpoint: Path):
    """The base model with a trainer checkpoint's weights (LoRA adapter or full weights) in place."""

    lm = load_model(dataclasses.replace(cfg.model, name_or_path=base_path))
    lo = cfg.train.lora
    if lo.enabled:
        lm = add_lora(lm, lo.r, lo.alpha, lo.dropout, lo.target_modules)
    load_lm_weights(lm, checkpoint)
    return lm.eval()

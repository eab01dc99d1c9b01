"""Every shipped YAML config parses into its command's Config (typos fail here, not in a long run)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crossalign.options import load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _command_config(path: Path):
    rel = path.relative_to(CONFIGS)
    if rel.parts[0] == "train":
        from crossalign.train.config import TrainConfig

        return TrainConfig
    if rel.name == "quickstart.yaml":
        from crossalign.quickstart.config import QuickstartConfig

        return QuickstartConfig
    if len(rel.parts) == 1:
        # Every other top-level config is a study (study.yaml, evidence.yaml, evidence_long.yaml, ...).
        from crossalign.experiments.config import StudyConfig

        return StudyConfig
    if rel.parts[0] == "experiments":
        from crossalign.experiments.config import ExperimentConfig

        return ExperimentConfig
    return None


ALL = sorted(p for p in CONFIGS.rglob("*.yaml") if p.relative_to(CONFIGS).parts[0] != "accelerate")


def test_configs_exist():
    assert (CONFIGS / "quickstart.yaml").exists()
    assert ALL


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_shipped_config_parses(path):
    cls = _command_config(path)
    assert cls is not None, f"no command is known for {path}; add it to _command_config"
    load_config(cls, path)


@pytest.mark.parametrize("path", sorted((CONFIGS / "accelerate").glob("*.yaml")), ids=lambda p: p.name)
def test_accelerate_configs_are_accelerate_files(path):
    data = yaml.safe_load(path.read_text())
    assert data["distributed_type"] in {"MULTI_GPU", "MULTI_CPU", "FSDP", "DEEPSPEED", "NO"}
    assert "num_processes" in data

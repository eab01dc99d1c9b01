"""Every shipped training config parses into TrainConfig; accelerate configs are valid YAML; the
reader reads what `crossalign generate` writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crossalign.cli import main as cli_main
from crossalign.data.samples import read_samples
from crossalign.errors import ConfigError
from crossalign.options import from_dict, load_config
from crossalign.train.config import TrainConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("path", sorted((CONFIGS / "train").glob("*.yaml")), ids=lambda p: p.name)
def test_train_configs_parse(path):
    cfg = load_config(TrainConfig, path)
    assert cfg.data.train_file and cfg.model.name_or_path
    assert "crossalign train --config" in path.read_text()  # the header says how to run it


def test_reference_config_has_the_reference_hyper_parameters():
    cfg = load_config(TrainConfig, CONFIGS / "train" / "reference_xglm564m_en_zh.yaml")
    t = cfg.training
    assert (
        t.learning_rate,
        t.lr_scheduler_type,
        t.warmup_ratio,
        t.max_steps,
        t.per_device_train_batch_size,
        t.seed,
    ) == (1e-5, "cosine", 0.03, 5000, 2, 0)
    assert (cfg.contrastive.weight, cfg.clm.weight, cfg.contrastive.temperature, cfg.clm.max_length) == (
        1.0,
        1.5,
        0.05,
        512,
    )
    assert (cfg.contrastive.pooling, cfg.contrastive.layer) == ("last", "1")


@pytest.mark.parametrize("path", sorted((CONFIGS / "accelerate").glob("*.yaml")), ids=lambda p: p.name)
def test_accelerate_configs_are_valid(path):
    data = yaml.safe_load(path.read_text())
    assert data["distributed_type"] in ("MULTI_GPU", "FSDP", "DEEPSPEED")
    assert data["num_processes"] >= 1


def test_invalid_values_are_config_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("contrastive:\n  pooling: max\n")
    with pytest.raises(ConfigError, match="choose from"):
        load_config(TrainConfig, bad)
    bad.write_text("contrastive:\n  weight: 0\nclm:\n  weight: 0\n")
    with pytest.raises(ConfigError, match="nothing to train"):
        load_config(TrainConfig, bad)


def test_reads_generate_output(tmp_path):
    tsv = tmp_path / "ddtp.en-zh.tsv"
    tsv.write_text(
        "The cat sits on the mat.\t猫坐在垫子上。\nI like green tea.\t我喜欢绿茶。\n"
        "Where is the station?\t车站在哪里？\n",
        encoding="utf-8",
    )
    out = tmp_path / "samples.jsonl"
    assert (
        cli_main(["generate", "--mode", "translation", "--pairs.paths", str(tsv), "--output", str(out)]) == 0
    )
    samples = read_samples(out)
    assert len(samples) == 3
    assert all(s.src and s.tgt and s.prompt and s.response for s in samples)


def test_commented_eval_example_parses():
    """The commented ``eval:`` section of the Gemma config is a valid section once uncommented."""
    path = CONFIGS / "train" / "gemma3_270m_ddtp.yaml"
    lines = path.read_text().splitlines()
    start = lines.index("# eval:")
    block = [line[2:] for line in lines[start:] if line.startswith("# ")]
    data = {**yaml.safe_load(path.read_text()), **yaml.safe_load("\n".join(block))}
    cfg = from_dict(TrainConfig, data)
    assert cfg.eval.tasks == ["xcopa"] and cfg.eval.select_best and cfg.eval.shots == [0, 5]
    assert load_config(TrainConfig, path).eval.tasks == []  # as shipped: no evaluation during training

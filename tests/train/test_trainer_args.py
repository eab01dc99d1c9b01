"""``training.args``: any TrainingArguments field passes through, checked against TrainingArguments'
own fields before the model loads; fields crossalign sets itself are refused with the option to use."""

from __future__ import annotations

import pytest

from crossalign.cli import command_parser
from crossalign.cli import main as cli_main
from crossalign.options import parse_args
from crossalign.train.arguments import training_arguments
from crossalign.train.config import TrainConfig


def _cfg(*flags) -> TrainConfig:
    parser, module = command_parser("train")
    return parse_args(module.Config, parser.parse_args(["--data.train_file", "x.jsonl", *flags]))


def test_fields_pass_through_with_yaml_typed_values(tmp_path):
    cfg = _cfg("--training.output_dir", str(tmp_path), "--training.args", "adam_beta2=0.95",
               "optim=adamw_torch", "eval_strategy=no", "hub_private_repo=true", "dataloader_pin_memory=false")
    assert cfg.training.args == {"adam_beta2": 0.95, "optim": "adamw_torch", "eval_strategy": "no",
                                 "hub_private_repo": True, "dataloader_pin_memory": False}
    args = training_arguments(cfg)
    assert (args.adam_beta2, args.optim, args.dataloader_pin_memory) == (0.95, "adamw_torch", False)
    assert args.learning_rate == cfg.training.learning_rate  # crossalign's own options still apply



@pytest.mark.parametrize(("item", "words"), [
    ("eval_strategyy=steps", "training.args.eval_strategyy: not a field of transformers' TrainingArguments; "
                             "did you mean eval_strategy"),
    ("learning_rate=1.0", "training.args.learning_rate: crossalign sets it from training.learning_rate"),
    ("use_cpu=true", "training.args.use_cpu: crossalign sets it from model.device"),
    ("remove_unused_columns=true", "training.args.remove_unused_columns: crossalign must set it itself"),
    # a token as an option would land in config.yaml and the model card, and be uploaded
    ("hub_token=hf_secret", "training.args.hub_token: a token given as an option is written into config.yaml"),
    ("eval_strategy=bogus", "training.args: transformers refuses these TrainingArguments"),
    ("badly", "training.args: 'badly' is not KEY=VALUE"),
])
def test_bad_entries_are_refused_before_the_model_loads(item, words, tiny_checkpoints, samples_file, tmp_path,
                                                        capsys, no_model):
    out = tmp_path / "run"
    argv = ["train", "--model.name_or_path", str(tiny_checkpoints["llama"]), "--data.train_file", str(samples_file),
            "--training.output_dir", str(out), "--training.report_to", "none", "--training.args", item]
    assert cli_main(argv) == 2
    assert words in capsys.readouterr().err
    assert not out.exists()

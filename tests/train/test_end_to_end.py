"""Acceptance 7 and 8: short real runs on tiny models through the library and the CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, TrainerCallback

from crossalign.cli import main as cli_main
from crossalign.options import from_dict
from crossalign.testing import assert_close, assert_grads_close
from crossalign.train.config import TrainConfig
from crossalign.train.wiring import build_run, finish_run


def make_cfg(ckpt: Path, samples: Path, out: Path, **over) -> TrainConfig:
    data = {
        "model": {"name_or_path": str(ckpt)},
        "data": {"train_file": str(samples)},
        "contrastive": {"layer": "2"},
        "clm": {"max_length": 128},
        "training": {
            "output_dir": str(out),
            "max_steps": 3,
            "learning_rate": 1e-2,
            "logging_steps": 1,
            "save_steps": 100,
            "report_to": ["none"],
            "warmup_ratio": 0.0,
        },
    }
    for dotted, value in over.items():
        section, key = dotted.split("__")
        data.setdefault(section, {})[key] = value
    return from_dict(TrainConfig, data)


def quiet(msg: str) -> None:
    pass


@pytest.mark.parametrize("arch", ["llama", "xglm", "gemma3"])
def test_training_changes_every_parameter_and_saves_a_loadable_model(
    arch, tiny_checkpoints, samples_file, tmp_path
):
    ckpt = tiny_checkpoints[arch]
    initial = AutoModelForCausalLM.from_pretrained(ckpt)
    run = build_run(make_cfg(ckpt, samples_file, tmp_path / "out"), say=quiet)
    out = finish_run(run)
    trained = run.lm
    trained.eval()
    for name, p in trained.named_parameters():
        assert not torch.equal(p, initial.get_parameter(name)), f"{arch}: {name} did not change"
    reloaded = AutoModelForCausalLM.from_pretrained(out)
    ids = torch.randint(3, 300, (2, 9))
    with torch.no_grad():
        assert torch.equal(reloaded(input_ids=ids).logits, trained(input_ids=ids).logits)
    if initial.config.tie_word_embeddings:
        assert reloaded.config.tie_word_embeddings
        assert (
            reloaded.get_output_embeddings().weight.data_ptr()
            == reloaded.get_input_embeddings().weight.data_ptr()
        )
        with safe_open(str(out / "model.safetensors"), "pt") as f:
            names = list(f.keys())
        assert names and not any("lm_head" in k for k in names)  # stored once, never an untied copy
    assert (out / "tokenizer.json").is_file() and (out / "config.yaml").is_file()
    assert json.loads((out / "crossalign_train.json").read_text())["layer"] == 2
    logged = [h for h in run.trainer.state.log_history if "loss/cl" in h]
    assert len(logged) == 3 and all("loss/clm" in h and "cl/accuracy" in h for h in logged)


def test_lora_merged_model_gives_the_adapter_outputs(tiny_checkpoints, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer

    from crossalign.train.checkpoint import save_final_model

    base = AutoModelForCausalLM.from_pretrained(tiny_checkpoints["gemma3"])
    tok = AutoTokenizer.from_pretrained(tiny_checkpoints["gemma3"])
    torch.manual_seed(0)
    lora = get_peft_model(base, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    ids = torch.randint(3, 300, (2, 9))
    with torch.no_grad():
        want = lora(input_ids=ids).logits
    out = save_final_model(lora, tok, tmp_path / "merged", merge_lora=True)
    merged = AutoModelForCausalLM.from_pretrained(out)
    with torch.no_grad():
        got = merged(input_ids=ids).logits
    assert_close(got, want)
    assert merged.get_output_embeddings().weight.data_ptr() == merged.get_input_embeddings().weight.data_ptr()


def test_lora_training_changes_only_adapters(tiny_checkpoints, samples_file, tmp_path):
    cfg = make_cfg(tiny_checkpoints["llama"], samples_file, tmp_path / "out", lora__enabled=True, lora__r=4)
    run = build_run(cfg, say=quiet)
    before = {n: p.detach().clone() for n, p in run.lm.named_parameters()}
    run.trainer.train()
    for name, p in run.lm.named_parameters():
        assert torch.equal(p, before[name]) != ("lora_" in name), name


class StopAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_training_stop = True
        return control


def _losses(run, steps):
    hist = {h["step"]: h for h in run.trainer.state.log_history if "loss/cl" in h}
    return [(hist[s]["loss/cl"], hist[s]["loss/clm"]) for s in steps]


def test_kill_and_resume_reproduces_the_straight_run(tiny_checkpoints, samples_file, tmp_path):
    over = {"training__max_steps": 6, "training__save_steps": 3, "training__learning_rate": 3e-3}
    straight = build_run(make_cfg(tiny_checkpoints["xglm"], samples_file, tmp_path / "a", **over), say=quiet)
    finish_run(straight)
    first = build_run(make_cfg(tiny_checkpoints["xglm"], samples_file, tmp_path / "b", **over), say=quiet)
    first.trainer.add_callback(StopAt(3))  # killed right after checkpoint-3
    first.trainer.train()
    assert (tmp_path / "b" / "checkpoint-3").is_dir()
    resumed = build_run(
        make_cfg(
            tiny_checkpoints["xglm"],
            samples_file,
            tmp_path / "b",
            training__resume_from_checkpoint="latest",
            **over,
        ),
        say=quiet,
    )
    finish_run(resumed)
    want = _losses(straight, [4, 5, 6])
    got = _losses(resumed, [4, 5, 6])
    for (a, b), (c, d) in zip(got, want, strict=True):
        assert math.isclose(a, c, rel_tol=1e-6) and math.isclose(b, d, rel_tol=1e-6)


def test_bad_input_is_a_clear_error(tiny_checkpoints, samples_file, tmp_path, capsys):
    base = [
        "train",
        "--model.name_or_path",
        str(tiny_checkpoints["llama"]),
        "--data.train_file",
        str(samples_file),
        "--training.output_dir",
        str(tmp_path / "o"),
        "--training.report_to",
        "none",
        "--clm.max_length",
        "128",
    ]
    assert cli_main([*base, "--contrastive.layer", "9"]) == 2
    assert "layer 9 does not exist" in capsys.readouterr().err
    assert cli_main([*base, "--clm.max_length", "100000"]) == 2
    assert "longer than the model allows" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert cli_main([*base, "--data.train_file", str(empty)]) == 2
    assert "no samples" in capsys.readouterr().err
    assert cli_main([*base, "--contrastive.layer", "auto"]) == 2
    assert "monitor.heldout" in capsys.readouterr().err


WORKER = Path(__file__).with_name("ddp_cli_worker.py")


def _cli_train(argv, dump, nproc):
    """``crossalign train`` through the CLI on ``nproc`` CPU processes; each rank's final parameters."""
    env = dict(os.environ, OMP_NUM_THREADS="1", CROSSALIGN_TEST_DUMP=str(dump))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(WORKER.parent), env.get("PYTHONPATH")]))
    launch = [sys.executable] + (["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
                                 if nproc > 1 else [])
    proc = subprocess.run([*launch, str(WORKER), "train", *argv], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [load_file(str(dump / f"rank{r}.safetensors")) for r in range(nproc)], proc.stdout


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_torchrun_two_processes_are_data_parallel_and_equal_one(lora, tiny_checkpoints, samples_file, tmp_path):
    """2 CPU processes x 4 samples per step train exactly what 1 process x 8 samples trains: every rank
    ends with the same parameters, equal to the 1-process run's (global contrastive negatives,
    loss normalised over the whole step). On a run that is not data-parallel the ranks drift."""
    steps = 3
    common = ["--model.name_or_path", str(tiny_checkpoints["llama"]), "--data.train_file", str(samples_file),
              "--training.max_steps", str(steps), "--training.learning_rate", "3e-3", "--training.report_to", "none",
              "--training.logging_steps", "1", "--training.save_steps", "100", "--clm.max_length", "128",
              "--contrastive.layer", "2", "--contrastive.symmetric", "--lora.enabled" if lora else "--no-lora.enabled",
              "--lora.r", "4"]
    two, printed = _cli_train([*common, "--training.output_dir", str(tmp_path / "two"),
                               "--training.per_device_train_batch_size", "4"], tmp_path / "dump2", 2)
    (one,), _ = _cli_train([*common, "--training.output_dir", str(tmp_path / "one"),
                         "--training.per_device_train_batch_size", "8"], tmp_path / "dump1", 1)
    before = load_file(str(tiny_checkpoints["llama"] / "model.safetensors"))
    changed = [k for k in one if (k in before and not torch.equal(one[k], before[k]))
               or ("lora_B" in k and one[k].abs().sum() > 0)]  # LoRA's B starts at zero
    assert changed, "nothing trained"
    for name in one:
        assert torch.equal(two[0][name], two[1][name]), f"the ranks hold different {name}"
    assert_grads_close(two[0], one, rtol=1e-5, what="2 processes vs 1")
    assert printed.count("model saved to") == 1  # only rank 0 writes
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "two" / "model") is not None

"""The Trainer's ``TrainingArguments`` from crossalign's training configuration.

On a machine without an accelerator (or with ``model.device: cpu``) the arguments say
``use_cpu``: without it accelerate does not treat a ``torchrun`` launch on CPU as distributed
(``distributed_type=NO``), the model is not wrapped in DDP and every rank trains its own model.
"""

from __future__ import annotations

import dataclasses
import difflib
import os

import torch
from transformers import TrainingArguments

from crossalign.errors import ConfigError
from crossalign.train.config import TrainConfig

# TrainingArguments that crossalign sets itself, with the option that sets them (or why it must).
OWN = {
    "output_dir": "training.output_dir", "learning_rate": "training.learning_rate",
    "lr_scheduler_type": "training.lr_scheduler_type", "warmup_steps": "training.warmup_ratio",
    "weight_decay": "training.weight_decay", "max_grad_norm": "training.max_grad_norm",
    "max_steps": "training.max_steps", "per_device_train_batch_size": "training.per_device_train_batch_size",
    "gradient_accumulation_steps": "training.gradient_accumulation_steps", "bf16": "training.bf16",
    "seed": "training.seed", "data_seed": "training.seed", "logging_steps": "training.logging_steps",
    "save_steps": "training.save_steps", "save_total_limit": "training.save_total_limit",
    "report_to": "training.report_to", "dataloader_num_workers": "training.dataloader_num_workers",
    "ddp_backend": "training.ddp_backend", "use_cpu": "model.device (cpu)",
    "resume_from_checkpoint": "training.resume_from_checkpoint",
    "gradient_checkpointing": "training.gradient_checkpointing (applied to the model, whatever its wrapper)",
    "load_best_model_at_end": "eval.select_best (the best checkpoint on the eval section's dev metric)",
    "metric_for_best_model": "eval.metric", "greater_is_better": "eval.greater_is_better",
    "push_to_hub": "training.push_to_hub (uploads the final model/ folder with its model card)",
    "hub_model_id": "training.hub_model_id",
}
# Secrets: an option is written into config.yaml, every checkpoint and the model card's command line.
SECRETS = {"hub_token"}
FIXED = {
    "remove_unused_columns": "the collator reads the samples' own columns",
    "ddp_find_unused_parameters": "early exit and batches without pairs or LM samples leave parameters "
                                  "without a gradient in some steps",
    "label_names": "the objective computes its own losses; there are no label columns to name",
    "hub_strategy": "training.push_to_hub uploads the final model/ once, at the end; checkpoints stay local",
    "include_num_input_tokens_seen": "the trainer counts the tokens of pairs and LM samples itself "
                                     "(state.num_input_tokens_seen, reported in the model card)",
}


def check_trainer_args(cfg: TrainConfig) -> None:
    """Refuse, before any work, ``training.args`` entries that TrainingArguments does not have or
    that crossalign sets itself (naming the option to use instead)."""
    known = {f.name for f in dataclasses.fields(TrainingArguments) if f.init}
    for key in cfg.training.args:
        if key in OWN:
            raise ConfigError(f"training.args.{key}: crossalign sets it from {OWN[key]}; use that option")
        if key in SECRETS:
            raise ConfigError(f"training.args.{key}: a token given as an option is written into config.yaml, every "
                              "checkpoint and the model card, and would be uploaded with the model; set HF_TOKEN "
                              "or run `hf auth login` instead")
        if key in FIXED:
            raise ConfigError(f"training.args.{key}: crossalign must set it itself ({FIXED[key]})")
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"training.args.{key}: not a field of transformers' TrainingArguments{hint}")


def _bf16(flag: str) -> bool:
    if flag == "auto":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return flag == "true"


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _use_cpu(cfg: TrainConfig) -> bool:
    if cfg.model.device == "cpu":
        return True
    accelerator = getattr(torch, "accelerator", None)  # torch >= 2.6: CUDA, XPU, MPS, ...
    if accelerator is not None and hasattr(accelerator, "is_available"):
        return not accelerator.is_available()
    return not torch.cuda.is_available()


def training_arguments(cfg: TrainConfig) -> TrainingArguments:
    t = cfg.training
    report = [r for r in t.report_to if r != "none"] or "none"
    backend = None
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        backend = t.ddp_backend or ("nccl" if torch.cuda.is_available() else "gloo")
    check_trainer_args(cfg)
    ours = dict(
        output_dir=t.output_dir,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler_type,
        warmup_steps=t.warmup_ratio,
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.per_device_train_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        bf16=_bf16(t.bf16),
        seed=t.seed,
        data_seed=t.seed,
        logging_steps=t.logging_steps,
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        report_to=report,
        remove_unused_columns=False,
        dataloader_num_workers=t.dataloader_num_workers,
        ddp_backend=backend,
        use_cpu=_use_cpu(cfg),
        # Early exit and batches without LM or pair data leave some parameters unused in a step.
        ddp_find_unused_parameters=True,
        disable_tqdm=not _is_main_process(),
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    try:
        return TrainingArguments(**{**ours, **t.args})  # the pass-through may override the last two
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"training.args: transformers refuses these TrainingArguments: {exc}") from None

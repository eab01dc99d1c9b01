"""The Trainer's ``TrainingArguments`` from crossalign's training configuration.

On a machine without an accelerator (or with ``model.device: cpu``) the arguments say
``use_cpu``: without it accelerate does not treat a ``torchrun`` launch on CPU as distributed
(``distributed_type=NO``), the model is not wrapped in DDP and every rank trains its own model.
"""

from __future__ import annotations

import os

import torch
from transformers import TrainingArguments

from crossalign.train.config import TrainConfig


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
    return TrainingArguments(
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

"""Configuration of ``crossalign train``: one dataclass per concern, mirrored by YAML.

    crossalign train --config configs/train/gemma3_270m_ddtp.yaml --training.max_steps 100

Defaults are the AFP reference hyper-parameters (``../shared/AFP.md``): AdamW, lr 1e-5,
cosine schedule with 3% warm-up, 5,000 steps, per-device batch 2, max length 512,
``w_cl = 1.0``, ``w_clm = 1.5``, temperature 0.05, seed 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crossalign.errors import ConfigError
from crossalign.model.load import ModelConfig
from crossalign.model.pooling import POOLING_METHODS


def _model_default() -> ModelConfig:
    # Train in float32 weights; bf16 runs as autocast (training.bf16), which keeps fp32 master weights.
    return ModelConfig(dtype="float32")


@dataclass
class LoraConfig:
    enabled: bool = field(default=False, metadata={"help": "Train LoRA adapters instead of all weights."})
    r: int = field(default=16, metadata={"help": "LoRA rank."})
    alpha: int = field(default=32, metadata={"help": "LoRA alpha (scaling = alpha / r)."})
    dropout: float = field(default=0.0, metadata={"help": "Dropout on the LoRA input."})
    target_modules: list[str] = field(
        default_factory=lambda: ["all-linear"],
        metadata={
            "help": "Module names to adapt (e.g. q_proj v_proj), or all-linear (every linear but the head)."
        },
    )
    merge: bool = field(default=True, metadata={"help": "Merge the adapters into the saved final model."})


@dataclass
class DataConfig:
    train_file: str = field(
        default="",
        metadata={"help": "JSON lines written by `crossalign generate`, or in TRL's formats: prompt/completion "
                          "(text or messages) or messages; the LM loss is on the answers only."},
    )
    max_samples: int | None = field(default=None, metadata={"help": "Use only the first N samples."})
    chat_template: bool = field(
        default=False,
        metadata={"help": "Render instruction samples with the tokenizer's chat template (instruction-tuned "
                          "models): the prompt as a user turn, the response as the assistant turn, the loss on "
                          "the assistant's answer only. Needed for conversations (messages). Off: plain text "
                          "(base models)."},
    )


@dataclass
class ContrastiveConfig:
    weight: float = field(
        default=1.0, metadata={"help": "w_cl, the weight of the contrastive loss (0 = off)."}
    )
    layer: str = field(
        default="middle",
        metadata={
            "help": "Pooled layer: an integer (0 = embedding output, negative = from the top), "
            "'middle', or 'auto' (the layer where the base model's retrieval of held-out "
            "pairs peaks; needs monitor.heldout > 0)."
        },
    )
    pooling: str = field(
        default="mean", metadata={"help": "Pooling over tokens.", "choices": list(POOLING_METHODS)}
    )
    include_special: bool = field(
        default=False, metadata={"help": "Include special tokens such as BOS in mean pooling."}
    )
    temperature: float = field(default=0.05, metadata={"help": "InfoNCE temperature tau."})
    symmetric: bool = field(default=False, metadata={"help": "Average the src->tgt and tgt->src losses."})
    center: bool = field(
        default=False,
        metadata={
            "help": "Subtract the batch mean of every pooled representation (both sides) before the cosine. "
            "Off: the reference loss. On: a direction shared by every sentence (e.g. Gemma-3's massive "
            "activations, every cosine ~0.99) no longer flattens the softmax and starves the loss."
        },
    )
    hard_negatives: bool = field(
        default=False, metadata={"help": "Use pair.hard_negative of each sample as an extra negative."}
    )
    max_length: int = field(
        default=128, metadata={"help": "Sentences are cut to this many tokens (counted)."}
    )


@dataclass
class ClmConfig:
    weight: float = field(default=1.5, metadata={"help": "w_clm, the weight of the LM loss (0 = off)."})
    max_length: int = field(default=512, metadata={"help": "Maximum tokens of prompt + response."})
    batching: str = field(
        default="packing",
        metadata={
            "help": "padding, or padding-free packing with per-sample attention boundaries "
            "(falls back to padding, with a message, for models that cannot pack).",
            "choices": ["padding", "packing"],
        },
    )
    truncation: str = field(
        default="left",
        metadata={
            "help": "A sample longer than max_length: 'left' cuts the start of the prompt (keeping "
            "the leading special token), 'skip' drops the sample. Both are counted.",
            "choices": ["left", "skip"],
        },
    )
    add_eos: bool = field(default=True, metadata={"help": "Append the EOS token to every response."})
    head_impl: str = field(
        default="auto",
        metadata={
            "help": "How the output layer is applied: fused (weights used directly, fastest), module "
            "(called as a module under checkpointing: needed when ZeRO-3/FSDP shard it), auto (module "
            "only when the weight is sharded).",
            "choices": ["auto", "fused", "module"],
        },
    )
    chunk_size: int = field(default=1024, metadata={"help": "Positions per chunk of the fused LM-head loss."})


@dataclass
class TrainingConfig:
    output_dir: str = field(
        default="runs/afp", metadata={"help": "Where checkpoints and the final model go."}
    )
    learning_rate: float = field(default=1e-5, metadata={"help": "AdamW learning rate."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "transformers scheduler name."})
    warmup_ratio: float = field(default=0.03, metadata={"help": "Share of steps for linear warm-up."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping (0 = off)."})
    max_steps: int = field(default=5000, metadata={"help": "Optimizer steps."})
    per_device_train_batch_size: int = field(
        default=2, metadata={"help": "Samples per device and micro-batch."}
    )
    gradient_accumulation_steps: int = field(
        default=1, metadata={"help": "Micro-batches per optimizer step."}
    )
    bf16: str = field(
        default="auto",
        metadata={
            "help": "bf16 autocast: auto = on a GPU that supports it.",
            "choices": ["auto", "true", "false"],
        },
    )
    seed: int = field(default=0, metadata={"help": "Seed of initialisation, data order and dropout."})
    logging_steps: int = field(default=10, metadata={"help": "Log every N steps."})
    save_steps: int = field(default=500, metadata={"help": "Save a resumable checkpoint every N steps."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Keep at most N checkpoints."})
    report_to: list[str] = field(
        default_factory=lambda: ["tensorboard"], metadata={"help": "tensorboard, wandb, none..."}
    )
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "Recompute activations in backward."}
    )
    freeze_embeddings: bool = field(
        default=False,
        metadata={"help": "Freeze the input embedding matrix (and a head tied to it)."},
    )
    resume_from_checkpoint: str | None = field(
        default=None,
        metadata={"help": "A checkpoint-N folder, or 'latest' for the newest complete one in output_dir. "
                          "The checkpoint's run must have the same settings (logging and saving may differ)."},
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Start afresh in an output_dir that holds another run's checkpoints (they are "
                          "removed when training starts); without it such a run is refused."},
    )
    dataloader_num_workers: int = field(default=0, metadata={"help": "DataLoader worker processes."})
    ddp_backend: str | None = field(
        default=None, metadata={"help": "nccl, gloo...; default: nccl on GPU, gloo on CPU."}
    )
    args: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "Any other transformers TrainingArguments field, passed through: in YAML a mapping, "
                          "on the command line KEY=VALUE items (values read as JSON, else kept as text), e.g. "
                          "--training.args eval_strategy=steps 'fsdp=full_shard auto_wrap' fp16=true. Fields "
                          "that crossalign sets from its own options are refused with the option to use instead."},
    )
    push_to_hub: bool = field(
        default=False,
        metadata={"help": "Upload the final model/ folder (weights, tokenizer, model card) to the Hugging Face "
                          "hub once training is done; the repository is created (or checked) before the model "
                          "loads. The token: HF_TOKEN or `hf auth login`; privacy and revision: training.args "
                          "hub_private_repo / hub_revision."},
    )
    hub_model_id: str | None = field(
        default=None,
        metadata={"help": "Repository to push to (namespace/name, or name under the token's user); "
                          "default: the name of training.output_dir."},
    )


@dataclass
class MonitorConfig:
    heldout: int = field(
        default=0,
        metadata={
            "help": "Hold out the pairs of the last N samples from training and score their retrieval."
        },
    )
    every: int = field(
        default=0, metadata={"help": "Score held-out retrieval every N steps (0 = only at start/end)."}
    )
    batch_size: int = field(
        default=32, metadata={"help": "Sentences per batch when encoding held-out pairs."}
    )


@dataclass
class DevEvalConfig:
    """ICL evaluation on validation splits during training (the ``eval`` section; off without tasks)."""

    tasks: list[str] = field(
        default_factory=list,
        metadata={"help": "ICL tasks to evaluate on their validation splits while training (e.g. xcopa pawsx); "
                          "empty = no evaluation during training. Tasks with only test splits are refused."},
    )
    languages: list[str] = field(
        default_factory=list, metadata={"help": "Sample languages; empty = every language of each task."}
    )
    prompt_language: str = field(
        default="same",
        metadata={"help": "'same' = in-language; a code such as 'en' = cross-lingual (English demonstrations "
                          "and template)."},
    )
    shots: list[int] = field(default_factory=lambda: [0], metadata={"help": "Numbers of demonstrations."})
    seeds: list[int] = field(default_factory=lambda: [0], metadata={"help": "Demonstration seeds."})
    template: str | None = field(
        default=None, metadata={"help": "afp or lm_eval; default: each task's own."}
    )
    split: str | None = field(
        default=None,
        metadata={"help": "Evaluated split (default: each task's validation split); a test split is refused."},
    )
    demo_split: str | None = field(
        default=None, metadata={"help": "Split of the demonstrations (default: each task's; never a test split)."}
    )
    data_dir: str | None = field(
        default=None, metadata={"help": "Folder with the datasets' published files (e.g. ../shared/data); "
                                        "default: the hub."}
    )
    datasets: list[str] = field(
        default_factory=list, metadata={"help": "Dataset overrides as task=hub_id_or_folder."}
    )
    limit: int | None = field(default=None, metadata={"help": "Evaluate only the first N items per run."})
    seq: bool = field(default=False, metadata={"help": "Also compute acc_seq (whole-sequence log-likelihood)."})
    batch_size: int = field(default=16, metadata={"help": "Items per forward pass."})
    max_rows: int = field(default=64, metadata={"help": "Most continuation rows per forward pass."})
    steps: int = field(
        default=0,
        metadata={"help": "Evaluate every N steps (0 = at every checkpoint save, training.save_steps); "
                          "always at the last step."},
    )
    metric: str = field(
        default="icl_mean_acc",
        metadata={"help": "Dev metric that names the best checkpoint: icl_mean_acc, icl_mean_acc_norm, "
                          "icl_mean_acc_seq, or one run's, e.g. icl_xcopa_en-zh_0shot_seed0_acc."},
    )
    greater_is_better: bool = field(default=True, metadata={"help": "Higher values of eval.metric are better."})
    select_best: bool = field(
        default=False,
        metadata={"help": "Save as model/ the checkpoint with the best eval.metric (like the Trainer's "
                          "load_best_model_at_end) instead of the last step; the choice is recorded."},
    )


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=_model_default)
    lora: LoraConfig = field(default_factory=LoraConfig)
    data: DataConfig = field(default_factory=DataConfig)
    contrastive: ContrastiveConfig = field(default_factory=ContrastiveConfig)
    clm: ClmConfig = field(default_factory=ClmConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    eval: DevEvalConfig = field(default_factory=DevEvalConfig)

    def loss_weights(self) -> dict[str, float]:
        """The weight of each term of the objective (``train/objective.py`` TERMS), by name."""
        return {"cl": self.contrastive.weight, "clm": self.clm.weight}

    def validate(self) -> None:
        if self.contrastive.weight < 0 or self.clm.weight < 0:
            raise ConfigError("contrastive.weight and clm.weight must be >= 0")
        if self.contrastive.weight == 0 and self.clm.weight == 0:
            raise ConfigError("contrastive.weight and clm.weight are both 0: there is nothing to train")
        if self.contrastive.temperature <= 0:
            raise ConfigError(f"contrastive.temperature must be > 0, got {self.contrastive.temperature}")
        if self.contrastive.layer == "auto" and self.monitor.heldout <= 0:
            raise ConfigError("contrastive.layer: auto needs held-out pairs: set monitor.heldout (e.g. 500)")
        if self.clm.max_length < 2 or self.contrastive.max_length < 1:
            raise ConfigError("clm.max_length must be >= 2 and contrastive.max_length >= 1")
        if not 0 <= self.training.warmup_ratio < 1:
            raise ConfigError(f"training.warmup_ratio must be in [0, 1), got {self.training.warmup_ratio}")
        t, lo, m = self.training, self.lora, self.monitor
        at_least = {
            "training.per_device_train_batch_size": (t.per_device_train_batch_size, 1),
            "training.gradient_accumulation_steps": (t.gradient_accumulation_steps, 1),
            "training.max_steps": (t.max_steps, 1),
            "training.logging_steps": (t.logging_steps, 1),
            "training.save_steps": (t.save_steps, 1),
            "training.save_total_limit": (t.save_total_limit, 1),
            "training.dataloader_num_workers": (t.dataloader_num_workers, 0),
            "training.weight_decay": (t.weight_decay, 0),
            "training.max_grad_norm": (t.max_grad_norm, 0),
            "data.max_samples": (self.data.max_samples, 1),
            "lora.r": (lo.r, 1),
            "lora.alpha": (lo.alpha, 1),
            "clm.chunk_size": (self.clm.chunk_size, 1),
            "monitor.heldout": (m.heldout, 0),
            "monitor.every": (m.every, 0),
            "monitor.batch_size": (m.batch_size, 1),
        }
        for name, (value, low) in at_least.items():
            if value is not None and value < low:
                raise ConfigError(f"{name} must be at least {low}, got {value}")
        if not t.learning_rate > 0:
            raise ConfigError(f"training.learning_rate must be > 0, got {t.learning_rate}")
        if not 0 <= lo.dropout < 1:
            raise ConfigError(f"lora.dropout must be in [0, 1), got {lo.dropout}")
        if not self.lora.target_modules:
            raise ConfigError("lora.target_modules is empty: give module names or all-linear")
        self._validate_eval()

    def _validate_eval(self) -> None:
        """What the eval section can be refused for without reading tasks (train/evaluation.py checks those)."""
        e = self.eval
        for name, value, low in (("eval.steps", e.steps, 0), ("eval.limit", e.limit, 1),
                                 ("eval.batch_size", e.batch_size, 1), ("eval.max_rows", e.max_rows, 1)):
            if value is not None and value < low:
                raise ConfigError(f"{name} must be at least {low}, got {value}")
        if not e.tasks:
            if e.select_best:
                raise ConfigError("eval.select_best needs eval.tasks: the best checkpoint is chosen on them")
            return
        if e.select_best and e.steps and self.training.save_steps % e.steps:
            raise ConfigError(
                f"eval.select_best: training.save_steps ({self.training.save_steps}) must be a multiple of "
                f"eval.steps ({e.steps}) so that every checkpoint is evaluated; or leave eval.steps 0 "
                "(evaluate at every save)")

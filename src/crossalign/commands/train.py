"""crossalign train: align a causal LM with translation pairs (AFP): contrastive loss on a
pooled internal layer + response-only LM loss on cross-lingual instructions.

    crossalign train --config configs/train/gemma3_270m_ddtp.yaml
    crossalign train --model.name_or_path facebook/xglm-564M --data.train_file samples.jsonl \\
        --contrastive.layer auto --monitor.heldout 500 --training.max_steps 5000
    torchrun --nproc_per_node 2 -m crossalign.cli train --config ...      # data parallel (CPU or GPU)
    crossalign train --config ... --training.args eval_strategy=no adam_beta2=0.95   # any TrainingArguments
    accelerate launch --config_file configs/accelerate/ddp.yaml -m crossalign.cli train --config ...

Input: JSON lines from ``crossalign generate``. Output (``training.output_dir``):
``config.yaml`` (resolved configuration), ``checkpoint-N/`` (resumable; ``--training.
resume_from_checkpoint latest``), ``runs/`` (TensorBoard), and ``model/``: a standard
Hugging Face checkpoint (LoRA merged unless ``lora.merge false``) with its tokenizer.

One folder holds one run. Every checkpoint keeps its run's settings (``config.yaml``): resuming
one written with other settings (outside logging and saving) is refused with the differences;
``latest`` skips an incomplete newest checkpoint (a save cut short) and says so; a fresh run into a
folder that holds checkpoints is refused unless ``--training.overwrite_output_dir``. All of this,
and the output folder itself, is checked before the model loads.
"""

from __future__ import annotations

import os

from crossalign.train.config import TrainConfig

Config = TrainConfig


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _say(msg: str) -> None:
    if _is_main():
        print(f"crossalign train: {msg}", flush=True)


def main(cfg: Config) -> int:
    # Here, not at the top: `crossalign train --help` imports this module for its Config only;
    # the training stack (accelerate, peft, datasets) costs ~7 s more (9.3 s vs 2.3 s, `python -c "import ..."`).
    from crossalign.train.wiring import run_training

    out = run_training(cfg, say=_say)
    if out is not None:
        _say(f"model saved to {out}")
    return 0

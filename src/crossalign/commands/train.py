"""crossalign train: align a causal LM with translation pairs (AFP): contrastive loss on a
pooled internal layer + response-only LM loss on cross-lingual instructions.

    crossalign train --config configs/train/gemma3_270m_ddtp.yaml
    crossalign train --model.name_or_path facebook/xglm-564M --data.train_file samples.jsonl \\
        --contrastive.layer auto --monitor.heldout 500 --training.max_steps 5000
    torchrun --nproc_per_node 2 -m crossalign.cli train --config ...      # data parallel (CPU or GPU)
    crossalign train --config ... --training.args eval_strategy=no adam_beta2=0.95   # any TrainingArguments
    crossalign train --config ... --eval.tasks xcopa --eval.languages zh sw --eval.limit 50 \
        --eval.data_dir ../shared/data --eval.select_best        # dev ICL at every save, best checkpoint kept
    crossalign train --config ... --training.push_to_hub --training.hub_model_id me/aligned  # model/ to the hub
    accelerate launch --config_file configs/accelerate/ddp.yaml -m crossalign.cli train --config ...

Input: JSON lines from ``crossalign generate``. Output (``training.output_dir``):
``config.yaml`` (resolved configuration), ``checkpoint-N/`` (resumable; ``--training.
resume_from_checkpoint latest``), ``runs/`` (TensorBoard), with an ``eval`` section
``icl_eval.jsonl`` and ``best_checkpoint.json`` (dev ICL on validation splits), and ``model/``:
a standard Hugging Face checkpoint (LoRA merged unless ``lora.merge false``) with its
tokenizer and a model card (``README.md``: base model, data, languages, layer, objectives,
steps, tokens, held-out retrieval and dev scores, the command line).

One folder holds one run. Every checkpoint keeps its run's settings (``config.yaml``): resuming
one written with other settings (outside logging and saving) is refused with the differences;
``latest`` skips an incomplete newest checkpoint (a save cut short) and says so; a fresh run into a
folder that holds checkpoints is refused unless ``--training.overwrite_output_dir``. All of this,
and the output folder itself, is checked before the model loads.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from crossalign.train.config import TrainConfig

Config = TrainConfig


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _say(msg: str) -> None:
    if _is_main():
        print(f"crossalign train: {msg}", flush=True)


def command_line(argv: list[str] | None = None) -> str | None:
    """The ``crossalign train ...`` command that started this process (under torchrun with its process
    count), or None when the process was not started as that command (e.g. ``cli.main([...])`` in a test)."""
    argv = sys.argv if argv is None else argv
    started_as = Path(argv[0]).name if argv else ""
    if started_as not in ("crossalign", "cli.py", "__main__.py") or argv[1:2] != ["train"]:
        return None
    line = shlex.join(["crossalign", *argv[1:]])
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return f"torchrun --nproc_per_node {world} -m crossalign.cli {line.removeprefix('crossalign ')}" if world > 1 \
        else line


def main(cfg: Config) -> int:
    # Here, not at the top: `crossalign train --help` imports this module for its Config only;
    # the training stack (accelerate, peft, datasets) costs ~7 s more (9.3 s vs 2.3 s, `python -c "import ..."`).
    from crossalign.train.wiring import run_training

    out = run_training(cfg, say=_say, command=command_line())
    if out is not None:
        _say(f"model saved to {out}")
    return 0

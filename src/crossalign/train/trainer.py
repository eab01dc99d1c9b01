"""``AlignmentTrainer``: the Hugging Face ``Trainer`` with the AFP loss, its logging and
checkpoints. It overrides only ``get_batch_samples`` (counting), ``compute_loss``, ``log``,
``_save`` and ``_load_from_checkpoint``; the training loop is the Trainer's own.

Loss and normalisation. For an optimizer step made of micro-batches m on ranks r::

    L = w_cl * sum_{pairs} l_i / P  +  w_clm * sum_{response tokens} -log p / N

where P and N count the pairs and response tokens of the whole step (all micro-batches,
all ranks), computed before the step by ``get_batch_samples``. Contrastive negatives are
global: every rank gathers all ranks' representations (its own rows keep their graph) and
computes the loss over *all* rows, so the sum of the ranks' gradients is the gradient of
the global loss; DDP averages gradients over ranks, which the factor ``world_size`` undoes.
The LM sum of each rank covers its own tokens, with the same factor. Micro-batches simply
add up because each is already divided by the step's totals.

Logged at every logging step: ``loss`` (the weighted sum), ``loss/cl`` (per pair),
``loss/clm`` (per response token), ``cl/accuracy`` (in-batch top-1 of the anchors), and
held-out retrieval when a :class:`~crossalign.train.monitor.RetrievalMonitor` is given.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import Trainer

from crossalign.config import save_config
from crossalign.io import write_json
from crossalign.losses.gather import all_reduce_sum
from crossalign.train.checkpoint import load_lm_weights
from crossalign.train.objective import afp_loss


class AlignmentTrainer(Trainer):
    loss_is_scaled_for_ga = True

    def __init__(
        self,
        *args,
        w_cl: float = 1.0,
        w_clm: float = 1.5,
        temperature: float = 0.05,
        symmetric: bool = False,
        center: bool = False,
        monitor=None,
        run_config=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.run_config = run_config  # saved into every checkpoint: resuming checks it (train/resume.py)
        self.w_cl, self.w_clm = float(w_cl), float(w_clm)
        self.temperature, self.symmetric, self.center = float(temperature), bool(symmetric), bool(center)
        self.monitor = monitor
        # cl_sum, pairs, correct, clm_sum (local), tokens (local), since the last log
        self._window = torch.zeros(5, dtype=torch.float64)

    # ---- counting -------------------------------------------------------------------
    def get_batch_samples(self, epoch_iterator, num_batches, device):
        batch_samples, _ = super().get_batch_samples(epoch_iterator, num_batches, device)
        counts = torch.zeros(2, dtype=torch.float64, device=device)  # pairs, response tokens
        for batch in batch_samples:
            counts[0] += float(batch["num_pairs"])
            counts[1] += float(batch["num_targets"])
        if self.accelerator.num_processes > 1:
            counts = self.accelerator.reduce(counts, reduction="sum")
        return batch_samples, counts

    # ---- loss -----------------------------------------------------------------------
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        out = model(**inputs)
        if num_items_in_batch is None:  # outside the training loop: this batch alone
            num_items_in_batch = torch.tensor([float(inputs["num_pairs"]), float(inputs["num_targets"])])
        pairs_total, tokens_total = (float(x) for x in num_items_in_batch)
        world = self.accelerator.num_processes
        loss, stats = afp_loss(
            out,
            pairs_total,
            tokens_total,
            world,
            self.w_cl,
            self.w_clm,
            self.temperature,
            self.symmetric,
            self.center,
            hidden_size=self.accelerator.unwrap_model(model).hidden_size,
            device=self.args.device,
        )
        # The contrastive figures are global (the same on every rank): count them once.
        self._window += torch.tensor(
            [
                stats["cl_sum"] / world,
                stats["pairs"] / world,
                stats["correct"] / world,
                stats["clm_sum"],
                stats["tokens"],
            ],
            dtype=torch.float64,
        )
        return (loss, out) if return_outputs else loss

    # ---- logging --------------------------------------------------------------------
    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # a training logging step: every rank gets here
            window = all_reduce_sum(self._window.to(self.args.device)).cpu().clone()
            self._window.zero_()
            cl_sum, pairs, correct, clm_sum, tokens = window.tolist()
            total = 0.0
            if self.w_cl > 0 and pairs > 0:
                logs["loss/cl"] = cl_sum / pairs
                logs["cl/accuracy"] = correct / pairs
                total += self.w_cl * logs["loss/cl"]
            if self.w_clm > 0 and tokens > 0:
                logs["loss/clm"] = clm_sum / tokens
                total += self.w_clm * logs["loss/clm"]
            logs["loss"] = total  # the Trainer's value carries the world-size factor of the backward
            if self.monitor is not None and self.monitor.due(self.state.global_step):
                logs.update(
                    self.monitor.measure(self.accelerator.unwrap_model(self.model).lm, self.state.global_step)
                )
        super().log(logs, start_time)

    # ---- checkpoints ----------------------------------------------------------------
    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        """A resumable checkpoint in Hugging Face layout: the full model (plain
        ``from_pretrained`` loads it) or, with LoRA, the adapter; plus the tokenizer."""
        output_dir = output_dir or self.args.output_dir
        if not self.args.should_save:
            return
        os.makedirs(output_dir, exist_ok=True)
        lm = self.accelerator.unwrap_model(self.model).lm
        if state_dict is not None:  # gathered by the Trainer under FSDP / DeepSpeed: keys of the wrapper
            state_dict = {k.removeprefix("lm."): v for k, v in state_dict.items()}
        lm.save_pretrained(output_dir, state_dict=state_dict)
        if self.processing_class is not None:
            self.processing_class.save_pretrained(output_dir)
        layer = self.accelerator.unwrap_model(self.model).layer
        write_json(Path(output_dir, "crossalign_train.json"), {"layer": layer})
        if self.run_config is not None:
            save_config(self.run_config, output_dir)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        lm = self.accelerator.unwrap_model(model or self.model).lm
        load_lm_weights(lm, resume_from_checkpoint)

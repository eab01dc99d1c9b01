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

The loss parts travel by name (:data:`~crossalign.train.objective.TERMS`): the step's totals
are a dict ``{term: items}`` and the figures logged since the last log a dict
``{"<term>.sum" | "<term>.count" | "<term>.<metric>": value}``, summed over ranks in one
all-reduce. Logged at every logging step: ``loss`` (the weighted sum), ``loss/cl`` (per pair),
``loss/clm`` (per response token), ``cl/accuracy`` (in-batch top-1 of the anchors), and
held-out retrieval when a :class:`~crossalign.train.monitor.RetrievalMonitor` is given.
The tokens fed forward (:func:`batch_tokens`, all ranks) add up in ``state.num_input_tokens_seen``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import Trainer

from crossalign.io import write_json
from crossalign.losses.gather import all_reduce_sum
from crossalign.options import save_config
from crossalign.train.checkpoint import load_lm_weights
from crossalign.train.objective import TERMS, afp_loss, step_totals


def batch_tokens(batch: dict) -> int:
    """Real tokens a batch feeds forward: contrastive sentences plus LM sequences, padding excluded."""
    n = 0
    if "cl_attention_mask" in batch:
        n += int(batch["cl_attention_mask"].sum())
    if "clm_attention_mask" in batch:
        n += int(batch["clm_attention_mask"].sum())
    elif "clm_input_ids" in batch:  # packed: one row of real tokens
        n += batch["clm_input_ids"].numel()
    return n


class AlignmentTrainer(Trainer):
    loss_is_scaled_for_ga = True

    def __init__(
        self,
        *args,
        weights: dict[str, float] | None = None,
        temperature: float = 0.05,
        symmetric: bool = False,
        center: bool = False,
        monitor=None,
        run_config=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.run_config = run_config  # saved into every checkpoint: resuming checks it (train/resume.py)
        # by term of objective.TERMS (default: each term's default weight); a weight of 0 turns a term off
        unknown = set(weights or {}) - set(TERMS)
        if unknown:
            raise ValueError(f"unknown loss terms {sorted(unknown)}; valid terms: {', '.join(TERMS)}")
        self.weights = {name: float((weights or {}).get(name, term.weight)) for name, term in TERMS.items()}
        self.temperature, self.symmetric, self.center = float(temperature), bool(symmetric), bool(center)
        self.monitor = monitor
        # per term: sum, count and metrics since the last log (global terms counted once, local ones
        # per rank); the same keys in the same order on every rank, for the all-reduce
        self._window = dict.fromkeys(
            (f"{name}.{key}" for name, term in TERMS.items() for key in ("sum", "count", *term.metrics)), 0.0
        )

    # ---- counting -------------------------------------------------------------------
    def get_batch_samples(self, epoch_iterator, num_batches, device):
        batch_samples, _ = super().get_batch_samples(epoch_iterator, num_batches, device)
        totals = step_totals(batch_samples)  # {term: items} of this rank's micro-batches
        tokens = float(sum(batch_tokens(b) for b in batch_samples))
        if self.accelerator.num_processes > 1:  # one all-reduce for the totals and the token count
            counts = torch.tensor([*totals.values(), tokens], dtype=torch.float64, device=device)
            counts = self.accelerator.reduce(counts, reduction="sum").tolist()
            totals, tokens = dict(zip(totals, counts[:-1], strict=True)), counts[-1]
        # The Trainer's own count reads an input_ids field that these batches do not have; the state
        # field is saved in every checkpoint, so the count survives a resumption.
        self.state.num_input_tokens_seen += int(tokens)
        return batch_samples, totals

    # ---- loss -----------------------------------------------------------------------
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        out = model(**inputs)
        if num_items_in_batch is None:  # outside the training loop: this batch alone
            num_items_in_batch = step_totals([inputs])
        world = self.accelerator.num_processes
        loss, parts = afp_loss(
            out,
            totals=num_items_in_batch,
            world_size=world,
            weights=self.weights,
            temperature=self.temperature,
            symmetric=self.symmetric,
            center=self.center,
            hidden_size=self.accelerator.unwrap_model(model).hidden_size,
            device=self.args.device,
        )
        for name, part in parts.items():
            share = world if part.shared else 1  # global figures (the same on every rank): count them once
            figures = {"sum": float(part.loss_sum.detach()), "count": part.count, **part.metrics}
            for key, value in figures.items():
                self._window[f"{name}.{key}"] += value / share
        return (loss, out) if return_outputs else loss

    # ---- logging --------------------------------------------------------------------
    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # a training logging step: every rank gets here
            local = torch.tensor(list(self._window.values()), dtype=torch.float64, device=self.args.device)
            window = dict(zip(self._window, all_reduce_sum(local).cpu().tolist(), strict=True))
            self._window = dict.fromkeys(self._window, 0.0)
            total = 0.0
            for name, term in TERMS.items():
                count = window[f"{name}.count"]
                if self.weights[name] > 0 and count > 0:
                    logs[f"loss/{name}"] = window[f"{name}.sum"] / count
                    for metric in term.metrics:
                        logs[f"{name}/{metric}"] = window[f"{name}.{metric}"] / count
                    total += self.weights[name] * logs[f"loss/{name}"]
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

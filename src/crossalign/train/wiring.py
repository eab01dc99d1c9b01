"""Wiring of a training run: model, data, layer choice, Trainer, final save.

    from crossalign.train.wiring import run_training
    run_training(TrainConfig(...))

Used by ``crossalign train`` (:mod:`crossalign.commands.train`); every piece it wires is a
library function that can be used on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
from transformers import set_seed

from crossalign import __version__
from crossalign.data.collate import AlignmentCollator
from crossalign.data.samples import read_samples
from crossalign.errors import ConfigError, InputError
from crossalign.io import check_output_dir
from crossalign.model.adapt import add_lora, enable_gradient_checkpointing, freeze_embeddings, trainable_parameters
from crossalign.model.alignment import AlignmentModel
from crossalign.model.layers import num_layers, resolve_layer
from crossalign.model.lm_head import check_output_head
from crossalign.model.load import check_model_source, load_model, load_tokenizer
from crossalign.model.packing import packing_mode
from crossalign.options import save_config
from crossalign.train.arguments import training_arguments
from crossalign.train.card import card_facts, render_card
from crossalign.train.checkpoint import save_final_model
from crossalign.train.config import TrainConfig
from crossalign.train.dataset import check_chat_template, tokenize_samples
from crossalign.train.evaluation import check_eval, dev_callback, dev_eval_record, select_best
from crossalign.train.hub import prepare_push, push_model
from crossalign.train.inputs import check_lengths, heldout_split, trainable_model_config
from crossalign.train.monitor import MonitorCallback, RetrievalMonitor, choose_layer
from crossalign.train.resume import clear_checkpoints, plan_start
from crossalign.train.trainer import AlignmentTrainer


@dataclass
class TrainingRun:
    """Everything a run is made of, built by :func:`build_run`; :func:`finish_run` trains and saves."""

    cfg: TrainConfig
    trainer: object
    lm: object
    tokenizer: object
    layer: int
    lm_batching: str
    counts: dict
    layer_scores: dict | None = None
    monitor: object = None
    say: Callable[[str], None] = print
    start: Path | None = None  # the checkpoint resumed (None: a fresh run), from plan_start
    heldout_before: float | None = None  # held-out retrieval at the pooled layer before / after training
    heldout_after: float | None = None
    dev_eval: object = None  # the ICLEvalCallback of the eval section (None without one)
    hub_repo: str | None = None  # the repository training.push_to_hub uploads model/ to
    command: str | None = None  # the command line, for the model card
    best: dict | None = None  # the checkpoint eval.select_best put into model/


def run_training(cfg: TrainConfig, say: Callable[[str], None] = print, command: str | None = None) -> Path | None:
    """Train as configured and save the final model; returns its folder (None on non-main ranks).
    ``command``: the command line that started the run, written into the model card."""
    run = build_run(cfg, say)
    run.command = command
    return finish_run(run)


def build_run(cfg: TrainConfig, say: Callable[[str], None] = print) -> TrainingRun:


    t = cfg.training
    if not cfg.data.train_file:
        raise ConfigError("data.train_file is empty: give the JSON lines written by `crossalign generate`")
    # Everything that can be refused is refused before the model loads and before anything is written.
    check_output_dir(t.output_dir, "training.output_dir")
    args = training_arguments(cfg)  # refuses bad training.args (and sets up the processes) before the model loads
    start = plan_start(cfg, say)
    check_eval(cfg)  # unknown tasks or languages, test splits, missing files, a metric no run gives
    check_model_source(cfg.model)
    hub_repo = prepare_push(cfg, args)  # token and repository, on the main process
    set_seed(t.seed)
    samples = read_samples(cfg.data.train_file, cfg.data.max_samples)
    samples, held_src, held_tgt = heldout_split(samples, cfg.monitor.heldout)

    model_cfg = trainable_model_config(cfg.model)
    tokenizer = load_tokenizer(model_cfg)
    # a missing chat template, or conversations without data.chat_template: refused before the model loads
    check_chat_template(tokenizer, samples if cfg.clm.weight > 0 else [], cfg.data.chat_template)
    lm = load_model(model_cfg, device=torch.device("cpu"))  # the Trainer places it on its device
    check_lengths(cfg, lm)
    check_output_head(lm, torch.tensor([tokenizer("Hello world, this is a check.")["input_ids"]]))

    n = num_layers(lm)
    layer_scores = None
    if cfg.contrastive.layer == "auto":
        layer, layer_scores = choose_layer(
            lm,
            tokenizer,
            held_src,
            held_tgt,
            cfg.contrastive.pooling,
            cfg.contrastive.include_special,
            cfg.monitor.batch_size,
        )
        shown = {k: round(v, 3) for k, v in layer_scores.items()}
        say(f"layer auto: held-out retrieval by layer {shown}; pooling layer {layer}")
    else:
        try:
            layer = resolve_layer(cfg.contrastive.layer, n)
        except ValueError as exc:
            raise ConfigError(f"contrastive.layer: {exc}") from None

    mode = "padding"
    # Packed rows need a model that keeps packed samples apart: verified once, used by the LM
    # batches (clm.batching packing) and by the contrastive pass (real tokens only).
    verified = packing_mode(lm) if cfg.contrastive.weight > 0 or cfg.clm.batching == "packing" else "padding"
    if cfg.clm.batching == "packing" and cfg.clm.weight > 0:
        mode = verified
        if mode == "padding":
            say(
                f"{type(lm).__name__} cannot keep packed samples apart (its attention reads neither restarted"
                " position ids nor a 4D mask); batching LM samples by padding instead"
            )
    if cfg.lora.enabled:
        lm = add_lora(lm, cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout, cfg.lora.target_modules)
    if t.freeze_embeddings:
        freeze_embeddings(lm)
    if t.gradient_checkpointing:
        enable_gradient_checkpointing(lm)
    trainable, total = trainable_parameters(lm)
    say(f"{trainable:,} of {total:,} parameters trainable; pooled layer {layer} of {n}; LM batching {mode}")

    data, counts = tokenize_samples(
        tokenizer,
        samples,
        cfg.clm.max_length,
        cfg.clm.truncation,
        cfg.clm.add_eos,
        cfg.contrastive.max_length,
        use_pairs=cfg.contrastive.weight > 0,
        use_clm=cfg.clm.weight > 0,
        chat_template=cfg.data.chat_template,
        hard_negatives=cfg.contrastive.hard_negatives,
    )
    if cfg.contrastive.hard_negatives and not counts["hard_negatives"]:
        raise InputError("contrastive.hard_negatives is on but no sample has pair.hard_negative",
                         cfg.data.train_file)
    say("data: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if len(data) == 0:
        raise InputError(
            "no sample is left to train on after tokenisation (see the counts above)", cfg.data.train_file
        )

    module = AlignmentModel(
        lm,
        layer,
        cfg.contrastive.pooling,
        verified if verified != "padding" else "position_ids",
        cfg.clm.chunk_size,
        cfg.clm.head_impl,
        pack_pairs=verified != "padding",
    )
    # Right padding whatever the tokenizer's side: pooling reads only the mask, and models with
    # absolute position embeddings (GPT-2, XGLM) would see shifted positions under left padding.
    collator = AlignmentCollator(
        tokenizer.pad_token_id,
        "right",
        "packing" if mode != "padding" else "padding",
        cfg.contrastive.include_special,
    )
    monitor = None
    if held_src:
        monitor = RetrievalMonitor(
            tokenizer,
            held_src,
            held_tgt,
            layer,
            cfg.contrastive.pooling,
            cfg.contrastive.include_special,
            cfg.monitor.every,
            cfg.monitor.batch_size,
        )
    dev = dev_callback(cfg, tokenizer, lm, say)
    if args.should_save:
        save_config(cfg, t.output_dir)
    callbacks = ([MonitorCallback(monitor)] if monitor else []) + ([dev] if dev else [])
    trainer = AlignmentTrainer(
        model=module,
        args=args,
        train_dataset=data,
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=callbacks or None,
        weights=cfg.loss_weights(),
        temperature=cfg.contrastive.temperature,
        symmetric=cfg.contrastive.symmetric,
        center=cfg.contrastive.center,
        monitor=monitor,
        run_config=cfg,
    )
    sharded = trainer.is_fsdp_enabled or (
        trainer.is_deepspeed_enabled and trainer.accelerator.state.deepspeed_plugin.zero_stage == 3
    )
    if sharded and monitor is not None:
        raise ConfigError(
            "monitor.heldout: held-out retrieval during training is not supported with FSDP or "
            "ZeRO-3 (sharded weights); set monitor.every 0 and score checkpoints afterwards"
        )
    if sharded and dev is not None:
        raise ConfigError("eval.tasks: ICL evaluation during training is not supported with FSDP or ZeRO-3 "
                          "(sharded weights); evaluate the checkpoints with `crossalign evaluate` afterwards")
    if dev is not None:
        dev.report = trainer.log  # dev metrics reach TensorBoard (eval/icl_*) and the log history as logs
    return TrainingRun(cfg, trainer, lm, tokenizer, layer, mode, dict(counts), layer_scores, monitor, say, start,
                       dev_eval=dev, hub_repo=hub_repo)


def finish_run(run: TrainingRun) -> Path | None:

    cfg, t, say, monitor, lm = run.cfg, run.cfg.training, run.say, run.monitor, run.lm
    if monitor is not None:
        before = monitor.measure(lm)
        run.heldout_before = before["heldout/retrieval"]
        say(f"held-out retrieval at layer {run.layer} before training: {before['heldout/retrieval']:.3f}")
    if run.start is None and t.overwrite_output_dir and run.trainer.args.should_save:
        for folder in clear_checkpoints(t.output_dir):
            say(f"overwrite_output_dir: removed {folder}")
    run.trainer.accelerator.wait_for_everyone()
    if run.start is not None:
        say(f"resuming from {run.start}")
    run.trainer.train(resume_from_checkpoint=str(run.start) if run.start is not None else None)
    if run.dev_eval is not None and cfg.eval.select_best:
        run.best = select_best(run.dev_eval, lm, say)  # before the after-measure: it scores the saved model
    extra = {
        "layer": run.layer,
        "layer_scores": run.layer_scores,
        "data_counts": run.counts,
        "lm_batching": run.lm_batching,
        "steps": run.trainer.state.global_step,
        "tokens": run.trainer.state.num_input_tokens_seen,
    }
    if monitor is not None:
        extra["heldout_retrieval_after"] = run.heldout_after = monitor.measure(lm)["heldout/retrieval"]
        extra["heldout_retrieval_before"] = run.heldout_before
        say(f"held-out retrieval at layer {run.layer} after training: {extra['heldout_retrieval_after']:.3f}")
    trainer, state_dict = run.trainer, None
    if trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled:
        # Sharded weights: gather a full state dict (a collective: every rank takes part).
        wrapped = trainer.model_wrapped if trainer.is_deepspeed_enabled else trainer.model
        full = trainer.accelerator.get_state_dict(wrapped)
        state_dict = {k.removeprefix("lm."): v for k, v in full.items()}
    if run.dev_eval is not None:
        extra["dev_eval"] = dev_eval_record(cfg, run.dev_eval, selected=run.best is not None)
    out = None
    if trainer.args.should_save:
        card = render_card(card_facts(
            cfg, layer=run.layer, num_layers=num_layers(lm), layer_scores=run.layer_scores, steps=extra["steps"],
            tokens=extra["tokens"], counts=run.counts, world_size=trainer.args.world_size,
            heldout={"pairs": len(monitor.src), "before": run.heldout_before, "after": run.heldout_after}
            if monitor is not None else None,
            dev_eval=extra.get("dev_eval"), command=run.command,
            versions={"crossalign": __version__, "transformers": transformers.__version__,
                      "torch": torch.__version__}))
        out = save_final_model(
            lm, run.tokenizer, Path(t.output_dir) / "model", cfg.lora.merge, cfg, extra, state_dict=state_dict,
            card=card,
        )
        if run.hub_repo is not None:
            url = push_model(run.hub_repo, out, trainer.args, step=extra["steps"])
            say(f"pushed {out} to https://huggingface.co/{run.hub_repo} ({url})")
    run.trainer.accelerator.wait_for_everyone()
    return out


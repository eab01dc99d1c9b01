"""ICL evaluation during training, on validation splits only, with best-checkpoint selection.

    from crossalign.eval.callback import ICLEvalCallback
    cb = ICLEvalCallback(tokenizer, EvalConfig(tasks=["xcopa"], languages=["zh"], prompt_language="en",
                                               shots=[5], limit=100), metric="icl_mean_acc")
    Trainer(..., callbacks=[cb])

At every step where the trainer evaluates or saves, the callback runs the evaluator on each
task's validation split (a split listed in the task's ``test_splits`` is refused when the
callback is built, for evaluation and demonstrations alike: model selection on test data
is what the reference code did wrong). Metrics are named
``icl_{task}_{prompt}-{sample}_{k}shot_{metric}`` plus ``icl_mean_{metric}`` over all runs.
They are

* appended to ``state.log_history`` and to ``{output_dir}/icl_eval.jsonl``;
* added to the trainer's evaluation metrics (``on_evaluate``), so
  ``metric_for_best_model="icl_mean_acc"`` works with ``load_best_model_at_end``;
* tracked by the callback itself: when the checkpoint saved at a step holds the best value
  of ``metric`` so far (strictly better; the earliest wins ties, as in the Trainer), it
  is written to ``{output_dir}/best_checkpoint.json`` and, unless the trainer tracks its own
  ``metric_for_best_model``, set as ``state.best_model_checkpoint`` (which also keeps it from
  being deleted by ``save_total_limit``).

Options for a trainer whose model wraps the LM (``crossalign train``): ``model=`` the module
to evaluate; ``every=N`` evaluates every N steps (and at the last) instead of at saves;
``report=trainer.log`` logs the metrics through the trainer (``eval_``-prefixed, so
TensorBoard shows ``eval/icl_mean_acc``) instead of appending them to the log history
directly. A resumed run rebuilds the history and the best checkpoint from the resumed
state's log history (``on_train_begin``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics

from transformers import TrainerCallback

from crossalign.errors import ConfigError
from crossalign.eval.runner import EvalConfig, evaluate, language_pairs, named_split
from crossalign.eval.tasks import load_task
from crossalign.io import atomic_write, write_json


def validation_config(cfg: EvalConfig) -> None:
    """Raise unless every task of ``cfg`` is evaluated, and gets demonstrations, off its test splits."""
    for name in cfg.tasks:
        spec = load_task(name)
        dev = spec.dev_splits()
        if not dev:
            raise ConfigError(f"task {spec.name} has only test splits ({', '.join(spec.test_splits)}); "
                              "it cannot be used to select checkpoints")
        for what, split in (("split", named_split(cfg, spec)), ("demo_split", cfg.demo_split)):
            if split is not None and split in spec.test_splits:
                raise ConfigError(f"task {spec.name}: {what} {split!r} is a test split; during training "
                                  f"use a validation split ({', '.join(dev)})")
        if cfg.demo_split is None and spec.demo_split in spec.test_splits:
            raise ConfigError(f"task {spec.name}: its demonstrations come from a test split; set demo_split")


def metric_names(cfg: EvalConfig) -> list[str]:
    """Every metric name :func:`flatten` gives for the runs ``cfg`` configures (known before any run)."""
    names = ["acc", "acc_norm", *(["acc_seq"] if cfg.seq else [])]
    out = [f"icl_mean_{m}" for m in names]
    for task in cfg.tasks:
        spec, pairs = language_pairs(task, cfg)  # "xcopa_zh" names one language, "xcopa" every one
        for p_lang, s_lang in pairs:
            for k in cfg.shots:
                for seed in cfg.seeds if k > 0 else cfg.seeds[:1]:
                    out += [f"icl_{spec.name}_{p_lang}-{s_lang}_{k}shot_seed{seed}_{m}" for m in names]
    return out


def check_metric(cfg: EvalConfig, metric: str) -> str:
    """``metric`` without an ``eval_`` prefix, or a ConfigError listing the valid names."""
    name = metric[len("eval_"):] if metric.startswith("eval_") else metric
    valid = metric_names(cfg)
    if name not in valid:
        shown = ", ".join(valid[:12]) + (f" and {len(valid) - 12} more" if len(valid) > 12 else "")
        raise ConfigError(f"metric {metric!r} is not among the ICL metrics of this evaluation: {shown}")
    return name


def dev_split(cfg: EvalConfig, task: str) -> str:
    spec = load_task(task)
    default = "validation" if "validation" in spec.dev_splits() else spec.dev_splits()[-1]
    return named_split(cfg, spec) or default


def flatten(results: dict, prefix: str = "icl") -> dict[str, float]:
    out: dict[str, float] = {}
    per_metric: dict[str, list[float]] = {}
    for run in results["runs"]:
        base = f"{prefix}_{run['task']}_{run['prompt_language']}-{run['sample_language']}_{run['shots']}shot"
        for m, v in run["metrics"].items():
            out[f"{base}_seed{run['seed']}_{m}"] = v
            per_metric.setdefault(m, []).append(v)
    for m, vals in per_metric.items():
        out[f"{prefix}_mean_{m}"] = statistics.fmean(vals)
    return out


class ICLEvalCallback(TrainerCallback):
    def __init__(self, tokenizer, config: EvalConfig, *, metric: str = "icl_mean_acc",
                 greater_is_better: bool = True, log=print, model=None, every: int = 0, report=None):
        validation_config(config)
        self.tokenizer = tokenizer
        self.config = dataclasses.replace(config, progress=False)
        self.metric = check_metric(self.config, metric)
        self.greater_is_better = greater_is_better
        self.log = log
        self.model = model  # evaluated instead of the trainer's model (a wrapper around this LM)
        self.every = every
        self.report = report  # e.g. trainer.log: metrics go to TensorBoard and the log history through it
        self.latest: dict[str, float] = {}
        self.history: list[dict] = []
        self.best: dict | None = None

    def run(self, model) -> dict[str, float]:
        runs = []
        for task in self.config.tasks:  # each task on its own validation split
            cfg = dataclasses.replace(self.config, tasks=[task], split=dev_split(self.config, task))
            res = evaluate(model, self.tokenizer, cfg, log=self.log)
            runs += res["runs"]
        merged = flatten({"runs": runs})
        if self.metric not in merged:
            raise ConfigError(
                f"metric {self.metric!r} is not among the ICL metrics: {', '.join(sorted(merged))}")
        return merged

    def _due(self, state, control) -> bool:
        if self.every > 0:
            return state.global_step % self.every == 0 or state.global_step >= state.max_steps
        return control.should_evaluate or control.should_save

    def on_step_end(self, args, state, control, model=None, **kwargs):
        model = self.model if self.model is not None else model
        if not self._due(state, control) or model is None:
            return control
        if self.history and self.history[-1]["step"] == state.global_step:
            return control  # already evaluated at this step (step end and epoch end coincide)
        self.latest = self.run(model)
        entry = {"step": state.global_step, **self.latest}
        self.history.append(entry)
        if self.report is not None:
            # Logging resets control.should_log (CallbackHandler.on_log): keep this step's own log due
            due = control.should_log
            self.report({f"eval_{k}": v for k, v in self.latest.items()})
            control.should_log = due
        else:
            state.log_history.append(entry)
        if state.is_world_process_zero:
            self._write_history(args)
        self.log(f"[icl] step {state.global_step}: {self.metric} = {self.latest[self.metric]:.4f}")
        return control

    def _write_history(self, args) -> None:
        path = os.path.join(args.output_dir, "icl_eval.jsonl")
        lines = [json.dumps(e) for e in self.history]
        with atomic_write(path) as handle:
            handle.write("\n".join(lines) + "\n" if lines else "")

    def on_train_begin(self, args, state, control, **kwargs):
        """On a resumed run: the evaluations up to the resumed step, from the log history the checkpoint
        kept (written there before the checkpoint was saved), and the best checkpoint among them."""
        if self.history or state.global_step == 0:
            return control
        for logged in state.log_history:
            step = logged.get("step")
            if step is None or step > state.global_step:
                continue
            values = {k.removeprefix("eval_"): v for k, v in logged.items()
                      if k.startswith(("icl_", "eval_icl_"))}
            if self.metric in values:
                self.history.append({"step": step, **values})
        self.best = None
        for entry in self.history:
            checkpoint = os.path.join(args.output_dir, f"checkpoint-{entry['step']}")
            if os.path.isdir(checkpoint) and self._better(entry[self.metric]):
                self.best = self._best_entry(checkpoint, entry["step"], entry[self.metric])
        if self.best is not None and args.metric_for_best_model is None:
            state.best_model_checkpoint, state.best_metric = self.best["checkpoint"], self.best["value"]
        if state.is_world_process_zero:
            self._write_history(args)
            best_file = os.path.join(args.output_dir, "best_checkpoint.json")
            if self.best is not None:
                write_json(best_file, self.best)
            elif os.path.exists(best_file):
                os.remove(best_file)
        self.log(f"[icl] resumed at step {state.global_step}: {len(self.history)} earlier evaluations"
                 + (f", best {self.metric} {self.best['value']:.4f} at step {self.best['step']}" if self.best else ""))
        return control

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best["value"] if self.greater_is_better else value < self.best["value"]

    def _best_entry(self, checkpoint: str, step: int, value: float) -> dict:
        return {"checkpoint": checkpoint, "step": step, "metric": self.metric, "value": value,
                "splits": {t: dev_split(self.config, t) for t in self.config.tasks}}

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        # epoch-based strategies set should_evaluate / should_save here, not at step end
        return self.on_step_end(args, state, control, model=model, **kwargs)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if metrics is not None and self.latest:
            metrics.update({f"eval_{k}": v for k, v in self.latest.items()})
        return control

    def on_save(self, args, state, control, **kwargs):
        if not self.history or self.history[-1]["step"] != state.global_step:
            return control
        value = self.history[-1][self.metric]
        if self._better(value):
            checkpoint = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            self.best = self._best_entry(checkpoint, state.global_step, value)
            if args.metric_for_best_model is None:
                state.best_model_checkpoint = checkpoint
                state.best_metric = value
            if state.is_world_process_zero:
                write_json(os.path.join(args.output_dir, "best_checkpoint.json"), self.best)
        return control

"""ICL evaluation on validation splits during ``crossalign train`` (the ``eval`` section).

    crossalign train --config ... --eval.tasks xcopa --eval.languages zh sw --eval.shots 0 \\
        --eval.limit 50 --eval.data_dir ../shared/data --eval.select_best

:func:`check_eval` refuses a bad section before the model loads (unknown task or language, a
test split, a task with only test splits, missing local files, a metric the runs do not
produce); :func:`dev_callback` builds the :class:`~crossalign.eval.callback.ICLEvalCallback`
that evaluates the LM inside the alignment wrapper at every save (or every ``eval.steps``),
logs through the trainer (TensorBoard ``eval/icl_*``, the log history, ``icl_eval.jsonl``) and
tracks the best checkpoint (``best_checkpoint.json``); with ``eval.select_best`` the wiring
loads that checkpoint's weights before the final save (:func:`select_best`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from crossalign.errors import ConfigError
from crossalign.eval.callback import ICLEvalCallback, check_metric, dev_split, validation_config
from crossalign.eval.runner import EvalConfig, check_data
from crossalign.train.checkpoint import load_lm_weights
from crossalign.train.config import TrainConfig


def eval_config(cfg: TrainConfig) -> EvalConfig | None:
    """The evaluator's configuration of the ``eval`` section (None when it names no task)."""
    e = cfg.eval
    if not e.tasks:
        return None
    return EvalConfig(
        tasks=list(e.tasks), languages=list(e.languages), prompt_language=e.prompt_language,
        shots=list(e.shots), seeds=list(e.seeds), template=e.template, split=e.split,
        demo_split=e.demo_split, data_dir=e.data_dir, datasets=list(e.datasets), limit=e.limit,
        seq=e.seq, batch_size=e.batch_size, max_rows=e.max_rows, progress=False,
    )


def check_eval(cfg: TrainConfig) -> EvalConfig | None:
    """Every refusal the ``eval`` section can meet, with the option named; reads task files only."""
    ec = eval_config(cfg)
    if ec is None:
        return None
    try:
        ec.validate()
        validation_config(ec)
        for task in ec.tasks:  # the files of the split each task is evaluated on (its validation split)
            check_data(dataclasses.replace(ec, tasks=[task], split=dev_split(ec, task)))
        check_metric(ec, cfg.eval.metric)
    except ConfigError as exc:
        raise ConfigError(f"eval: {exc}") from None
    return ec


def dev_callback(cfg: TrainConfig, tokenizer, lm, say: Callable[[str], None]) -> ICLEvalCallback | None:
    """The callback that evaluates ``lm`` during training (``report`` is set to ``trainer.log`` once the
    trainer exists), or None without an eval section."""
    ec = check_eval(cfg)
    if ec is None:
        return None
    return ICLEvalCallback(tokenizer, ec, metric=cfg.eval.metric, greater_is_better=cfg.eval.greater_is_better,
                           log=say, model=lm, every=cfg.eval.steps)


def select_best(callback: ICLEvalCallback, lm, say: Callable[[str], None]) -> dict | None:
    """Load the best checkpoint's weights into ``lm`` (every rank); returns the choice, or None when
    no checkpoint was evaluated."""
    best = callback.best
    if best is None:
        say("eval.select_best: no evaluated checkpoint; the last step is saved")
        return None
    load_lm_weights(lm, best["checkpoint"])
    say(f"eval.select_best: model/ holds {best['checkpoint']} ({best['metric']} {best['value']:.4f})")
    return best


def dev_eval_record(cfg: TrainConfig, callback: ICLEvalCallback, selected: bool) -> dict:
    """What the eval section measured and chose, for ``crossalign_train.json`` and the model card."""
    e = cfg.eval
    described = [" ".join(e.languages) or "every language",
                 "/".join(str(k) for k in e.shots) + "-shot",
                 "in-language" if e.prompt_language == "same" else f"prompts in {e.prompt_language}"]
    if e.limit:
        described.append(f"first {e.limit} items")
    return {"metric": callback.metric, "greater_is_better": callback.greater_is_better,
            "history": callback.history, "best": callback.best, "selected": selected,
            "splits": {t: dev_split(callback.config, t) for t in callback.config.tasks},
            "description": ", ".join(described)}

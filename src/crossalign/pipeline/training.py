"""The training stage: ``crossalign train`` as a cached stage.

A finished run with the same fingerprint is reused; an interrupted one resumes from its newest
complete checkpoint written with the same settings; checkpoints of other settings (a stale run
in this stage's folder) are replaced.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from crossalign.options import save_config
from crossalign.pipeline.cache import fingerprint, is_done, mark_done
from crossalign.train.config import TrainConfig
from crossalign.train.resume import checkpoints, resumable
from crossalign.train.wiring import TrainingRun, build_run, finish_run


def training_stage(t: TrainConfig, say, describe: Callable[[TrainingRun], dict] | None = None) -> dict:
    """Train ``t`` into ``t.training.output_dir``; returns the stage's info (model folder, layer...).

    ``describe(run)`` adds entries to the stage's info after training (the run still holds its
    trainer and dataset).
    """
    folder = Path(t.training.output_dir)
    key = fingerprint(t)
    done = is_done(folder, key)
    if done:
        say(f"train: reusing {folder / 'model'} (pooled layer {done['layer']})")
        return done
    start_from = resumable(t)
    if start_from is not None:
        say(f"train: resuming from {start_from}")
        t.training = dataclasses.replace(t.training, resume_from_checkpoint=str(start_from))
    elif checkpoints(folder):  # an interrupted run with other settings: this stage's folder is ours
        say(f"train: {folder} holds checkpoints of other settings; starting afresh")
        t.training = dataclasses.replace(t.training, overwrite_output_dir=True)
    save_config(t, folder)  # `crossalign train --config <this>` repeats the stage on its own
    start = time.perf_counter()
    run = build_run(t, say=lambda m: say(f"train: {m}"))
    model_dir = finish_run(run)
    seconds = round(time.perf_counter() - start, 1)
    return mark_done(folder, key, model=str(model_dir), layer=run.layer, pooling=t.contrastive.pooling,
                     seconds=seconds, steps=run.trainer.state.global_step,
                     **(describe(run) if describe else {}))

"""The training stage: ``crossalign train`` as a cached stage.

A finished run with the same fingerprint is reused; an interrupted one resumes from its newest
complete checkpoint written with the same settings; checkpoints of other settings (a stale run
in this stage's folder) are replaced.

The stage's ``seconds`` are the wall time of every attempt of the run, not only the last: each
attempt keeps its clock in ``attempts.json`` (rewritten at every log and save), so a run killed
after step 700 and resumed from checkpoint-600 counts the steps it trained twice. An attempt's
entry is as recent as its last log, so the seconds of a killed attempt are a lower bound.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

from transformers import TrainerCallback

from crossalign.io import write_json
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
    earlier = _attempts(folder) if start_from is not None else []
    if start_from is not None:
        say(f"train: resuming from {start_from}")
        t.training = dataclasses.replace(t.training, resume_from_checkpoint=str(start_from))
    elif checkpoints(folder):  # an interrupted run with other settings: this stage's folder is ours
        say(f"train: {folder} holds checkpoints of other settings; starting afresh")
        t.training = dataclasses.replace(t.training, overwrite_output_dir=True)
    save_config(t, folder)  # `crossalign train --config <this>` repeats the stage on its own
    start = time.perf_counter()
    clock = _AttemptClock(folder, earlier, start)
    run = build_run(t, say=lambda m: say(f"train: {m}"))
    run.trainer.add_callback(clock)
    model_dir = finish_run(run)
    attempts = clock.write(run.trainer.state.global_step, finished=True)
    seconds = round(sum(a["seconds"] for a in attempts), 1)
    if len(attempts) > 1:
        each = ", ".join(f"{a['seconds']:.0f} s" for a in attempts)
        say(f"train: {seconds:.0f} s over {len(attempts)} attempts ({each})")
    return mark_done(folder, key, model=str(model_dir), layer=run.layer, pooling=t.contrastive.pooling,
                     seconds=seconds, attempts=attempts, steps=run.trainer.state.global_step,
                     **(describe(run) if describe else {}))


ATTEMPTS = "attempts.json"


def _attempts(folder: Path) -> list[dict]:
    """The earlier attempts of the run being resumed in ``folder`` (none when there is no record)."""
    path = folder / ATTEMPTS
    if not path.is_file():
        return []
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [r for r in rows if isinstance(r, dict) and isinstance(r.get("seconds"), int | float)] \
        if isinstance(rows, list) else []


class _AttemptClock(TrainerCallback):
    """Keeps this attempt's wall time (and the steps it reached) in ``attempts.json`` after the
    earlier attempts', at every log and save, so that a kill loses at most one logging interval."""

    def __init__(self, folder: Path, earlier: list[dict], start: float):
        self.folder, self.earlier, self.start, self.first_step = folder, earlier, start, 0

    def write(self, step: int, finished: bool = False) -> list[dict]:
        this = {"seconds": round(time.perf_counter() - self.start, 1), "from_step": self.first_step,
                "to_step": step, "finished": finished}
        rows = [*self.earlier, this]
        write_json(self.folder / ATTEMPTS, rows)
        return rows

    def on_train_begin(self, args, state, control, **kwargs):
        self.first_step = state.global_step  # the resumed checkpoint's step: its state is loaded by now

    def on_log(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.write(state.global_step)

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.write(state.global_step)

"""The training stage counts the wall time of every attempt of a run: a run killed after a
checkpoint and resumed reports the seconds of both attempts, not only the last one's."""

from __future__ import annotations

import json

import pytest
from transformers import TrainerCallback

import crossalign.pipeline.training as stage
from crossalign.train.config import TrainConfig


class _Killed(Exception):
    pass


class _KillAt(TrainerCallback):
    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise _Killed(f"killed at step {self.step}")


def _config(model, samples, out) -> TrainConfig:
    t = TrainConfig()
    t.model.name_or_path = str(model)
    t.data.train_file = str(samples)
    t.clm.max_length = 64
    t.monitor.heldout = 0
    t.training.output_dir = str(out)
    t.training.report_to = ["none"]
    t.training.max_steps, t.training.save_steps, t.training.logging_steps = 4, 2, 1
    t.training.per_device_train_batch_size = 4
    return t


def test_a_resumed_run_counts_the_seconds_of_every_attempt(tiny_checkpoints, samples_file, tmp_path, monkeypatch):
    out = tmp_path / "train"
    build = stage.build_run

    def killed_at_3(t, say):
        run = build(t, say)
        run.trainer.add_callback(_KillAt(3))
        return run

    monkeypatch.setattr(stage, "build_run", killed_at_3)
    with pytest.raises(_Killed):
        stage.training_stage(_config(tiny_checkpoints["llama"], samples_file, out), say=print)
    first = json.loads((out / stage.ATTEMPTS).read_text())
    assert len(first) == 1 and first[0]["from_step"] == 0 and not first[0]["finished"]
    assert first[0]["to_step"] == 2 and first[0]["seconds"] > 0  # as recent as its last log and save
    assert not (out / "done.json").exists()

    monkeypatch.setattr(stage, "build_run", build)
    said = []
    done = stage.training_stage(_config(tiny_checkpoints["llama"], samples_file, out), say=said.append)
    assert any("resuming from" in m and "checkpoint-2" in m for m in said)
    attempts = done["attempts"]
    assert [a["from_step"] for a in attempts] == [0, 2] and attempts[-1]["to_step"] == 4
    assert attempts[0] == first[0] and attempts[1]["finished"]
    assert done["seconds"] == pytest.approx(first[0]["seconds"] + attempts[1]["seconds"], abs=0.11)
    assert done["seconds"] > attempts[1]["seconds"]
    assert json.loads((out / stage.ATTEMPTS).read_text()) == attempts

    # A fresh run of other settings in the same folder does not inherit the old run's attempts.
    other = _config(tiny_checkpoints["llama"], samples_file, out)
    other.training.learning_rate = 5e-4
    (out / "done.json").unlink()
    again = stage.training_stage(other, say=print)
    assert [a["from_step"] for a in again["attempts"]] == [0]
    assert again["seconds"] == again["attempts"][0]["seconds"]

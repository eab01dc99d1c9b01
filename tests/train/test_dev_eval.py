"""The ``eval`` section of ``crossalign train``: ICL on validation splits during training, logged with
the losses, the best checkpoint chosen on a dev metric (and kept through resumption), and every bad
section refused before the model loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from crossalign.cli import main as cli_main
from crossalign.eval.callback import ICLEvalCallback
from crossalign.options import from_dict, to_dict
from crossalign.train.config import TrainConfig
from crossalign.train.wiring import build_run, finish_run

from .test_end_to_end import StopAt, make_cfg, quiet


def _eval_cfg(ckpt, samples, out, data_dir, **eval_over) -> TrainConfig:
    base = to_dict(make_cfg(ckpt, samples, out))
    base["training"].update(max_steps=6, save_steps=2, learning_rate=5e-3)
    base["eval"] = {"tasks": ["xcopa"], "languages": ["zh"], "shots": [0], "limit": 8, "data_dir": str(data_dir),
                    **eval_over}
    return from_dict(TrainConfig, base)


def test_cli_run_evaluates_at_saves_logs_with_the_losses_and_writes_the_scores(
        tiny_checkpoints, samples_file, tmp_path, shared_data):
    out = tmp_path / "run"
    argv = ["train", "--model.name_or_path", str(tiny_checkpoints["llama"]), "--data.train_file", str(samples_file),
            "--training.output_dir", str(out), "--training.report_to", "none", "--training.max_steps", "4",
            "--training.save_steps", "2", "--training.logging_steps", "1", "--training.learning_rate", "5e-3",
            "--clm.max_length", "128", "--contrastive.layer", "2", "--eval.tasks", "xcopa",
            "--eval.languages", "zh", "sw", "--eval.shots", "0", "--eval.limit", "8",
            "--eval.data_dir", str(shared_data)]
    assert cli_main(argv) == 0
    history = [json.loads(x) for x in (out / "icl_eval.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [2, 4]
    for h in history:
        assert set(h) >= {"icl_mean_acc", "icl_xcopa_zh-zh_0shot_seed0_acc", "icl_xcopa_sw-sw_0shot_seed0_acc"}
        assert h["icl_mean_acc"] == pytest.approx(
            (h["icl_xcopa_zh-zh_0shot_seed0_acc"] + h["icl_xcopa_sw-sw_0shot_seed0_acc"]) / 2)
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    logged = {e["step"]: e["eval_icl_mean_acc"] for e in state["log_history"] if "eval_icl_mean_acc" in e}
    assert logged == {h["step"]: h["icl_mean_acc"] for h in history}  # through trainer.log: TensorBoard eval/...
    losses = [e["step"] for e in state["log_history"] if "loss/cl" in e]
    assert losses == [1, 2, 3, 4]  # logging the dev scores does not swallow the step's own log
    best = json.loads((out / "best_checkpoint.json").read_text())
    assert best["splits"] == {"xcopa": "validation"} and best["metric"] == "icl_mean_acc"
    record = json.loads((out / "model" / "crossalign_train.json").read_text())["dev_eval"]
    assert record["history"] == history and record["selected"] is False
    card = (out / "model" / "README.md").read_text()
    assert "### Dev ICL (xcopa validation)" in card and "`model/` holds the last step." in card


def _scripted(monkeypatch, table: dict[int, float]) -> None:
    """The callback's evaluation returns ``table[step]``: selection and resumption tested exactly."""
    original = ICLEvalCallback.on_step_end

    def on_step_end(self, args, state, control, **kwargs):
        self._step = state.global_step
        return original(self, args, state, control, **kwargs)

    monkeypatch.setattr(ICLEvalCallback, "on_step_end", on_step_end)
    monkeypatch.setattr(ICLEvalCallback, "run",
                        lambda self, model: {"icl_mean_acc": table[self._step], "icl_mean_acc_norm": 0.0})


TABLE = {2: 0.5, 4: 0.75, 6: 0.6, 8: 0.4}


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def test_select_best_saves_the_best_checkpoint_and_keeps_it_from_rotation(
        tiny_checkpoints, samples_file, tmp_path, shared_data, monkeypatch):
    _scripted(monkeypatch, TABLE)
    out = tmp_path / "run"
    cfg = _eval_cfg(tiny_checkpoints["llama"], samples_file, out, shared_data, select_best=True)
    cfg.training.max_steps, cfg.training.save_total_limit = 8, 2
    run = build_run(cfg, say=quiet)
    model_dir = finish_run(run)
    kept = sorted(p.name for p in out.glob("checkpoint-*"))
    assert kept == ["checkpoint-4", "checkpoint-8"]  # the best outlives save_total_limit, not checkpoint-6
    assert json.loads((out / "best_checkpoint.json").read_text())["step"] == 4
    got, best, last = _weights(model_dir), _weights(out / "checkpoint-4"), _weights(out / "checkpoint-8")
    assert all(torch.equal(got[k], best[k]) for k in best)
    assert any(not torch.equal(best[k], last[k]) for k in best)  # the last step is not what was saved
    record = json.loads((model_dir / "crossalign_train.json").read_text())["dev_eval"]
    assert record["selected"] is True and record["best"]["step"] == 4
    card = (model_dir / "README.md").read_text()
    assert "| 4 (best) | 75.0 |" in card and "step 4 (`eval.select_best`)" in card


def test_greater_is_better_false_picks_the_lowest(tiny_checkpoints, samples_file, tmp_path, shared_data,
                                                  monkeypatch):
    _scripted(monkeypatch, TABLE)
    cfg = _eval_cfg(tiny_checkpoints["llama"], samples_file, tmp_path / "run", shared_data, select_best=True,
                    greater_is_better=False)
    cfg.training.max_steps = 8
    finish_run(build_run(cfg, say=quiet))
    assert json.loads((tmp_path / "run" / "best_checkpoint.json").read_text())["step"] == 8


def test_resumed_run_keeps_the_history_and_the_best_of_the_straight_run(
        tiny_checkpoints, samples_file, tmp_path, shared_data, monkeypatch):
    _scripted(monkeypatch, TABLE)

    def cfg(out, **training):
        c = _eval_cfg(tiny_checkpoints["llama"], samples_file, out, shared_data, select_best=True)
        c.training.max_steps = 8
        for k, v in training.items():
            setattr(c.training, k, v)
        return c

    straight = build_run(cfg(tmp_path / "a"), say=quiet)
    finish_run(straight)
    first = build_run(cfg(tmp_path / "b"), say=quiet)
    first.trainer.add_callback(StopAt(6))  # killed after checkpoint-6: the best (step 4) lies behind it
    first.trainer.train()
    resumed = build_run(cfg(tmp_path / "b", resume_from_checkpoint="latest"), say=quiet)
    model_dir = finish_run(resumed)
    assert resumed.dev_eval.history == straight.dev_eval.history
    assert [h["step"] for h in resumed.dev_eval.history] == [2, 4, 6, 8]
    assert resumed.dev_eval.best["step"] == straight.dev_eval.best["step"] == 4
    assert resumed.dev_eval.best["checkpoint"] == str(tmp_path / "b" / "checkpoint-4")
    history = [json.loads(x) for x in (tmp_path / "b" / "icl_eval.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [2, 4, 6, 8]
    got, best = _weights(model_dir), _weights(tmp_path / "b" / "checkpoint-4")
    assert all(torch.equal(got[k], best[k]) for k in best)


@pytest.mark.parametrize(("flags", "words"), [
    (["--eval.tasks", "xcopaa"], "eval: unknown task 'xcopaa'"),
    (["--eval.tasks", "xcopa", "--eval.split", "test"], "'test' is a test split"),
    (["--eval.tasks", "xwinograd"], "xwinograd has only test splits"),
    (["--eval.tasks", "xcopa", "--eval.metric", "icl_mean_f1"], "metric 'icl_mean_f1' is not among the ICL metrics"),
    (["--eval.tasks", "xcopa", "--eval.languages", "zh", "--eval.metric", "icl_xcopa_zh-zh_5shot_seed0_acc"],
     "is not among the ICL metrics"),
    (["--eval.tasks", "xcopa", "--eval.data_dir", "EMPTY"], "xcopa"),
    (["--eval.select_best"], "eval.select_best needs eval.tasks"),
    (["--eval.tasks", "xcopa", "--eval.select_best", "--eval.steps", "3"], "must be a multiple of eval.steps"),
    (["--eval.tasks", "xcopa", "--eval.limit", "0"], "eval.limit must be at least 1"),
    (["--training.args", "load_best_model_at_end=true"], "crossalign sets it from eval.select_best"),
    (["--training.args", "metric_for_best_model=icl_mean_acc"], "crossalign sets it from eval.metric"),
])
def test_bad_eval_sections_are_refused_before_the_model_loads(flags, words, tiny_checkpoints, samples_file,
                                                              tmp_path, capsys, no_model):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "run"
    argv = ["train", "--model.name_or_path", str(tiny_checkpoints["llama"]), "--data.train_file", str(samples_file),
            "--training.output_dir", str(out), "--training.report_to", "none", "--training.save_steps", "4",
            *[str(empty) if f == "EMPTY" else f for f in flags]]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_eval_settings_define_the_run_on_resume(tiny_checkpoints, samples_file, tmp_path, shared_data):
    from crossalign.errors import ConfigError
    from crossalign.train.resume import check_same_run

    cfg = _eval_cfg(tiny_checkpoints["llama"], samples_file, tmp_path / "run", shared_data)
    first = build_run(cfg, say=quiet)
    first.trainer.add_callback(StopAt(2))
    first.trainer.train()
    other = _eval_cfg(tiny_checkpoints["llama"], samples_file, tmp_path / "run", shared_data, languages=["sw"])
    with pytest.raises(ConfigError, match=r"eval\.languages"):
        check_same_run(other, tmp_path / "run" / "checkpoint-2")
    faster = _eval_cfg(tiny_checkpoints["llama"], samples_file, tmp_path / "run", tmp_path, batch_size=4)
    check_same_run(faster, tmp_path / "run" / "checkpoint-2")  # how and from where it reads: free

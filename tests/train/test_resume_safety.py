"""`crossalign train` refuses what would mix two runs in one folder or lose what is there, before
any compute: another run's checkpoints, a fresh run over checkpoints, a missing or truncated
checkpoint, output paths that cannot be written, and values that make no sense."""

from __future__ import annotations

import json

import pytest
import yaml

from crossalign.cli import main as cli_main


def _argv(checkpoint, samples, out, *extra):
    return ["train", "--model.name_or_path", str(checkpoint), "--data.train_file", str(samples),
            "--training.output_dir", str(out), "--training.report_to", "none", "--clm.max_length", "128",
            "--training.max_steps", "2", "--training.save_steps", "2", "--training.logging_steps", "1", *extra]


@pytest.fixture
def finished_run(tiny_checkpoints, samples_file, tmp_path, capsys):
    """A finished 2-step run (checkpoint-2, model/, config.yaml) with learning rate 1e-3."""
    out = tmp_path / "run"
    assert cli_main(_argv(tiny_checkpoints["llama"], samples_file, out, "--training.learning_rate", "1e-3")) == 0
    capsys.readouterr()
    assert (out / "checkpoint-2" / "config.yaml").is_file()  # every checkpoint keeps its run's settings
    return out


def _steps(checkpoint):
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return [h["step"] for h in state["log_history"] if "loss/cl" in h]


def test_resuming_another_runs_checkpoints_is_refused(finished_run, tiny_checkpoints, samples_file, capsys,
                                                      files_of):
    before = files_of(finished_run)
    argv = _argv(tiny_checkpoints["llama"], samples_file, finished_run, "--training.learning_rate", "5e-4",
                 "--training.resume_from_checkpoint", "latest")
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert "other settings" in err and "training.learning_rate: 0.001 -> 0.0005" in err
    assert f"--config {finished_run / 'checkpoint-2' / 'config.yaml'}" in err  # how to continue that run
    assert files_of(finished_run) == before  # config.yaml was not overwritten, nothing else written
    # Settings that only say how to log or save may change on resume: the same run continues.
    same = _argv(tiny_checkpoints["llama"], samples_file, finished_run, "--training.learning_rate", "1e-3",
                 "--training.resume_from_checkpoint", "latest", "--training.logging_steps", "5")
    assert cli_main([*same, "--training.max_steps", "3"]) == 2  # max_steps sets the schedule: another run
    assert "training.max_steps: 2 -> 3" in capsys.readouterr().err
    assert cli_main(same) == 0, capsys.readouterr().err
    assert "resuming from" in capsys.readouterr().out


def test_fresh_run_into_a_folder_with_checkpoints_needs_overwrite(finished_run, tiny_checkpoints, samples_file,
                                                                  capsys, files_of):
    before = files_of(finished_run)
    argv = _argv(tiny_checkpoints["llama"], samples_file, finished_run, "--training.learning_rate", "5e-4")
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert "already holds checkpoints" in err and "--training.overwrite_output_dir" in err
    assert "training.output_dir" in err
    assert files_of(finished_run) == before
    assert cli_main([*argv, "--training.overwrite_output_dir"]) == 0
    assert "removed" in capsys.readouterr().out
    saved = yaml.safe_load((finished_run / "checkpoint-2" / "config.yaml").read_text())
    assert saved["training"]["learning_rate"] == 5e-4  # the new run's checkpoint, not the old one


def test_truncated_newest_checkpoint_falls_back_to_the_newest_complete_one(tiny_checkpoints, samples_file,
                                                                           tmp_path, capsys):
    out = tmp_path / "run"
    steps = ["--training.max_steps", "4", "--training.save_steps", "2", "--training.save_total_limit", "3"]
    argv = _argv(tiny_checkpoints["llama"], samples_file, out, *steps)
    assert cli_main(argv) == 0
    weights = out / "checkpoint-4" / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])  # killed while writing the newest checkpoint
    capsys.readouterr()
    assert cli_main([*argv, "--training.resume_from_checkpoint", "latest"]) == 0
    printed = capsys.readouterr().out
    assert f"skipping {out / 'checkpoint-4'} (model.safetensors is truncated" in printed
    assert f"resuming from {out / 'checkpoint-2'}" in printed
    assert _steps(out / "checkpoint-4") == [1, 2, 3, 4]  # steps 3 and 4 trained again, then saved whole
    assert weights.stat().st_size == len(data)
    # an explicit checkpoint is taken as asked: a truncated one is an error, not a fallback
    weights.write_bytes(data[:100])
    assert cli_main([*argv, "--training.resume_from_checkpoint", str(out / "checkpoint-4")]) == 2
    assert "not a complete checkpoint" in capsys.readouterr().err


def test_missing_checkpoint_is_refused_before_anything_is_written(finished_run, tiny_checkpoints,
                                                                  samples_file, capsys, files_of):
    before = files_of(finished_run)
    missing = finished_run / "checkpoint-99"
    argv = _argv(tiny_checkpoints["llama"], samples_file, finished_run, "--training.learning_rate", "1e-3",
                 "--training.resume_from_checkpoint", str(missing))
    assert cli_main(argv) == 2
    assert f"training.resume_from_checkpoint: {missing} is not a folder" in capsys.readouterr().err
    assert files_of(finished_run) == before
    empty = finished_run.parent / "empty"
    argv = _argv(tiny_checkpoints["llama"], samples_file, empty, "--training.resume_from_checkpoint", "latest")
    assert cli_main(argv) == 2
    assert "no checkpoint-N in" in capsys.readouterr().err
    assert not empty.exists()


def test_unwritable_output_dir_is_refused_before_the_model_loads(tiny_checkpoints, samples_file, tmp_path,
                                                                 capsys, monkeypatch, read_only, files_of):
    def no_load(*args, **kwargs):
        raise AssertionError("the model was loaded before the output folder was checked")

    monkeypatch.setattr("crossalign.model.load.load_model", no_load)
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me\n")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "earlier.txt").write_text("earlier output\n")
    for out, words in ((blocker / "run", "is a file, not a folder"), (blocker, "is a file; give a folder"),
                       (locked / "run", "cannot write into")):
        with read_only(locked):
            assert cli_main(_argv(tiny_checkpoints["llama"], samples_file, out)) == 2
        err = capsys.readouterr().err
        assert "training.output_dir" in err and words in err, err
    assert blocker.read_text() == "keep me\n"
    assert files_of(locked) == {"earlier.txt": b"earlier output\n"}


@pytest.mark.parametrize(("flag", "value", "words"), [
    ("--training.max_steps", "0", "training.max_steps must be at least 1"),
    ("--data.max_samples", "0", "data.max_samples must be at least 1"),
    ("--training.save_steps", "-5", "training.save_steps must be at least 1"),
    ("--training.learning_rate", "0", "training.learning_rate must be > 0"),
    ("--lora.dropout", "1.5", "lora.dropout must be in [0, 1)"),
])
def test_values_that_make_no_sense_are_refused(flag, value, words, tiny_checkpoints, samples_file, tmp_path,
                                               capsys):
    out = tmp_path / "run"
    assert cli_main(_argv(tiny_checkpoints["llama"], samples_file, out, flag, value)) == 2
    assert words in capsys.readouterr().err
    assert not out.exists()

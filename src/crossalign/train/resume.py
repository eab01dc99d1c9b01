"""Which checkpoint a training run starts from, decided before anything is loaded or written.

    start = plan_start(cfg, say)   # None: a fresh run; else the checkpoint-N folder to resume

The rules, so that one output folder holds one run:

* ``training.resume_from_checkpoint latest`` resumes the newest *complete* checkpoint of
  ``training.output_dir``; a newer one that is incomplete (a run killed while saving, a
  truncated weights file) is skipped, and the run says so. No complete checkpoint: an error.
* An explicit ``checkpoint-N`` folder must exist and be complete.
* Either way the checkpoint must come from a run with the same settings: every checkpoint
  holds the run's resolved configuration (``config.yaml``), and any difference outside
  :data:`FREE_ON_RESUME` (logging, saving, reporting, where data is read from) is refused with
  the differences listed and the ways to continue; the ``eval`` section defines the run (its
  history and best checkpoint carry over, ``eval/callback.py``).
* A fresh run (no ``resume_from_checkpoint``) into a folder that already holds checkpoints is
  refused unless ``training.overwrite_output_dir`` is set; then the old checkpoints are
  removed when training starts (:func:`clear_checkpoints`).
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import yaml

from crossalign.errors import ConfigError
from crossalign.options import CONFIG_FILENAME, flat_settings, from_dict, to_dict

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
TRAINER_STATE = "trainer_state.json"
# Settings that may change between a run and its resumption: where and how often it logs and
# saves, and how the resumption itself is asked for. Everything else defines the run.
FREE_ON_RESUME = frozenset({
    "training.output_dir", "training.resume_from_checkpoint", "training.overwrite_output_dir",
    "training.logging_steps", "training.save_steps", "training.save_total_limit", "training.report_to",
    "training.dataloader_num_workers", "training.ddp_backend", "monitor.every", "monitor.batch_size",
    "training.push_to_hub", "training.hub_model_id", "eval.batch_size", "eval.max_rows", "eval.data_dir",
})
# What the eval section writes beside the checkpoints: they belong to the run the checkpoints belong to.
EVAL_FILES = ("icl_eval.jsonl", "best_checkpoint.json")


def checkpoints(output_dir: str | Path) -> list[Path]:
    """The ``checkpoint-N`` folders of ``output_dir``, newest (highest N) first."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and CHECKPOINT.match(p.name)]
    return sorted(found, key=lambda p: int(CHECKPOINT.match(p.name).group(1)), reverse=True)


def _safetensors_problem(path: Path) -> str | None:
    """Why a ``.safetensors`` file is unreadable (truncated, bad header), or None; reads the header only."""
    size = path.stat().st_size
    if size < 8:
        return f"{path.name} is truncated ({size} bytes)"
    with path.open("rb") as handle:
        (n,) = struct.unpack("<Q", handle.read(8))
        if n > size - 8:
            return f"{path.name} is truncated (header of {n} bytes in a file of {size})"
        try:
            header = json.loads(handle.read(n))
        except ValueError:
            return f"{path.name} has a corrupt header"
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end != size:
        return f"{path.name} is truncated ({size} bytes, its header describes {8 + n + end})"
    return None


def checkpoint_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a complete checkpoint, or None. Cheap: headers and zip directories only."""
    state = folder / TRAINER_STATE
    if not state.is_file():
        return f"no {TRAINER_STATE} (the Trainer writes it last: the save did not finish)"
    try:
        json.loads(state.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return f"{TRAINER_STATE} is not valid JSON"
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        return "no .safetensors weights"
    for path in weights:
        problem = _safetensors_problem(path)
        if problem:
            return problem
    for path in sorted(folder.glob("*.pt")) + sorted(folder.glob("*.pth")):
        # torch.save writes a zip archive; a truncated one has lost its central directory
        if not zipfile.is_zipfile(path):
            return f"{path.name} is truncated or not a torch archive"
    return None


def settings_differences(saved: dict, current: dict) -> list[str]:
    """``option: saved -> current`` for every run-defining setting that differs."""
    a, b = flat_settings(saved), flat_settings(current)
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b))
            if k not in FREE_ON_RESUME and a.get(k) != b.get(k)]


def _saved_settings(checkpoint: Path) -> dict | None:
    # Checkpoints keep their run's configuration; ones saved before they did only have the copy
    # that the run wrote into its output folder when it started.
    for path in (checkpoint / CONFIG_FILENAME, checkpoint.parent / CONFIG_FILENAME):
        if path.is_file():
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError:
                continue
            if isinstance(data, dict):
                return data
    return None


def _with_defaults(cfg, saved: dict) -> dict:
    """``saved`` with the defaults of options it does not name (added since it was written), so that a
    new option left at its default is no difference; as written if it no longer reads as a config."""
    try:
        return to_dict(from_dict(type(cfg), saved))
    except ConfigError:
        return saved


def check_same_run(cfg, checkpoint: Path) -> None:
    """Refuse to resume ``checkpoint`` if the run that wrote it had other settings than ``cfg``."""
    saved = _saved_settings(checkpoint)
    if saved is None:
        raise ConfigError(
            f"training.resume_from_checkpoint: {checkpoint} holds no {CONFIG_FILENAME}, so its run "
            "settings cannot be checked against this run's; start afresh with --training.overwrite_output_dir "
            "(its checkpoints are removed), or use another training.output_dir")
    diffs = settings_differences(_with_defaults(cfg, saved), to_dict(cfg))
    if diffs:
        shown = "; ".join(diffs[:8]) + (f"; and {len(diffs) - 8} more" if len(diffs) > 8 else "")
        raise ConfigError(
            f"training.resume_from_checkpoint: {checkpoint} was written by a run with other settings "
            f"({shown}). To continue that run, rerun with its settings: --config {checkpoint / CONFIG_FILENAME} "
            "--training.resume_from_checkpoint latest. To start this run instead, give another "
            "training.output_dir, or set --training.overwrite_output_dir (its checkpoints are removed)")


def plan_start(cfg, say: Callable[[str], None] = print) -> Path | None:
    """The checkpoint this run resumes (None: a fresh run), after every check; nothing is written."""
    t = cfg.training
    resume = t.resume_from_checkpoint
    found = checkpoints(t.output_dir)
    if resume is None:
        if found and not t.overwrite_output_dir:
            raise ConfigError(
                f"training.output_dir: {t.output_dir} already holds checkpoints ({found[0].name}...) of an "
                "earlier run. Continue it with --training.resume_from_checkpoint latest, start afresh with "
                "--training.overwrite_output_dir (its checkpoints are removed), or give another "
                "training.output_dir")
        return None
    if resume == "latest":
        if not found:
            raise ConfigError(f"training.resume_from_checkpoint latest: no checkpoint-N in {t.output_dir}")
        for folder in found:
            problem = checkpoint_problem(folder)
            if problem is None:
                break
            say(f"resume: skipping {folder} ({problem})")
        else:
            raise ConfigError(
                f"training.resume_from_checkpoint latest: no complete checkpoint in {t.output_dir} "
                f"(each of {', '.join(p.name for p in found)} is incomplete)")
        if folder != found[0]:
            say(f"resume: newest complete checkpoint is {folder}")
    else:
        folder = Path(resume)
        if not folder.is_dir():
            raise ConfigError(f"training.resume_from_checkpoint: {folder} is not a folder")
        problem = checkpoint_problem(folder)
        if problem:
            raise ConfigError(f"training.resume_from_checkpoint: {folder} is not a complete checkpoint: {problem}")
    check_same_run(cfg, folder)
    return folder


def resumable(cfg) -> Path | None:
    """The newest complete checkpoint of ``cfg``'s output folder written with ``cfg``'s settings, or None
    (for pipelines that resume an interrupted stage and start afresh over a stale one)."""
    for folder in checkpoints(cfg.training.output_dir):
        if checkpoint_problem(folder) is None:
            saved = _saved_settings(folder)
            if saved is not None and not settings_differences(_with_defaults(cfg, saved), to_dict(cfg)):
                return folder
    return None


def clear_checkpoints(output_dir: str | Path) -> list[Path]:
    """Remove the ``checkpoint-N`` folders of an earlier run (``overwrite_output_dir``) and its dev
    evaluation files (:data:`EVAL_FILES`); returns them."""
    removed = checkpoints(output_dir)
    for folder in removed:
        shutil.rmtree(folder)
    for name in EVAL_FILES:
        path = Path(output_dir) / name
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed

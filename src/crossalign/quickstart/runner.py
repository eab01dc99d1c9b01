"""Run the quickstart's stages in order and time them (see :mod:`crossalign.quickstart.stages` and
:mod:`crossalign.pipeline`)."""

from __future__ import annotations

import time
from pathlib import Path

from crossalign.options import save_config
from crossalign.pipeline.data import data_stage
from crossalign.pipeline.model import model_stage
from crossalign.pipeline.training import training_stage
from crossalign.quickstart.config import QuickstartConfig
from crossalign.quickstart.report import write_quickstart_report
from crossalign.quickstart.stages import analysis_stage, log_of, train_config


def run_quickstart(cfg: QuickstartConfig, say=print) -> str | None:
    """Run the configured stages; returns the before/after table (markdown) when the report ran."""
    out = Path(cfg.output_dir)
    save_config(cfg, out)
    timings: dict[str, float] = {}
    wanted = set(cfg.stages)

    def timed(name, fn, *args):
        start = time.perf_counter()
        result = fn(*args)
        timings[name] = round(time.perf_counter() - start, 1)
        return result

    model_path = timed("model", model_stage, cfg.model, say)
    data_info = None
    if wanted & {"data", "before", "train", "after", "report"}:
        data_info = timed("data", data_stage, cfg.data, out / "data", say)
    layer = None
    if "before" in wanted or "report" in wanted:
        layer = timed("before", analysis_stage, "before", model_path, cfg, out, say)["layer"]
    train_info = None
    if wanted & {"train", "after", "report"}:
        train_info = timed("train", training_stage, train_config(cfg, model_path, out, layer), say, log_of)
        train_info["base_model"] = cfg.model.name_or_path
    if wanted & {"after", "report"}:
        timed("after", analysis_stage, "after", train_info["model"], cfg, out, say, train_info["layer"],
              train_info["fingerprint"])
    if "report" not in wanted:
        return None
    table = timed("report", write_quickstart_report, out, train_info, data_info, dict(timings), say)
    return table

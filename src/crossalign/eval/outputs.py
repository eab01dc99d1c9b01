"""Writing evaluation results: a results JSON, a markdown table and optional predictions.

``results.json`` holds the model, the software versions, the resolved configuration, every
run (task, language pair, shots, seed, metrics, number of items, time), the summary over
seeds and the tasks that failed with their errors (``failed``). ``results.md`` is the summary
as a table; ``predictions/<run>.jsonl`` has one line per item (id, label, predictions,
per-choice log-likelihoods, demonstration ids). Beside them, the same runs in
lm-evaluation-harness' format: ``results_<date>.json`` and, with predictions,
``samples_<task>_<date>.jsonl`` (:mod:`crossalign.eval.lm_eval_results`). All files are written
atomically.
"""

from __future__ import annotations

import platform
from pathlib import Path

import torch
import transformers

import crossalign
from crossalign.eval.lm_eval_results import write_lm_eval
from crossalign.eval.summary import markdown_table
from crossalign.io import write_json, write_jsonl, write_text


def versions() -> dict[str, str]:
    out = {"crossalign": crossalign.__version__, "torch": torch.__version__,
           "transformers": transformers.__version__, "python": platform.python_version()}
    try:
        # Imported here: ~0.6 s (pandas, pyarrow; `python -X importtime`) that a run from local
        # files never pays otherwise.
        import datasets

        out["datasets"] = datasets.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


def write_outputs(results: dict, out_dir: str | Path, *, config: dict | None = None,
                  predictions: bool = False, lm_eval: bool = True, date: str | None = None) -> Path:
    """Write every output of :func:`~crossalign.eval.runner.evaluate`'s ``results``; returns the
    path of results.json. ``lm_eval``: also the lm-eval-format files (``date`` in their names;
    default: now), with their per-sample logs when ``predictions`` and the results hold the
    prompts (``evaluate(..., samples=True)``, as the command does)."""
    out = Path(out_dir)
    doc = {"model": results.get("model", ""), "versions": versions(), "config": config or {},
           "runs": results["runs"], "summary": results["summary"], "failed": results.get("failed", [])}
    if results.get("steering"):
        doc["steering"] = results["steering"]
    if predictions:
        for name, rows in results["predictions"].items():
            write_jsonl(out / "predictions" / f"{name}.jsonl", rows)
    table = markdown_table(results["summary"])
    if results.get("failed"):
        table += "\n**Failed** (not in the table):\n\n" + "".join(
            f"- {f['task']}: {f['error']}\n" for f in results["failed"])
    write_text(out / "results.md", table)
    if lm_eval:
        samples = predictions and results["details"]["prompts"] is not None
        write_lm_eval(results, out, config=config, samples=samples, date=date)
    write_json(out / "results.json", doc)
    return out / "results.json"

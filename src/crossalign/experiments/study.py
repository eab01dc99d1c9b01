"""The whole study: every experiment of ``configs/study.yaml`` in order, then the report.

    crossalign study --config configs/study.yaml            # the full study
    crossalign study --config configs/study.yaml --quick    # the quick variant (< 1 h on 2 CPU cores)

Base models run first (aligned runs are compared with them). With ``levers:`` the candidates are
trained and scored on the dev splits only; the one with the best non-English dev ICL accuracy is
then measured on test (the recipe is measured in any case). A finished stage of any run is
reused, so an interrupted study continues where it stopped, and ``--report_only`` rewrites the
report from the results on disk (``--restore <report folder>/runs.json.gz`` puts them back first,
where the runs are gone).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from crossalign.errors import ConfigError
from crossalign.experiments.archive import restore_archive
from crossalign.experiments.config import ExperimentConfig, StudyConfig
from crossalign.experiments.experiment import run_experiment
from crossalign.experiments.report import write_study_report
from crossalign.experiments.results import select_lever
from crossalign.options import _merge, _set_nested, from_dict, load_yaml, save_config


def load_experiment(path: str | Path, overrides: list[str] = ()) -> ExperimentConfig:
    """An experiment file, with ``key=value`` overrides (dotted keys, YAML values) applied."""
    data = load_yaml(path)
    extra: dict = {}
    for item in overrides:
        key, _, value = item.partition("=")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: not a YAML value: {exc}") from None
        _set_nested(extra, key.strip(), parsed)
    return from_dict(ExperimentConfig, _merge(data, extra), where=str(path))


def planned(cfg: StudyConfig) -> tuple[list[ExperimentConfig], Path, Path]:
    """The experiments to run (base models first), the output folder and the report path."""
    overrides = cfg.quick_overrides if cfg.quick else cfg.full_overrides
    exps = [load_experiment(p, overrides) for p in cfg.experiments]
    names = [e.name for e in exps]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"experiments: duplicate names {dupes}")
    wanted = set(cfg.only) if cfg.only else set(cfg.quick_experiments) if cfg.quick else set(names)
    unknown = sorted((set(cfg.quick_experiments) | set(cfg.only)) - set(names))
    if unknown:
        raise ConfigError(f"unknown experiment name(s) {unknown}; known: {names}")
    by_name = {e.name: e for e in exps}
    lv = cfg.levers
    for name in ([lv.recipe] if lv.recipe else []) + list(lv.candidates):
        if name not in by_name:
            raise ConfigError(f"levers: {name!r} is not an experiment of the study; known: {names}")
        if not by_name[name].align or not by_name[name].dev_icl.split:
            raise ConfigError(f"levers: {name} must be an aligned run with a dev ICL split (dev_icl.split): "
                              "the selection reads it")
    for e in exps:
        if e.compared and e.baseline not in by_name:
            raise ConfigError(f"{e.name}: baseline {e.baseline!r} is not an experiment of the study")
        if e.compared and by_name[e.baseline].compared:
            raise ConfigError(f"{e.name}: baseline {e.baseline!r} is not a base model (align: false, no steer)")
    baselines = {by_name[n].baseline for n in wanted if by_name[n].compared} - wanted
    out = Path(cfg.folder)
    if cfg.only:
        # A baseline pulled in by --only is measured only if it has no results yet: re-measuring it
        # under other settings would replace the results the earlier runs were compared with.
        baselines = {b for b in baselines if not (out / b / "results.json").exists()}
    wanted |= baselines
    chosen = [e for e in exps if e.name in wanted]
    chosen.sort(key=lambda e: e.compared)  # stable: base models first, file order otherwise
    report = Path(cfg.quick_report if cfg.quick else cfg.report)
    return chosen, out, report


def run_study(cfg: StudyConfig, say=print) -> Path:
    if cfg.restore:
        # Before planning: --only reads which baselines have results, and they may come from the archive.
        restored = restore_archive(cfg.restore, cfg.folder)
        say(f"study: restored {len(restored)} run(s) from {cfg.restore} into {cfg.folder}"
            + (f": {', '.join(restored)}" if restored else " (every run of it already has results there)"))
    exps, out, report = planned(cfg)
    save_config(cfg, out, "study.yaml")
    if not cfg.report_only:
        candidates = set(cfg.levers.candidates)
        say(f"study: {len(exps)} runs into {out}: {', '.join(e.name for e in exps)}")
        for i, exp in enumerate(exps, 1):
            start = time.perf_counter()
            say(f"study: run {i}/{len(exps)}: {exp.name} ({exp.description})")
            run_experiment(exp, out, say, test=exp.name not in candidates)
            say(f"study: {exp.name} finished in {time.perf_counter() - start:.0f} s")
        if candidates:
            _measure_selected_lever(cfg, exps, out, say)
    path = write_study_report(out, report, cfg, say)
    say(f"study: report written to {path}")
    return path


def _measure_selected_lever(cfg: StudyConfig, exps: list[ExperimentConfig], out: Path, say) -> None:
    """Select among the recipe and its candidates on dev ICL; measure the winner on test (the recipe is)."""
    names = [cfg.levers.recipe, *cfg.levers.candidates]
    paths = {n: out / n / "results.json" for n in names}
    runs = {n: json.loads(p.read_text()) for n, p in paths.items() if p.is_file()}
    try:
        best, scores = select_lever(runs, names)
    except ValueError as exc:
        say(f"study: no lever selected: {exc}")
        return
    say("study: lever search on dev ICL (non-English mean): "
        + ", ".join(f"{n} {v:.3f}" for n, v in scores.items()) + f"; selected: {best}")
    chosen = {e.name: e for e in exps}
    if best != cfg.levers.recipe and best not in chosen:
        say(f"study: {best} is not among the runs chosen (--only): not measured on test")
    elif best != cfg.levers.recipe:
        start = time.perf_counter()
        run_experiment(chosen[best], out, say, test=True)
        say(f"study: {best} (selected) measured on test in {time.perf_counter() - start:.0f} s")

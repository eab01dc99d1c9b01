"""The study's runs in one file beside its report: every run's ``results.json``, gzipped.

``write_study_report`` writes ``<report folder>/<report name>/runs.json.gz`` with the results the report
was computed from; ``crossalign study --restore <that file> --report_only`` puts them back into the output
folder (only the runs that have no ``results.json`` there) and regenerates the report, on a machine where
the runs themselves are gone. The archive holds results, not models: a stage to re-run is re-run.

Format: ``{"format": "crossalign.study-runs/1", "runs": [<results.json>, ...]}``, JSON, gzip with a
zero timestamp, so the same runs give the same bytes.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

from crossalign.errors import ConfigError
from crossalign.io import atomic_write, write_json

FORMAT = "crossalign.study-runs/1"
NAME = "runs.json.gz"


def write_archive(path: str | Path, runs: list[dict]) -> Path:
    """Write ``runs`` (each a run's ``results.json``, with its ``name``) to ``path`` atomically."""
    path = Path(path)
    # Keys keep their order: the report lists some tables in the order of its results (languages, layers).
    data = json.dumps({"format": FORMAT, "runs": runs}, ensure_ascii=False).encode()
    with atomic_write(path, "wb") as handle, gzip.GzipFile(fileobj=handle, mode="wb", mtime=0, filename="") as gz:
        gz.write(data)
    return path


def read_archive(path: str | Path) -> list[dict]:
    """The runs of an archive; a ConfigError naming the file when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--restore: {path} does not exist (give a {NAME} written beside a study report)")
    try:
        with gzip.open(path, "rb") as gz:
            data = json.loads(gz.read().decode("utf-8"))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--restore: {path} is not a gzipped JSON runs archive ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ConfigError(f"--restore: {path} has format {found!r}, expected {FORMAT!r}")
    runs = data.get("runs")
    if not isinstance(runs, list):
        raise ConfigError(f"--restore: {path}: 'runs' is not a list")
    for i, run in enumerate(runs):
        name = run.get("name") if isinstance(run, dict) else None
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise ConfigError(f"--restore: {path}: run {i} has no valid name ({name!r})")
    return runs


def restore_archive(path: str | Path, folder: str | Path) -> list[str]:
    """Write each run of the archive to ``folder/<name>/results.json`` where that file does not exist yet;
    the names restored. Runs already in ``folder`` are left as they are (they may be newer)."""
    runs = read_archive(path)
    folder = Path(folder)
    restored = []
    for run in runs:
        target = folder / run["name"] / "results.json"
        if target.exists():
            continue
        write_json(target, run)
        restored.append(run["name"])
    return restored

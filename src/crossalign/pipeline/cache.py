"""A stage is finished when its ``done.json`` exists with the same fingerprint.

    key = fingerprint(cfg.data, model_path)
    if (done := is_done(folder, key)) is None:
        ...  # compute, write every output atomically
        done = mark_done(folder, key, seconds=12.3)

The fingerprint is a hash of everything the stage depends on (dataclasses as their plain
dicts); the marker is written last, after every output of the stage, so an interrupted stage
simply runs again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from crossalign.io import write_json
from crossalign.options import to_dict

DONE = "done.json"


def fingerprint(*parts) -> str:
    blob = json.dumps([to_dict(p) if dataclasses.is_dataclass(p) else p for p in parts], sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def is_done(folder: Path, key: str) -> dict | None:
    """The stage's recorded info if ``folder`` holds a finished stage with fingerprint ``key``."""
    marker = folder / DONE
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("fingerprint") == key:
            return info
    return None


def mark_done(folder: Path, key: str, **info) -> dict:
    data = {"fingerprint": key, **info}
    write_json(folder / DONE, data)
    return data

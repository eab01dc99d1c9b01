"""Shared fixtures: tiny tokenizers and models built in code, and the shared real data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(
    os.environ.get("CROSSALIGN_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (override with CROSSALIGN_SHARED_DATA). Tests that need it fail, not skip,
    when it is missing: CI always has it beside the clone."""
    path = SHARED_DATA.resolve()
    assert path.is_dir(), f"shared data not found at {path}; set CROSSALIGN_SHARED_DATA"
    return path


@pytest.fixture(scope="session", params=["left", "right"])
def tokenizer(request):
    from crossalign.testing import tiny_tokenizer

    return tiny_tokenizer(padding_side=request.param)


@pytest.fixture(scope="session")
def right_tokenizer():
    from crossalign.testing import tiny_tokenizer

    return tiny_tokenizer(padding_side="right")

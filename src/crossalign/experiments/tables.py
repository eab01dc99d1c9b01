"""Formatting of the report's figures and markdown tables.
"""

from __future__ import annotations

import math


# ---------------------------------------------------------------- formatting
def pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}"


def signed(x: float) -> str:
    return "–" if math.isnan(x) else f"{100 * x:+.1f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"

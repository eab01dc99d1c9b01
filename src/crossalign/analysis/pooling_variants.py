"""Names of the pooling variants the analysis measures: each base pooling, with and without special tokens.

    POOLING_VARIANTS                 # ("mean", "last", "mean+special", "last+special")
    parse_variant("last+special")    # ("last", True)

The base methods are :data:`crossalign.model.pooling.POOLING_METHODS`; ``"<method>+special"``
also pools over special tokens such as BOS (``pooling_mask(..., include_special=True)``).
``crossalign analyze --pooling`` takes its choices from here and the study report draws every
base method, so a new pooling needs only its name in ``POOLING_METHODS`` and its branch in
:func:`crossalign.model.pooling.pool`.
"""

from __future__ import annotations

from crossalign.model.pooling import POOLING_METHODS

POOLING_VARIANTS: tuple[str, ...] = (*POOLING_METHODS, *(f"{m}+special" for m in POOLING_METHODS))


def parse_variant(variant: str, include_special: bool = False) -> tuple[str, bool]:
    """``"mean"`` -> ``("mean", include_special)``; ``"mean+special"`` -> ``("mean", True)``."""
    base, _, suffix = variant.partition("+")
    if base not in POOLING_METHODS or suffix not in ("", "special"):
        raise ValueError(f"unknown pooling {variant!r}; choose from {list(POOLING_METHODS)}, "
                         "optionally with '+special' to pool over special tokens such as BOS too")
    return base, include_special or suffix == "special"


def variant_name(pooling: str, include_special: bool = False) -> str:
    """Canonical name of a pooling variant: ``"mean"`` or ``"mean+special"``."""
    base, special = parse_variant(pooling, include_special)
    return f"{base}+special" if special else base

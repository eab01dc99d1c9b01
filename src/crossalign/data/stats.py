"""Statistics of a generation run: what went in, what came out, and what was dropped and why.

``crossalign generate`` prints :meth:`GenerationStats.table` and writes
:meth:`GenerationStats.to_dict` beside the samples, named after them (``x.jsonl`` ->
``x.stats.json``). Drops are keyed ``"stage: reason"``: ``read: ...`` for lines the readers
skipped (``skip_invalid``), ``filter: ...`` for pairs the filters dropped (including
``filter: control_characters`` and ``filter: invisible_only``: sides that are not text),
``instructions: ...`` per language, ``contrastive: ...`` and ``cap: ...``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class GenerationStats:
    mode: str
    seed: int
    repeat: float
    items: int = 0  # distinct source items (instruction ids or translation pairs)
    full_copies: int = 0  # floor(repeat) copies of every item...
    extra_items: int = 0  # ...plus this many items sampled once more without replacement
    samples: int = 0
    pairs_per_language_pair: Counter = field(default_factory=Counter)  # "en-de" -> pairs available
    directions: Counter = field(default_factory=Counter)  # "en->de" -> instruction samples
    contrastive: Counter = field(default_factory=Counter)  # "en-de" -> contrastive pairs in the samples
    templates: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)  # "stage: reason" -> count

    @property
    def cross_lingual(self) -> int:
        return sum(n for d, n in self.directions.items() if d.split("->")[0] != d.split("->")[1])

    def add_drops(self, stage: str, counts: Counter) -> None:
        for reason, n in sorted(counts.items()):
            if n:
                self.dropped[f"{stage}: {reason}"] += n

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "seed": self.seed,
            "repeat": self.repeat,
            "items": self.items,
            "full_copies": self.full_copies,
            "extra_items": self.extra_items,
            "samples": self.samples,
            "cross_lingual_samples": self.cross_lingual,
            "pairs_per_language_pair": dict(sorted(self.pairs_per_language_pair.items())),
            "directions": dict(sorted(self.directions.items())),
            "contrastive_pairs": dict(sorted(self.contrastive.items())),
            "templates": dict(self.templates.most_common()),
            "dropped": dict(sorted(self.dropped.items())),
        }

    def table(self) -> str:
        """A plain-text report for the terminal."""
        lines = [
            f"mode {self.mode}, seed {self.seed}, repeat {self.repeat:g}: {self.items} items x "
            f"{self.full_copies} + {self.extra_items} sampled = {self.samples} samples "
            f"({self.cross_lingual} cross-lingual)",
        ]

        def section(title: str, counts: Counter, total: int | None = None, by_count: bool = False) -> None:
            if not counts:
                return
            lines.append(f"\n{title}")
            width = max(len(k) for k in counts)
            items = counts.most_common() if by_count else sorted(counts.items())
            for key, n in items:
                share = f"  {100 * n / total:5.1f}%" if total else ""
                lines.append(f"  {key:<{width}}  {n:>9,d}{share}")

        section("pairs available per language pair (after filters)", self.pairs_per_language_pair)
        section("samples per direction (prompt -> response)", self.directions, self.samples)
        section("contrastive pairs per language pair", self.contrastive, self.samples)
        section("templates", self.templates, self.samples, by_count=True)
        if self.dropped:
            section("dropped (stage: reason)", self.dropped)
        else:
            lines.append("\ndropped: nothing")
        return "\n".join(lines)

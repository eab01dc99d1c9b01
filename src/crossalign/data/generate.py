"""AFP training samples: a contrastive translation pair plus a cross-lingual instruction sample per line.

Library entry point: :func:`generate_samples` (the ``crossalign generate`` command wires
readers, filters and this together). Each :class:`Sample` becomes one JSON line::

    {"pair": {"src_lang": "en", "tgt_lang": "zh", "src": "...", "tgt": "..."},
     "prompt": "... Answer in Chinese:", "response": " ...",
     "prompt_lang": "en", "response_lang": "zh", "mode": "bilingual",
     "template": "{instruction} Answer in {language}: {output}", "origin": "en.json:12"}

``pair`` feeds the contrastive loss; ``prompt`` (masked) and ``response`` (trained) the
causal-LM loss. ``prompt + response`` is the reference's full text; the separating space
starts the response (see :mod:`crossalign.data.templates`).

Modes (the reference's sampling; ``pivot`` is the first language):

* ``bilingual`` (pivot + one language) and ``multilingual`` (pivot + N): per sample pick a
  non-pivot language X uniformly. With probability ``cross_probability`` the sample is
  cross-lingual: pivot -> X, or X -> pivot with probability ``change_probability``
  (0.5 reproduces the reference's uniform choice of the source language in bilingual
  mode). Otherwise prompt and response share one language, uniform over all languages.
  The instruction/input come from the prompt language's row, the output from the response
  language's row of the same item. The contrastive pair is (pivot, X), pivot first, taken
  from an UNRELATED item: the ``instruction`` strings of another item (as in the
  reference) or, when ``contrastive_pairs`` are given, a translation pair of that language
  pair. Pairs are drawn by walking a shuffled order, reshuffled when exhausted.
* ``translation``: each translation pair is a sample; with probability
  ``change_probability`` its direction is swapped; the template is drawn uniformly from
  ``templates.translate``; the contrastive pair is the (possibly swapped) pair itself.

``repeat`` r: every item appears exactly ``floor(r)`` times, plus ``round(frac(r) * N)``
(rounded half up) distinct items, sampled without replacement, appear once more;
``repeat=1.5`` on 1,000 items gives exactly 1,500 samples (the reference gives
``int(r*N)+1`` samples with random per-item multiplicity).
All randomness comes from one ``random.Random(seed)``: the same inputs and seed give the
same file byte for byte.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from crossalign.data.filters import normalise
from crossalign.data.instructions import InstructionSet
from crossalign.data.pairs import Pair
from crossalign.data.samples import Sample
from crossalign.data.stats import GenerationStats
from crossalign.data.templates import Templates, render_instruction, render_translation
from crossalign.errors import ConfigError, InputError

MODES = ("bilingual", "multilingual", "translation")


def repeat_indices(n: int, repeat: float, rng: random.Random) -> tuple[list[int], int, int]:
    """Item indices for ``repeat`` r: each of ``range(n)`` floor(r) times + round(frac(r)*n) sampled once.

    Returns ``(indices, full_copies, extra)``; indices are in order (copies, then extras).
    """
    if repeat <= 0 or not math.isfinite(repeat):
        raise ConfigError(f"repeat must be a positive number, got {repeat}")
    full = math.floor(repeat)
    extra = math.floor((repeat - full) * n + 0.5)  # half up: 0.5 x 37 items -> 19
    return list(range(n)) * full + sorted(rng.sample(range(n), extra)), full, extra


class _Cycle:
    """Draws from a list by walking a shuffled order, reshuffling when it runs out."""

    def __init__(self, items: list, rng: random.Random):
        self.items, self.rng, self.order, self.pos = items, rng, [], 0

    def draw(self, avoid: object = None):
        for _ in range(2):  # the second try skips one draw equal to ``avoid``
            if self.pos >= len(self.order):
                self.order = list(range(len(self.items)))
                self.rng.shuffle(self.order)
                self.pos = 0
            key, value = self.items[self.order[self.pos]]
            self.pos += 1
            if key != avoid or len(self.items) == 1:
                return value
        return value


def _contrastive_pools(
    langs: Sequence[str], instructions: InstructionSet, pairs: Sequence[Pair] | None, stats: GenerationStats
) -> dict[str, list[tuple[object, Pair]]]:
    """(key, pair) lists per non-pivot language; the key marks the item a pair came from."""
    pivot = langs[0]
    pools: dict[str, list[tuple[object, Pair]]] = {x: [] for x in langs[1:]}
    if pairs is None:
        dropped = 0
        for x in langs[1:]:
            for i, (a, b) in enumerate(zip(instructions.items[pivot], instructions.items[x], strict=True)):
                if normalise(a.instruction) == normalise(b.instruction):
                    dropped += 1  # an untranslated instruction is no alignment signal
                    continue
                pools[x].append((i, Pair(pivot, x, a.instruction, b.instruction, a.origin)))
        if dropped:
            stats.dropped["contrastive: identical instructions"] += dropped
    else:
        unused = 0
        for p in pairs:
            q = p if p.src_lang == pivot else p.swapped() if p.tgt_lang == pivot else None
            if q is not None and q.tgt_lang in pools:
                pools[q.tgt_lang].append((None, q))
            else:
                unused += 1
        if unused:
            stats.dropped[f"contrastive: pairs not between {pivot} and {'/'.join(langs[1:])}"] += unused
    for x, pool in pools.items():
        if not pool:
            where = "translation pairs" if pairs is not None else "instruction data"
            raise InputError(f"no contrastive pairs for {pivot}-{x} in the {where}")
        stats.pairs_per_language_pair[f"{pivot}-{x}"] = len(pool)
    return pools


def _instruction_samples(
    mode: str, data: InstructionSet, order: list[int], rng: random.Random, cross_p: float, change_p: float,
    templates: Templates, contrastive_pairs: Sequence[Pair] | None, stats: GenerationStats,
) -> list[Sample]:
    langs = data.languages
    pivot, others = langs[0], langs[1:]
    if mode == "bilingual" and len(langs) != 2:
        raise ConfigError(
            f"bilingual mode takes exactly two languages (pivot first), got {langs}; "
            "use multilingual for more"
        )
    pools = _contrastive_pools(langs, data, contrastive_pairs, stats)
    cycles = {x: _Cycle(pool, rng) for x, pool in pools.items()}
    out = []
    for i in order:
        x = rng.choice(others)
        if rng.random() < cross_p:
            src, tgt = (x, pivot) if rng.random() < change_p else (pivot, x)
        else:
            src = tgt = rng.choice(langs)
        row, answer = data.items[src][i], data.items[tgt][i]
        template = templates.with_input if row.input else templates.without_input
        prompt, response = render_instruction(template, row.instruction, row.input, answer.output, tgt)
        pair = cycles[x].draw(avoid=i)
        out.append(Sample(pair, prompt, response, src, tgt, mode, template, row.origin))
    return out


def _translation_samples(
    pairs: Sequence[Pair], order: list[int], rng: random.Random, change_p: float, templates: Templates,
) -> list[Sample]:
    out = []
    for i in order:
        p = pairs[i]
        if rng.random() < change_p:
            p = p.swapped()
        template = rng.choice(templates.translate)
        prompt, response = render_translation(template, p.src, p.tgt, p.src_lang, p.tgt_lang)
        out.append(Sample(p, prompt, response, p.src_lang, p.tgt_lang, "translation", template, p.origin))
    return out


def cap_per_language_pair(
    pairs: Sequence[Pair], cap: int, rng: random.Random, stats: GenerationStats | None = None
) -> list[Pair]:
    """At most ``cap`` pairs of each language pair, a random subset kept in input order."""
    if cap < 1:
        raise ConfigError(f"max_pairs_per_language_pair must be at least 1, got {cap}")
    by_langs: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        by_langs.setdefault(p.langs, []).append(i)
    keep: set[int] = set()
    for langs, idx in by_langs.items():
        chosen = idx if len(idx) <= cap else rng.sample(idx, cap)
        keep.update(chosen)
        if stats is not None and len(idx) > cap:
            stats.dropped[f"cap: over max_pairs_per_language_pair ({langs})"] += len(idx) - cap
    return [p for i, p in enumerate(pairs) if i in keep]


def generate_samples(
    mode: str,
    *,
    pairs: Sequence[Pair] | None = None,
    instructions: InstructionSet | None = None,
    cross_probability: float = 0.5,
    change_probability: float = 0.5,
    repeat: float = 1.0,
    seed: int = 0,
    templates: Templates | None = None,
    shuffle: bool = True,
    max_samples: int | None = None,
    max_pairs_per_language_pair: int | None = None,
) -> tuple[list[Sample], GenerationStats]:
    """Build the samples of ``mode`` (see the module docstring) and their statistics.

    ``translation`` needs ``pairs``; ``bilingual``/``multilingual`` need ``instructions`` and
    take their contrastive pairs from ``pairs`` when given, else from the instructions.
    ``shuffle=False`` keeps item order (copies of the data one after another);
    ``max_samples`` keeps the first samples after shuffling. ``max_pairs_per_language_pair``
    keeps a random subset of at most that many pairs of each language pair (in their order),
    so that one large corpus does not drown the others.
    """
    for pname, prob in (("cross_probability", cross_probability), ("change_probability", change_probability)):
        if not 0.0 <= prob <= 1.0:
            raise ConfigError(f"{pname} must be between 0 and 1, got {prob}")
    templates = templates or Templates()
    templates.validate()
    rng = random.Random(seed)
    stats = GenerationStats(mode=mode, seed=seed, repeat=repeat)
    if pairs is not None and max_pairs_per_language_pair is not None:
        pairs = cap_per_language_pair(pairs, max_pairs_per_language_pair, rng, stats)
    if mode == "translation":
        if not pairs:
            raise InputError("translation mode needs translation pairs, and none were given (or all were dropped)")
        n = len(pairs)
        for p in pairs:
            stats.pairs_per_language_pair[p.langs] += 1
    elif mode in ("bilingual", "multilingual"):
        if instructions is None:
            raise InputError(f"{mode} mode needs instruction data (Bactrian-X layout)")
        n = len(instructions)
    else:
        raise ConfigError(f"unknown mode {mode!r}; choose from {list(MODES)}")
    order, stats.full_copies, stats.extra_items = repeat_indices(n, repeat, rng)
    if not order:
        raise ConfigError(
            f"repeat {repeat:g} on {n} items gives no samples (round({repeat:g} x {n}) = 0): use a larger repeat"
        )
    stats.items = n
    if shuffle:
        rng.shuffle(order)
    if max_samples is not None:
        order = order[:max_samples]
    if mode == "translation":
        samples = _translation_samples(pairs, order, rng, change_probability, templates)
    else:
        samples = _instruction_samples(
            mode, instructions, order, rng, cross_probability, change_probability, templates, pairs, stats
        )
        stats.add_drops("instructions", instructions.drops)
    stats.samples = len(samples)
    for s in samples:
        stats.directions[f"{s.prompt_lang}->{s.response_lang}"] += 1
        stats.contrastive[s.pair.langs] += 1
        stats.templates[s.template] += 1
    return samples, stats

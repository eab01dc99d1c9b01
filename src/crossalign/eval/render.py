"""Prompt rendering: template + item + words -> (context, continuation) strings -> token ids.

Template strings hold three kinds of slot:

* ``{field}`` / ``{field|filter|filter}``: an item field, passed through named filters
  (:data:`FILTERS`, e.g. ``lower_first``, ``before_blank``);
* ``{@word}``: a word in the prompt language (``eval/words.yaml``); ``$field`` inside the
  name is replaced by the item's value first (``{@connective_$question}``).

A template either shares one ``context`` across ``choices`` (each choice is a continuation)
or has one of ``contexts`` per choice and a shared ``continuation`` (XWinograd partial
scoring). A demonstration is the gold context + gold continuation; demonstrations are joined
by the template's separator and the query's context follows the last one.

Tokenization follows lm-evaluation-harness so that numbers agree with it: trailing
whitespace of the context moves to the continuation, context+continuation is encoded whole
(with the tokenizer's special tokens) and split after the tokens of the context alone; an
empty context becomes the BOS token (or EOS when there is none).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from crossalign.errors import ConfigError
from crossalign.eval.tasks import TaskSpec, Template
from crossalign.eval.words import word


def _detok(s: str) -> str:
    # lm-evaluation-harness' general_detokenize (PAWS-X): undo PTB-style spacing.
    s = s.replace(" n't", "n't").replace(" )", ")").replace("( ", "(").replace('" ', '"').replace(' "', '"')
    return re.sub(r" (['.,])", r"\1", s)


def _blank(s: str) -> int:
    if "_" not in s:
        raise ValueError(f"sentence has no blank '_': {s!r}")
    return s.index("_")


FILTERS: dict[str, Callable[[str], str]] = {
    "strip": str.strip,
    "lower_first": lambda s: s[:1].lower() + s[1:],
    "drop_last": lambda s: s[:-1],
    "drop_final_punct": lambda s: s[:-1] if s.endswith((".", ",", ";")) else s,
    "detok": _detok,
    "before_blank": lambda s: s[: _blank(s)],
    "after_blank": lambda s: s[_blank(s) + 1 :],
}
_SLOT = re.compile(r"\{([^{}]+)\}")


def fill(text: str, item: dict, words: Callable[[str], str]) -> str:
    def slot(m: re.Match) -> str:
        body = m.group(1)
        if body.startswith("@"):
            name = re.sub(r"\$(\w+)", lambda f: str(_field(item, f.group(1))), body[1:])
            return words(name)
        name, *filters = body.split("|")
        value = str(_field(item, name.strip()))
        for f in filters:
            f = f.strip()
            if f not in FILTERS:
                raise ConfigError(f"unknown template filter {f!r}; valid filters: {', '.join(FILTERS)}")
            value = FILTERS[f](value)
        return value

    return _SLOT.sub(slot, text)


def _field(item: dict, name: str):
    if name not in item:
        raise ConfigError(f"template field {name!r} is not in the item (fields: {', '.join(sorted(item))})")
    return item[name]


@dataclass
class Rendered:
    """One item's candidates: ``pairs[c] = (context, continuation)`` for choice ``c``."""

    pairs: list[tuple[str, str]]
    label: int

    @property
    def shared_context(self) -> bool:
        return len({c for c, _ in self.pairs}) == 1

    @property
    def gold(self) -> tuple[str, str]:
        """The gold choice's (context, continuation): a demonstration."""
        return self.pairs[self.label]

    def demo(self) -> str:
        context, continuation = self.gold
        return context + continuation


def render(spec: TaskSpec, template: str | None, item: dict, item_lang: str, prompt_lang: str) -> Rendered:
    """Fill the template for ``item`` (in ``item_lang``) with the words of ``prompt_lang``."""
    tpl: Template = spec.template(template, item_lang)
    words = lambda name: word(tpl.words, prompt_lang, name, task=spec.name)
    if tpl.choices is not None:
        context = fill(tpl.context or "", item, words)
        pairs = [(context, fill(c, item, words)) for c in tpl.choices]
    else:
        continuation = fill(tpl.continuation or "", item, words)
        pairs = [(fill(c, item, words), continuation) for c in tpl.contexts or []]
    label = int(item["label"])
    if not 0 <= label < len(pairs):
        raise ConfigError(
            f"task {spec.name}: item {item.get('id')} has label {label} but {len(pairs)} choices")
    return Rendered(pairs=pairs, label=label)


def prompt(demos: list[str], separator: str, context: str) -> str:
    return "".join(d + separator for d in demos) + context


def encode_pair(tokenizer, context: str, continuation: str, *,
                add_special_tokens: bool = True) -> tuple[list[int], list[int]]:
    """Token ids of (context, continuation) exactly as lm-evaluation-harness splits them.
    ``add_special_tokens=False`` for a context that already holds them (a rendered chat)."""
    if context == "":
        cont = tokenizer.encode(continuation, add_special_tokens=False)
        prefix = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        if prefix is None:
            raise ConfigError("an empty context needs a BOS or EOS token, and the tokenizer has neither")
        return ([prefix], cont) if not cont or cont[0] != prefix else (cont[:1], cont[1:])
    n = len(context) - len(context.rstrip())
    if n:
        context, continuation = context[:-n], context[-n:] + continuation
    whole = tokenizer.encode(context + continuation, add_special_tokens=add_special_tokens)
    ctx = tokenizer.encode(context, add_special_tokens=add_special_tokens)
    return ctx, whole[len(ctx) :]

"""ICL prompts through the tokenizer's chat template, for instruction-tuned models.

    crossalign evaluate --model.name_or_path HuggingFaceTB/SmolLM2-135M-Instruct --tasks xcopa_zh \\
        --apply-chat-template [--fewshot-as-multiturn] [--system-instruction "..."]

Off by default: base models see the plain prompt. On, the prompt is built the way
lm-evaluation-harness' ``--apply_chat_template`` builds it:

* one user message holding the plain prompt (demonstrations joined by the separator, then the
  query's context), or with ``fewshot_as_multiturn`` one user turn per demonstration's context
  and one assistant turn per its answer, then the query's context as the last user turn;
* an optional system message (``system_instruction``);
* rendered with ``add_generation_prompt=True``: each choice's continuation, without the
  whitespace that separates it from the context in the plain prompt (lm-eval's empty target
  delimiter under a chat template), is scored as the start of the assistant's reply.

A rendered chat usually begins with the BOS token's text; it is then encoded without adding
special tokens, so BOS is never doubled (lm-eval's rule).
"""

from __future__ import annotations

import hashlib

from crossalign.errors import ConfigError


def chat_template(tokenizer) -> str:
    """The tokenizer's chat template; a ConfigError when it has none (a base model)."""
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # named templates: the default one
        template = template.get("default")
    if not template:
        name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
        raise ConfigError(f"apply_chat_template: the tokenizer of {name} has no chat template (a base "
                          f"model?); drop --apply-chat-template, or use an instruction-tuned model's tokenizer")
    return template


def template_sha(template: str | None) -> str | None:
    return hashlib.sha256(template.encode("utf-8")).hexdigest() if template else None


def messages(demos: list[tuple[str, str]], context: str, *, separator: str, multiturn: bool,
             system: str | None = None) -> list[dict[str, str]]:
    """The chat for one prompt: ``demos`` are (context, gold continuation) pairs, ``context`` the
    query's context."""
    out = [{"role": "system", "content": system}] if system else []
    if multiturn:
        for ctx, answer in demos:
            out += [{"role": "user", "content": ctx}, {"role": "assistant", "content": answer.lstrip()}]
        out.append({"role": "user", "content": context})
    else:
        out.append({"role": "user", "content": "".join(c + a + separator for c, a in demos) + context})
    return out


def chat_prompt(tokenizer, demos: list[tuple[str, str]], context: str, *, separator: str, multiturn: bool,
                system: str | None = None) -> str:
    """The chat rendered as text, ending with the assistant's generation prompt."""
    chat = messages(demos, context, separator=separator, multiturn=multiturn, system=system)
    return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)


def starts_with_bos(tokenizer, text: str) -> bool:
    bos = getattr(tokenizer, "bos_token", None)
    return bool(bos) and text.startswith(bos)

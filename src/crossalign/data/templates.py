"""Prompt templates of the instruction samples, and how a template splits into prompt + response.

Defaults are the reference's (AFP, Li et al. 2024)::

    with input:     "{instruction} {input} Answer in {language}: {output}"
    without input:  "{instruction} Answer in {language}: {output}"
    translation:    "{src} Translate into {language}: {tgt}"  or  "{src} = {tgt}"  (one at random)

Placeholders: ``{language}`` (or ``{Language}``, as the paper writes it) is the English
name of the response language ("Chinese"), ``{lang}`` its code; translation templates also
know ``{src_language}``/``{src_lang}``.
The response placeholder (``{output}`` or ``{tgt}``) must end the template.

**Where the space goes.** The prompt is the rendered text before the response placeholder
with its trailing whitespace removed; that whitespace starts the response. So
``prompt + response`` is exactly the reference's full text, the loss is taken on
``" Der Hund"`` rather than ``"Der Hund"``, and tokenising prompt and response separately
gives the same word-initial tokens (``"▁Der"``) as tokenising the full text would.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from crossalign.errors import ConfigError
from crossalign.languages import name

INSTRUCTION_FIELDS = ("instruction", "input", "language", "Language", "lang", "output")
TRANSLATION_FIELDS = ("src", "tgt", "language", "Language", "lang", "src_language", "src_lang")


@dataclass
class Templates:
    with_input: str = field(
        default="{instruction} {input} Answer in {language}: {output}",
        metadata={"help": "Instruction sample with a non-empty input; ends with {output}."},
    )
    without_input: str = field(
        default="{instruction} Answer in {language}: {output}",
        metadata={"help": "Instruction sample without input; ends with {output}."},
    )
    translate: list[str] = field(
        default_factory=lambda: ["{src} Translate into {language}: {tgt}", "{src} = {tgt}"],
        metadata={"help": "Translation samples, one picked at random per sample; each ends with {tgt}."},
    )

    def validate(self) -> None:
        check_template(self.with_input, INSTRUCTION_FIELDS, "output", "templates.with_input")
        check_template(self.without_input, INSTRUCTION_FIELDS, "output", "templates.without_input")
        if not self.translate:
            raise ConfigError("templates.translate: give at least one template")
        for i, t in enumerate(self.translate):
            check_template(t, TRANSLATION_FIELDS, "tgt", f"templates.translate[{i}]")


def check_template(template: str, allowed: tuple[str, ...], response: str, where: str) -> None:
    """Raise a ConfigError naming ``where`` for unknown fields or a template not ending in the response."""
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ConfigError(f"{where}: not a valid template ({exc}): {template!r}") from None
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ConfigError(f"{where}: unknown placeholder(s) {unknown}; valid ones are {list(allowed)}")
    if not template.endswith("{" + response + "}") or names.count(response) != 1:
        raise ConfigError(f"{where}: must end with {{{response}}} (and use it once): {template!r}")


def render(template: str, values: dict[str, str], response: str) -> tuple[str, str]:
    """``(prompt, response)`` of ``template`` filled with ``values`` (the module docstring says why so)."""
    head = template[: -len(response) - 2]
    prompt = head.format_map(values)
    stripped = prompt.rstrip()
    return stripped, prompt[len(stripped):] + values[response]


def render_instruction(
    template: str, instruction: str, input_text: str, output: str, lang: str
) -> tuple[str, str]:
    values = {
        "instruction": instruction, "input": input_text, "output": output,
        "language": name(lang), "Language": name(lang), "lang": lang,
    }
    return render(template, values, "output")


def render_translation(template: str, src: str, tgt: str, src_lang: str, tgt_lang: str) -> tuple[str, str]:
    values = {
        "src": src, "tgt": tgt, "language": name(tgt_lang), "Language": name(tgt_lang), "lang": tgt_lang,
        "src_language": name(src_lang), "src_lang": src_lang,
    }
    return render(template, values, "tgt")

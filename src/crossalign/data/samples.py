"""The training sample: one JSON line of ``crossalign generate``'s output or of TRL's formats,
written and read here.

    rows = (Sample(pair, prompt, response, ...).to_dict() for ...)   # written by generate
    samples = read_samples("samples.jsonl")                            # read by train

Our own schema, one sample per line::

    {"pair": {"src_lang": "en", "tgt_lang": "zh", "src": "...", "tgt": "...",
              "hard_negative": "..." (optional)},
     "prompt": "... Answer in Chinese:", "response": " ...", ...}

``crossalign train`` also reads the instruction formats of TRL, with or without a ``pair``:

=================================  =================================================  =======================
format                             row                                                loss on
=================================  =================================================  =======================
standard prompt-completion         ``{"prompt": "The sky is", "completion": " blue."}``  the completion
conversational                     ``{"messages": [{"role": "user", "content": ...},     every assistant turn
                                   {"role": "assistant", "content": ...}]}``
conversational prompt-completion   ``{"prompt": [messages], "completion": [messages]}``  the completion's
                                                                                      assistant turns
=================================  =================================================  =======================

The instruction loss is on answers only, as TRL's ``completion_only_loss`` and
``assistant_only_loss``: what the model is asked is never a target. Conversations are rendered
by the tokenizer's chat template (``data.chat_template``, :mod:`crossalign.train.dataset`).
TRL's language-modeling rows (``{"text": ...}``) have no answer and are refused.

A sample may carry only the pair (contrastive only) or only an instruction part (LM only); a
sample without a pair adds nothing to the contrastive loss, one without an instruction part
nothing to the LM loss. Other keys (languages, mode, template, origin) are kept for people,
ignored by training. The field names live here and nowhere else. A malformed line is an
:class:`~crossalign.errors.InputError` naming ``file:line``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crossalign.data.pairs import Pair
from crossalign.errors import InputError
from crossalign.io import iter_jsonl

PAIR, SRC, TGT, HARD_NEGATIVE = "pair", "src", "tgt", "hard_negative"
PROMPT, RESPONSE = "prompt", "response"
COMPLETION, MESSAGES, TEXT = "completion", "messages", "text"  # TRL's column names
ROLE, CONTENT, ASSISTANT = "role", "content", "assistant"


@dataclass(frozen=True)
class Sample:
    pair: Pair  # contrastive pair
    prompt: str
    response: str
    prompt_lang: str
    response_lang: str
    mode: str
    template: str
    origin: str | None = None  # where the instruction sample's text came from

    def to_dict(self) -> dict:
        pair = {k: getattr(self.pair, k) for k in ("src_lang", "tgt_lang", SRC, TGT)}
        out = {
            PAIR: pair, PROMPT: self.prompt, RESPONSE: self.response,
            "prompt_lang": self.prompt_lang, "response_lang": self.response_lang,
            "mode": self.mode, "template": self.template,
        }
        if self.origin is not None:
            out["origin"] = self.origin
        return out


@dataclass(frozen=True)
class TrainSample:
    src: str | None  # contrastive pair (None when the sample has none)
    tgt: str | None
    hard_negative: str | None
    prompt: str | None  # instruction sample as text (None when the sample has none or is a conversation)
    response: str | None
    where: str  # file:line, for messages
    # instruction sample as a conversation: (role, content) turns, rendered by the chat template
    messages: tuple[tuple[str, str], ...] | None = None
    train_from: int = 0  # the assistant turns from this index on are trained (a completion: after the prompt)

    @property
    def has_instruction(self) -> bool:
        return self.prompt is not None or self.messages is not None


def _text(obj: dict, key: str, path: Path, line: int, required: bool) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InputError(f"field {key!r} must be a string, got {value!r}", path, line)
    if not value.strip() and key != PROMPT:
        raise InputError(f"field {key!r} is empty", path, line)
    return value


def _messages(value: object, key: str, path: Path, line: int) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not value:
        raise InputError(f"field {key!r} must be a non-empty list of {{'role', 'content'}} messages", path, line)
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict) or not isinstance(m.get(ROLE), str) or not m[ROLE].strip():
            raise InputError(f"{key}[{i}] must be an object with a string {ROLE!r} and {CONTENT!r}", path, line)
        if not isinstance(m.get(CONTENT), str):
            got = type(m.get(CONTENT)).__name__
            raise InputError(f"{key}[{i}].{CONTENT} must be a string (multimodal content is not read), got {got}",
                             path, line)
        if m[ROLE] == ASSISTANT and not m[CONTENT].strip():
            raise InputError(f"{key}[{i}] is an assistant turn with empty content", path, line)
        out.append((m[ROLE], m[CONTENT]))
    return out


def _conversation(obj: dict, path: Path, line: int) -> tuple[tuple[tuple[str, str], ...], int] | None:
    """``(turns, train_from)`` of a conversational row, or None when the row is not one."""
    if obj.get(MESSAGES) is not None:
        extra = [k for k in (PROMPT, RESPONSE, COMPLETION) if obj.get(k) is not None]
        if extra:
            raise InputError(f"field {MESSAGES!r} and {extra}: give a conversation or a prompt, not both", path, line)
        turns, start = _messages(obj[MESSAGES], MESSAGES, path, line), 0
    elif isinstance(obj.get(PROMPT), list) or isinstance(obj.get(COMPLETION), list):
        if not (isinstance(obj.get(PROMPT), list) and isinstance(obj.get(COMPLETION), list)):
            raise InputError(f"a conversational {PROMPT!r} needs a conversational {COMPLETION!r} (both lists of "
                             f"messages), or both must be strings", path, line)
        prompt = _messages(obj[PROMPT], PROMPT, path, line)
        turns, start = prompt + _messages(obj[COMPLETION], COMPLETION, path, line), len(prompt)
    else:
        return None
    if not any(role == ASSISTANT for role, _ in turns[start:]):
        what = f"field {COMPLETION!r}" if start else "the conversation"
        raise InputError(f"{what} has no {ASSISTANT!r} turn: there is no answer to train on", path, line)
    return tuple(turns), start


def parse_sample(obj: object, path: Path, line: int) -> TrainSample:
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object, got {type(obj).__name__}", path, line)
    src = tgt = neg = None
    if obj.get(PAIR) is not None:
        pair = obj[PAIR]
        if not isinstance(pair, dict):
            raise InputError(f"field {PAIR!r} must be an object with {SRC!r} and {TGT!r}", path, line)
        src = _text(pair, SRC, path, line, True)
        tgt = _text(pair, TGT, path, line, True)
        neg = _text(pair, HARD_NEGATIVE, path, line, False)
    where = f"{path}:{line}"
    conversation = _conversation(obj, path, line)
    if conversation is not None:
        return TrainSample(src, tgt, neg, None, None, where, *conversation)
    if obj.get(COMPLETION) is not None and obj.get(RESPONSE) is not None:
        raise InputError(f"fields {RESPONSE!r} and {COMPLETION!r}: give one answer", path, line)
    answer = COMPLETION if obj.get(COMPLETION) is not None else RESPONSE
    prompt = _text(obj, PROMPT, path, line, False)
    response = _text(obj, answer, path, line, prompt is not None)
    if prompt is None and response is not None:
        raise InputError(f"field {answer!r} without {PROMPT!r}", path, line)
    if src is None and prompt is None:
        if obj.get(TEXT) is not None:
            raise InputError(
                f"field {TEXT!r} (TRL language modeling) has no answer to train on: give {PROMPT!r} + "
                f"{COMPLETION!r}, or {MESSAGES!r} with assistant turns", path, line)
        raise InputError(f"a sample needs {PAIR!r} and/or {PROMPT!r} + {RESPONSE!r} (or TRL's {PROMPT!r} + "
                         f"{COMPLETION!r}, or {MESSAGES!r})", path, line)
    return TrainSample(src, tgt, neg, prompt, response, where)


def read_samples(path: str | Path, max_samples: int | None = None) -> list[TrainSample]:
    """All samples of ``path`` in file order (the first ``max_samples`` if given)."""
    path = Path(path)
    if not str(path) or not path.is_file():
        raise InputError("training file not found (data.train_file)", path)
    samples: list[TrainSample] = []
    for line_no, obj in iter_jsonl(path):
        if max_samples is not None and len(samples) >= max_samples:
            break
        samples.append(parse_sample(obj, path, line_no))
    if not samples:
        raise InputError("the training file holds no samples", path)
    return samples

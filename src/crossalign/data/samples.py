"""The training sample: one JSON line of ``crossalign generate``'s output, written and read here.

    rows = (Sample(pair, prompt, response, ...).to_dict() for ...)   # written by generate
    samples = read_samples("samples.jsonl")                            # read by train

One sample per line::

    {"pair": {"src_lang": "en", "tgt_lang": "zh", "src": "...", "tgt": "...",
              "hard_negative": "..." (optional)},
     "prompt": "... Answer in Chinese:", "response": " ...", ...}

A sample may carry only the pair (contrastive only) or only prompt and response (LM
only); other keys (languages, mode, template, origin) are kept for people, ignored by training.
The field names live here and nowhere else. A malformed
line is an :class:`~crossalign.errors.InputError` naming ``file:line``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crossalign.data.pairs import Pair
from crossalign.errors import InputError
from crossalign.io import iter_jsonl

PAIR, SRC, TGT, HARD_NEGATIVE = "pair", "src", "tgt", "hard_negative"
PROMPT, RESPONSE = "prompt", "response"


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
    prompt: str | None  # instruction sample (None when the sample has none)
    response: str | None
    where: str  # file:line, for messages


def _text(obj: dict, key: str, path: Path, line: int, required: bool) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InputError(f"field {key!r} must be a string, got {value!r}", path, line)
    if not value.strip() and key != PROMPT:
        raise InputError(f"field {key!r} is empty", path, line)
    return value


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
    prompt = _text(obj, PROMPT, path, line, False)
    response = _text(obj, RESPONSE, path, line, prompt is not None)
    if prompt is None and response is not None:
        raise InputError(f"field {RESPONSE!r} without {PROMPT!r}", path, line)
    if src is None and prompt is None:
        raise InputError(f"a sample needs {PAIR!r} and/or {PROMPT!r} + {RESPONSE!r}", path, line)
    return TrainSample(src, tgt, neg, prompt, response, f"{path}:{line}")


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

"""Tokenising training samples once, before training: pairs for the contrastive pass and
prompt/response sequences with labels for the LM loss.

    data, counts = tokenize_samples(tokenizer, samples, clm_max_length=512, chat_template=False)

Each item is a dict of token-id lists: ``src``/``tgt`` (+ ``neg``) with their special-token
masks, and ``clm_ids``/``clm_labels`` where ``clm_labels`` is -100 on the prompt and the
token id on the response. The prompt is tokenised with the tokenizer's leading special
tokens (BOS), the response without, so the split is exact. Over-long samples are handled
as configured and *counted* (``counts``): a prompt is cut from the left after its leading
special tokens; a sample whose response alone does not fit, or that would keep no label,
is dropped from the LM loss (its pair is still used): nothing is trained on zero labels.

With ``chat_template`` (for instruction-tuned models), text samples become a user turn (the
prompt) and an assistant turn (the response); conversations (TRL's ``messages``) always go
through the template. The template's text is cut into what comes before each trained
assistant turn (the template rendered up to it, with the generation prompt) and the turn
itself (up to the next turn), each tokenised without added special tokens, as the model
sees a prompt and then generates: labels cover the answers and the template's end-of-turn
text, never the prompt or the turn headers, and no EOS is appended (the template ends the
turn). A template that does not render a conversation turn by turn (its text up to an
answer is not a prefix of the whole) is refused, naming the sample.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from torch.utils.data import Dataset

from crossalign.data.samples import ASSISTANT, TrainSample
from crossalign.errors import ConfigError, InputError

IGNORE = -100


class TokenizedDataset(Dataset):
    def __init__(self, items: list[dict]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


def _tokenize(tokenizer, texts: list[str], special: bool) -> tuple[list[list[int]], list[list[int]]]:
    if not texts:
        return [], []
    enc = tokenizer(texts, add_special_tokens=special, return_special_tokens_mask=True)
    return enc["input_ids"], enc["special_tokens_mask"]


def _leading_specials(mask: list[int]) -> int:
    n = 0
    while n < len(mask) and mask[n]:
        n += 1
    return n


def _clm_item(prompt, lead, response, max_length, truncation, counts, prompt_labels=None) -> tuple[list, list] | None:
    """``prompt`` (``lead`` leading special tokens, ``prompt_labels``: its trained positions, earlier
    answers of a conversation) + ``response`` (all trained) -> ids and labels, cut to ``max_length``."""
    prompt_labels = [IGNORE] * len(prompt) if prompt_labels is None else list(prompt_labels)
    if len(prompt) + len(response) > max_length:
        if truncation == "skip":
            counts["clm_skipped_too_long"] += 1
            return None
        room = max_length - len(response) - lead
        if room < 1:
            counts["clm_skipped_response_too_long"] += 1
            return None
        prompt = prompt[:lead] + prompt[lead:][-room:]
        prompt_labels = prompt_labels[:lead] + prompt_labels[lead:][-room:]
        counts["clm_prompt_truncated"] += 1
    ids = prompt + response
    labels = prompt_labels + list(response)
    labels[0] = IGNORE  # the first token is never predicted (and never by the previous packed sample)
    if all(x == IGNORE for x in labels):
        counts["clm_skipped_no_labels"] += 1
        return None
    return ids, labels


def _text_prompt(prompt, prompt_special) -> tuple[list[int], int]:
    """A text prompt without trailing special tokens, and its number of leading ones."""
    lead = _leading_specials(prompt_special)
    # Keep only leading specials: a tokenizer that also appends EOS to every text would
    # otherwise put an EOS between the prompt and its response.
    trail = len(prompt)
    while trail > lead and prompt_special[trail - 1]:
        trail -= 1
    return prompt[:trail], lead


def check_chat_template(tokenizer, samples: Sequence[TrainSample], chat_template: bool) -> None:
    """Refuse, before any model loads, what the tokenizer cannot render: ``data.chat_template`` with a
    tokenizer that has no template, and a conversation (TRL ``messages``) without ``data.chat_template``."""
    if not chat_template:
        first = next((s for s in samples if s.messages is not None), None)
        if first is not None:
            raise InputError("this sample is a conversation (a list of messages): it is rendered by the tokenizer's "
                             "chat template; turn on data.chat_template (--data.chat_template; an instruction-tuned "
                             "model)", first.where)
    elif not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            "data.chat_template is on but the tokenizer has no chat template (a base model?): set "
            "data.chat_template false, or use a model (or tokenizer) that ships one"
        )


def _render(tokenizer, turns, where: str, generation_prompt: bool) -> str:
    try:
        return tokenizer.apply_chat_template([{"role": r, "content": c} for r, c in turns], tokenize=False,
                                             add_generation_prompt=generation_prompt)
    except Exception as exc:  # the template's own checks (jinja raise_exception: roles must alternate...)
        raise InputError(f"the tokenizer's chat template cannot render this conversation: {exc}", where) from None


def chat_segments(tokenizer, turns, train_from: int, where: str) -> list[tuple[str, bool]]:
    """The template's text of a conversation as ``(text, trained)`` pieces ending with the last trained
    answer: before each assistant turn from ``train_from`` on, the template rendered up to it with the
    generation prompt (not trained); the turn, up to where the next one starts (trained)."""
    full = _render(tokenizer, turns, where, False)
    pieces: list[tuple[str, bool]] = []
    done = 0
    for i, (role, _) in enumerate(turns):
        if role != ASSISTANT or i < train_from:
            continue
        before = _render(tokenizer, turns[:i], where, True)
        upto = _render(tokenizer, turns[: i + 1], where, False)
        if not (len(before) >= done and upto.startswith(before) and full.startswith(upto)) or len(upto) == len(before):
            raise InputError(
                "the tokenizer's chat template does not render this conversation turn by turn (the text up to "
                f"answer {i} is not a prefix of the whole, e.g. it rewrites earlier turns): cannot tell which tokens "
                "are the answer", where)
        pieces += [(full[done:len(before)], False), (full[len(before):len(upto)], True)]
        done = len(upto)
    return pieces


def tokenize_samples(
    tokenizer,
    samples: Sequence[TrainSample],
    clm_max_length: int = 512,
    truncation: str = "left",
    add_eos: bool = True,
    pair_max_length: int = 128,
    use_pairs: bool = True,
    use_clm: bool = True,
    hard_negatives: bool = False,
    chat_template: bool = False,
) -> tuple[TokenizedDataset, Counter]:
    if truncation not in ("left", "skip"):
        raise ValueError(f"unknown truncation {truncation!r}; choose from ['left', 'skip']")
    counts: Counter = Counter()
    with_pair = [i for i, s in enumerate(samples) if use_pairs and s.src is not None]
    with_clm = [i for i, s in enumerate(samples) if use_clm and s.has_instruction]
    if with_clm:
        check_chat_template(tokenizer, [samples[i] for i in with_clm], chat_template)
    with_text = [] if chat_template else with_clm
    with_chat = with_clm if chat_template else []
    src, src_sp = _tokenize(tokenizer, [samples[i].src for i in with_pair], True)
    tgt, tgt_sp = _tokenize(tokenizer, [samples[i].tgt for i in with_pair], True)
    with_neg = [i for i in with_pair if hard_negatives and samples[i].hard_negative is not None]
    neg, neg_sp = _tokenize(tokenizer, [samples[i].hard_negative for i in with_neg], True)
    prompts, prompts_sp = _tokenize(tokenizer, [samples[i].prompt for i in with_text], True)
    responses, _ = _tokenize(tokenizer, [samples[i].response for i in with_text], False)
    eos = tokenizer.eos_token_id if add_eos else None

    items: list[dict] = [{} for _ in samples]

    def cut(ids, sp):
        if len(ids) > pair_max_length:
            counts["pair_sentences_truncated"] += 1
            return ids[:pair_max_length], sp[:pair_max_length]
        return ids, sp

    for k, i in enumerate(with_pair):
        items[i]["src"], items[i]["src_special"] = cut(src[k], src_sp[k])
        items[i]["tgt"], items[i]["tgt_special"] = cut(tgt[k], tgt_sp[k])
    for k, i in enumerate(with_neg):
        items[i]["neg"], items[i]["neg_special"] = cut(neg[k], neg_sp[k])
    for k, i in enumerate(with_text):
        response = list(responses[k]) + ([eos] if eos is not None else [])
        prompt, lead = _text_prompt(prompts[k], prompts_sp[k])
        out = _clm_item(prompt, lead, response, clm_max_length, truncation, counts)
        if out is not None:
            items[i]["clm_ids"], items[i]["clm_labels"] = out
    for i, out in zip(with_chat, _chat_items(tokenizer, [samples[i] for i in with_chat], clm_max_length,
                                             truncation, counts), strict=True):
        if out is not None:
            items[i]["clm_ids"], items[i]["clm_labels"] = out
    kept = [item for item in items if item]
    counts["samples"] = len(kept)
    counts["pairs"] = sum("src" in item for item in kept)
    counts["clm_sequences"] = sum("clm_ids" in item for item in kept)
    if hard_negatives:
        counts["hard_negatives"] = len(with_neg)
    if with_chat:
        counts["clm_chat_template"] = len(with_chat)
    return TokenizedDataset(kept), counts


def _chat_items(tokenizer, samples: Sequence[TrainSample], max_length, truncation, counts) -> list:
    """Ids and labels (or None: dropped, counted) of each sample rendered by the chat template."""
    pieces = []
    for s in samples:
        if s.messages is not None:
            turns, start = s.messages, s.train_from
        else:  # a text sample: the prompt asks, the response answers (spaces were for plain concatenation)
            turns, start = (("user", s.prompt.strip()), (ASSISTANT, s.response.strip())), 0
        pieces.append(chat_segments(tokenizer, turns, start, s.where))
    flat, _ = _tokenize(tokenizer, [text for p in pieces for text, _ in p], False)
    specials = set(tokenizer.all_special_ids)
    out, k = [], 0
    for p in pieces:
        ids: list[int] = []
        labels: list[int] = []
        for _, trained in p:
            ids += flat[k]
            labels += flat[k] if trained else [IGNORE] * len(flat[k])
            k += 1
        n = len(flat[k - 1])  # the last answer is the "response" that must fit
        prompt, response, prompt_labels = ids[: len(ids) - n], ids[len(ids) - n :], labels[: len(ids) - n]
        lead = _leading_specials([int(t in specials) for t in prompt])
        out.append(_clm_item(prompt, lead, response, max_length, truncation, counts, prompt_labels))
    return out

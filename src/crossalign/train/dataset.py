"""Tokenising training samples once, before training: pairs for the contrastive pass and
prompt/response sequences with labels for the LM loss.

    data, counts = tokenize_samples(tokenizer, samples, clm_max_length=512)

Each item is a dict of token-id lists: ``src``/``tgt`` (+ ``neg``) with their special-token
masks, and ``clm_ids``/``clm_labels`` where ``clm_labels`` is -100 on the prompt and the
token id on the response. The prompt is tokenised with the tokenizer's leading special
tokens (BOS), the response without, so the split is exact. Over-long samples are handled
as configured and *counted* (``counts``): a prompt is cut from the left after its leading
special tokens; a sample whose response alone does not fit, or that would keep no label,
is dropped from the LM loss (its pair is still used): nothing is trained on zero labels.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from torch.utils.data import Dataset

from crossalign.data.samples import TrainSample

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


def _clm_item(prompt, prompt_special, response, max_length, truncation, counts) -> tuple[list, list] | None:
    lead = _leading_specials(prompt_special)
    # Keep only leading specials: a tokenizer that also appends EOS to every text would
    # otherwise put an EOS between the prompt and its response.
    trail = len(prompt)
    while trail > lead and prompt_special[trail - 1]:
        trail -= 1
    prompt = prompt[:trail]
    if len(prompt) + len(response) > max_length:
        if truncation == "skip":
            counts["clm_skipped_too_long"] += 1
            return None
        room = max_length - len(response) - lead
        if room < 1:
            counts["clm_skipped_response_too_long"] += 1
            return None
        prompt = prompt[:lead] + prompt[lead:][-room:]
        counts["clm_prompt_truncated"] += 1
    ids = prompt + response
    labels = [IGNORE] * len(prompt) + list(response)
    labels[0] = IGNORE  # the first token is never predicted (and never by the previous packed sample)
    if all(x == IGNORE for x in labels):
        counts["clm_skipped_no_labels"] += 1
        return None
    return ids, labels


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
) -> tuple[TokenizedDataset, Counter]:
    if truncation not in ("left", "skip"):
        raise ValueError(f"unknown truncation {truncation!r}; choose from ['left', 'skip']")
    counts: Counter = Counter()
    with_pair = [i for i, s in enumerate(samples) if use_pairs and s.src is not None]
    with_clm = [i for i, s in enumerate(samples) if use_clm and s.prompt is not None]
    src, src_sp = _tokenize(tokenizer, [samples[i].src for i in with_pair], True)
    tgt, tgt_sp = _tokenize(tokenizer, [samples[i].tgt for i in with_pair], True)
    with_neg = [i for i in with_pair if hard_negatives and samples[i].hard_negative is not None]
    neg, neg_sp = _tokenize(tokenizer, [samples[i].hard_negative for i in with_neg], True)
    prompts, prompts_sp = _tokenize(tokenizer, [samples[i].prompt for i in with_clm], True)
    responses, _ = _tokenize(tokenizer, [samples[i].response for i in with_clm], False)
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
    for k, i in enumerate(with_clm):
        response = list(responses[k]) + ([eos] if eos is not None else [])
        out = _clm_item(prompts[k], prompts_sp[k], response, clm_max_length, truncation, counts)
        if out is not None:
            items[i]["clm_ids"], items[i]["clm_labels"] = out
    kept = [item for item in items if item]
    counts["samples"] = len(kept)
    counts["pairs"] = sum("src" in item for item in kept)
    counts["clm_sequences"] = sum("clm_ids" in item for item in kept)
    if hard_negatives:
        counts["hard_negatives"] = len(with_neg)
    return TokenizedDataset(kept), counts

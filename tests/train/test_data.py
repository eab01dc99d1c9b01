"""Reading generated samples, tokenising them (truncation, labels) and collating batches."""

from __future__ import annotations

import json

import pytest
import torch

from crossalign.data.collate import AlignmentCollator
from crossalign.data.samples import TrainSample, read_samples
from crossalign.errors import InputError
from crossalign.train.dataset import IGNORE, tokenize_samples


def test_reader_reads_generated_shape(samples_file):
    samples = read_samples(samples_file)
    assert len(samples) == 16
    assert samples[0].src == "The cat sits on the mat." and samples[0].response.startswith(" ")
    assert samples[3].where.endswith("samples.jsonl:4")


@pytest.mark.parametrize(
    "line,message",
    [
        ("{not json", "not valid JSON"),
        ('{"pair": {"src": "a"}, "prompt": "p", "response": " r"}', "'tgt'"),
        ('{"pair": {"src": "a", "tgt": ""}}', "'tgt' is empty"),
        ('{"prompt": "p"}', "'response'"),
        ('{"other": 1}', "needs 'pair'"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_reader_errors_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"pair": {"src": "a", "tgt": "b"}, "prompt": "p", "response": " r"})
    path.write_text(good + "\n\n" + line + "\n")
    with pytest.raises(InputError, match=message) as err:
        read_samples(path)
    assert str(err.value).startswith(f"{path}:3:")


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match="no samples"):
        read_samples(tmp_path / "empty.jsonl")
    with pytest.raises(InputError, match="not found"):
        read_samples(tmp_path / "missing.jsonl")


def test_labels_cover_the_response_and_eos(right_tokenizer):
    tok = right_tokenizer
    s = TrainSample(None, None, None, "Translate into French:", " bonjour", "x:1")
    data, _ = tokenize_samples(tok, [s], clm_max_length=64)
    item = data[0]
    prompt = tok("Translate into French:")["input_ids"]
    response = tok(" bonjour", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    assert item["clm_ids"] == prompt + response
    assert item["clm_labels"] == [IGNORE] * len(prompt) + response
    assert "src" not in item


def test_truncation_left_skip_and_counts(right_tokenizer):
    tok = right_tokenizer
    long_prompt = "The cat sits on the mat. " * 6
    s = TrainSample("a", "b", None, long_prompt, " Ich mag grünen Tee.", "x:1")
    response = tok(" Ich mag grünen Tee.", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    data, counts = tokenize_samples(tok, [s], clm_max_length=20, truncation="left")
    item = data[0]
    assert len(item["clm_ids"]) == 20 and counts["clm_prompt_truncated"] == 1
    assert item["clm_ids"][0] == tok.bos_token_id  # the leading special token is kept
    assert item["clm_ids"][-len(response) :] == response
    assert sum(x != IGNORE for x in item["clm_labels"]) == len(response)
    data, counts = tokenize_samples(tok, [s], clm_max_length=20, truncation="skip")
    assert counts["clm_skipped_too_long"] == 1 and "clm_ids" not in data[0] and "src" in data[0]
    data, counts = tokenize_samples(tok, [s], clm_max_length=len(response), truncation="left")
    assert counts["clm_skipped_response_too_long"] == 1  # never trained on zero labels


@pytest.mark.parametrize("side", ["left", "right"])
def test_collate_padding_and_packing(side, make_items):
    from crossalign.testing import tiny_tokenizer

    tok = tiny_tokenizer(padding_side=side)
    items = make_items(tok)
    batch = AlignmentCollator(tok.pad_token_id, side, "padding")(items)
    n = len(items)
    assert batch["cl_input_ids"].shape[0] == 2 * n and int(batch["num_pairs"]) == n
    lengths = batch["cl_attention_mask"].sum(1).tolist()
    assert lengths == [len(it["src"]) for it in items] + [len(it["tgt"]) for it in items]
    col = 0 if side == "left" else -1
    shortest = min(range(2 * n), key=lambda i: lengths[i])
    assert batch["cl_attention_mask"][shortest, col] == 0  # padding is on the tokenizer's side
    assert (batch["cl_pool_mask"] <= batch["cl_attention_mask"]).all()
    assert batch["cl_pool_mask"].sum() == batch["cl_attention_mask"].sum() - 2 * n  # BOS left out
    assert int(batch["num_targets"]) == int((batch["clm_labels"] != IGNORE).sum())
    packed = AlignmentCollator(tok.pad_token_id, side, "packing")(items)
    assert packed["clm_lengths"].tolist() == [len(it["clm_ids"]) for it in items]
    assert torch.equal(packed["clm_labels"][0], torch.tensor([x for it in items for x in it["clm_labels"]]))

"""Reading generated samples, tokenising them (truncation, labels) and collating batches."""

from __future__ import annotations

import json

import pytest
import torch

# imported at collection, before any test patches crossalign.model.load (a module imported while it is
# patched would keep the patched function)
import crossalign.train.wiring as wiring
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


# ---------------------------------------------------------------- TRL formats and chat templates

# A chat template in the style of Zephyr/ChatML, built here for the tiny tokenizer: the end of a
# turn is its EOS, the generation prompt is the assistant header.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}{{ eos_token }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@pytest.fixture(scope="module")
def chat_tokenizer():
    from crossalign.testing import tiny_tokenizer

    tok = tiny_tokenizer()
    tok.chat_template = CHAT_TEMPLATE
    return tok


def _msgs(*turns):
    return [{"role": r, "content": c} for r, c in turns]


def _ddtp(shared_data, n):
    """The first ``n`` short English-German pairs of the Debian descriptions (the tiny model has 256 positions)."""
    lines = (shared_data / "parallel" / "ddtp.en-de.tsv").read_text(encoding="utf-8").splitlines()
    return [tuple(x.split("\t")) for x in lines if len(x) < 100][:n]


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _trained(tok, item):
    return tok.decode([t for t in item["clm_labels"] if t != IGNORE])


def test_trl_formats_are_read_beside_our_own(tmp_path, shared_data):
    (en, de), (en2, de2) = _ddtp(shared_data, 2)
    pair = {"src_lang": "en", "tgt_lang": "de", "src": en, "tgt": de}
    rows = [
        {"pair": pair, "prompt": f"{en2} Answer in German:", "response": f" {de2}"},  # ours
        {"prompt": f"{en} =", "completion": f" {de}"},  # TRL standard prompt-completion, no pair
        {"pair": pair, "messages": _msgs(("system", "Translate."), ("user", en), ("assistant", de))},
        {"prompt": _msgs(("user", en), ("assistant", de), ("user", en2)), "completion": _msgs(("assistant", de2))},
    ]
    s = read_samples(_write(tmp_path / "trl.jsonl", rows))
    assert (s[0].src, s[0].prompt, s[0].response, s[0].messages) == (en, f"{en2} Answer in German:", f" {de2}", None)
    assert (s[1].src, s[1].prompt, s[1].response) == (None, f"{en} =", f" {de}")
    assert s[2].src == en and s[2].prompt is None and s[2].train_from == 0
    assert s[2].messages == (("system", "Translate."), ("user", en), ("assistant", de))
    assert s[3].src is None and s[3].train_from == 3 and s[3].messages[3] == ("assistant", de2)
    assert all(x.has_instruction for x in s)


@pytest.mark.parametrize(
    "row,message",
    [
        ({"text": "The sky is blue."}, "'text' .TRL language modeling. has no answer"),
        ({"messages": []}, "'messages' must be a non-empty list"),
        ({"messages": [{"role": "user", "content": "Hi"}]}, "no 'assistant' turn"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}, "must be a string"),
        ({"messages": [{"content": "Hi"}]}, r"messages\[0\] must be an object with a string 'role'"),
        ({"messages": [{"role": "assistant", "content": " "}]}, "assistant turn with empty content"),
        ({"messages": _msgs(("user", "a"), ("assistant", "b")), "prompt": "p"}, "not both"),
        ({"prompt": _msgs(("user", "a")), "completion": "b"}, "needs a conversational 'completion'"),
        ({"prompt": _msgs(("user", "a")), "completion": _msgs(("user", "b"))}, "'completion' has no 'assistant'"),
        ({"prompt": "p", "response": " r", "completion": " c"}, "give one answer"),
        ({"prompt": "p", "completion": " "}, "'completion' is empty"),
        ({"completion": " c"}, "'completion' without 'prompt'"),
    ],
)
def test_bad_trl_rows_name_file_and_line(tmp_path, row, message):
    path = _write(tmp_path / "bad.jsonl", [{"prompt": "p", "completion": " c"}, row])
    with pytest.raises(InputError, match=message) as err:
        read_samples(path)
    assert str(err.value).startswith(f"{path}:2:")


def test_completion_is_trained_like_a_response(right_tokenizer):
    tok = right_tokenizer
    ours = TrainSample(None, None, None, "The sky is", " blue.", "x:1")
    trl = read_samples_row({"prompt": "The sky is", "completion": " blue."})
    (a,), (b,) = (tokenize_samples(tok, [x], clm_max_length=64)[0] for x in (ours, trl))
    assert a == b and _trained(tok, a) == " blue.</s>"


def read_samples_row(row):
    from pathlib import Path

    from crossalign.data.samples import parse_sample

    return parse_sample(row, Path("x.jsonl"), 1)


def test_chat_template_labels_cover_only_the_answers(chat_tokenizer):
    tok = chat_tokenizer
    text = TrainSample("a", "b", None, "Translate into French:", " bonjour", "x:1")
    chat = read_samples_row({"messages": _msgs(("user", "Hi"), ("assistant", "Hello"), ("user", "Bye"),
                                               ("assistant", "Goodbye"))})
    completion = read_samples_row({"prompt": _msgs(("user", "Hi"), ("assistant", "Hello"), ("user", "Bye")),
                                   "completion": _msgs(("assistant", "Goodbye"))})
    data, counts = tokenize_samples(tok, [text, chat, completion], clm_max_length=128, chat_template=True)
    assert counts["clm_chat_template"] == 3 and counts["clm_sequences"] == 3
    full = tok.apply_chat_template(_msgs(("user", "Translate into French:"), ("assistant", "bonjour")),
                                   tokenize=False)
    assert tok.decode(data[0]["clm_ids"]) == full  # the template's text, token for token
    assert data[0]["clm_ids"][0] == tok.bos_token_id and data[0]["clm_ids"].count(tok.bos_token_id) == 1
    assert _trained(tok, data[0]) == "bonjour</s>\n"  # the answer and the template's end of turn; no extra EOS
    assert _trained(tok, data[1]) == "Hello</s>\nGoodbye</s>\n"  # every assistant turn (assistant_only_loss)
    assert _trained(tok, data[2]) == "Goodbye</s>\n"  # the completion only (completion_only_loss)
    assert "src" in data[0] and "src" not in data[1]


def test_chat_template_truncates_the_prompt_and_keeps_the_answer(chat_tokenizer):
    tok = chat_tokenizer
    s = TrainSample(None, None, None, "The cat sits on the mat. " * 6, " Ich mag grünen Tee.", "x:1")
    (whole,), _ = tokenize_samples(tok, [s], clm_max_length=256, chat_template=True)
    (item,), counts = tokenize_samples(tok, [s], clm_max_length=30, chat_template=True)
    assert counts["clm_prompt_truncated"] == 1 and len(item["clm_ids"]) == 30 < len(whole["clm_ids"])
    assert item["clm_ids"][0] == tok.bos_token_id
    assert _trained(tok, item) == _trained(tok, whole) == "Ich mag grünen Tee.</s>\n"


def test_chat_template_refusals(chat_tokenizer, right_tokenizer):
    from crossalign.errors import ConfigError
    from crossalign.train.dataset import check_chat_template

    chat = read_samples_row({"messages": _msgs(("user", "Hi"), ("assistant", "Hello"))})
    text = TrainSample(None, None, None, "p", " r", "x:1")
    with pytest.raises(InputError, match=r"^x\.jsonl:1: .*turn on data\.chat_template"):
        tokenize_samples(chat_tokenizer, [text, chat])
    with pytest.raises(ConfigError, match="tokenizer has no chat template"):
        check_chat_template(right_tokenizer, [text], True)
    check_chat_template(right_tokenizer, [text], False)  # base model, text samples: nothing to refuse
    check_chat_template(chat_tokenizer, [chat], True)
    # A template that drops earlier answers (as reasoning templates do) cannot be cut turn by turn.
    from crossalign.testing import tiny_tokenizer

    lossy = tiny_tokenizer()
    lossy.chat_template = (
        "{% for m in messages %}{% if m.role != 'assistant' or loop.last %}<|{{ m.role }}|>{{ m.content }}\n"
        "{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    two = read_samples_row({"messages": _msgs(("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d"))})
    with pytest.raises(InputError, match=r"x\.jsonl:1: .*not render this conversation turn by turn"):
        tokenize_samples(lossy, [two], chat_template=True)


def test_samples_without_pairs_train_only_the_lm_loss(tmp_path, chat_tokenizer, shared_data):
    """TRL rows from real DDTP pairs, half with a pair: the contrastive term counts only those, the LM
    term every answer token, and one optimizer step changes every parameter."""
    from transformers import TrainingArguments

    from crossalign.model.alignment import AlignmentModel
    from crossalign.testing import tiny_model
    from crossalign.train.trainer import AlignmentTrainer

    tok = chat_tokenizer
    rows = []
    for i, (en, de) in enumerate(_ddtp(shared_data, 8)):
        row = {"prompt": _msgs(("user", f"Translate into German: {en}")), "completion": _msgs(("assistant", de))}
        if i % 2 == 0:
            row["pair"] = {"src": en, "tgt": de}
        rows.append(row)
    data, counts = tokenize_samples(tok, read_samples(_write(tmp_path / "trl.jsonl", rows)), clm_max_length=128,
                                    chat_template=True)
    assert (counts["pairs"], counts["clm_sequences"]) == (4, 8)
    batch = AlignmentCollator(tok.pad_token_id, "right", "packing")([data[i] for i in range(8)])
    answers = sum(len(tok(de + tok.eos_token + "\n", add_special_tokens=False)["input_ids"])
                  for _, de in _ddtp(shared_data, 8))
    assert int(batch["num_pairs"]) == 4 and int(batch["num_targets"]) == answers
    module = AlignmentModel(tiny_model("llama", tok), layer=2, packing="position_ids")
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    args = TrainingArguments(output_dir=str(tmp_path / "out"), optim="sgd", learning_rate=1.0, max_steps=1,
                             per_device_train_batch_size=8, report_to="none", remove_unused_columns=False,
                             save_strategy="no", logging_steps=1, dataloader_pin_memory=False, max_grad_norm=0)
    trainer = AlignmentTrainer(model=module, args=args, train_dataset=data,
                               data_collator=AlignmentCollator(tok.pad_token_id, "right", "packing"),
                               weights={"cl": 1.0, "clm": 1.5})
    trainer.train()
    assert {"loss/cl", "loss/clm"} <= set(trainer.state.log_history[0])
    for name, p in module.named_parameters():
        assert not torch.equal(p, before[name]), name


def test_train_reads_trl_prompt_completion_and_refuses_bad_rows_before_the_model(
    tiny_checkpoints, tmp_path, shared_data, capsys, monkeypatch
):
    from crossalign.cli import main as cli_main

    rows = [{"prompt": f"{en} Answer in German:", "completion": f" {de}"} for en, de in _ddtp(shared_data, 6)]
    for row, (en, de) in zip(rows[::2], _ddtp(shared_data, 6)[::2], strict=True):
        row["pair"] = {"src": en, "tgt": de}
    good = _write(tmp_path / "trl.jsonl", rows)
    argv = ["train", "--model.name_or_path", str(tiny_checkpoints["llama"]), "--data.train_file", str(good),
            "--training.output_dir", str(tmp_path / "o"), "--training.report_to", "none", "--clm.max_length", "128",
            "--contrastive.layer", "2", "--training.max_steps", "2", "--training.per_device_train_batch_size", "4"]
    assert cli_main(argv) == 0
    err = capsys.readouterr()
    assert "clm_sequences 6" in err.out + err.err and "pairs 3" in err.out + err.err
    assert (tmp_path / "o" / "model" / "model.safetensors").is_file()

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the bad row was refused")

    monkeypatch.setattr(wiring, "load_model", no_model)
    bad = _write(tmp_path / "bad.jsonl", [*rows[:2], {"text": "The sky is blue."}])
    argv[argv.index(str(good))] = str(bad)
    argv[argv.index(str(tmp_path / "o"))] = str(tmp_path / "o2")
    assert cli_main(argv) == 2
    assert f"{bad}:3: field 'text' (TRL language modeling) has no answer" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()

"""ICL prompts through a chat template (built in code on the tiny tokenizer): the messages lm-eval
builds, what is scored (the chat, BOS once, the continuation as the assistant's reply), off by
default, and a clear refusal for a tokenizer without a template."""

from __future__ import annotations

import pytest

from crossalign.errors import ConfigError
from crossalign.eval.chat import chat_prompt, messages
from crossalign.eval.runner import EvalConfig, evaluate
from crossalign.eval.scoring import Request, score_naive

TEMPLATE = ("{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
DEMOS = [("effect: It rained. so", " the grass was wet."), ("cause: He slept. because", " he was tired.")]


@pytest.fixture(scope="module")
def chat_tok():
    from crossalign.testing import tiny_tokenizer

    tok = tiny_tokenizer("right")
    tok.chat_template = TEMPLATE
    return tok


def quiet(*_):
    pass


def test_messages_single_turn_multiturn_system():
    one = messages(DEMOS, "effect: I ran. so", separator="\n\n", multiturn=False)
    # one user message: the plain prompt (lm-eval's single-turn collapse)
    assert one == [{"role": "user", "content": "effect: It rained. so the grass was wet.\n\n"
                                               "cause: He slept. because he was tired.\n\neffect: I ran. so"}]
    multi = messages(DEMOS, "effect: I ran. so", separator="\n\n", multiturn=True, system="Answer.")
    assert [m["role"] for m in multi] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert multi[0]["content"] == "Answer." and multi[2]["content"] == "the grass was wet."  # no delimiter
    assert multi[-1]["content"] == "effect: I ran. so"


def _cfg(shared_data, **kw):
    return EvalConfig(tasks=["xcopa_it"], prompt_language="same", shots=[1], seeds=[0],
                      data_dir=str(shared_data), limit=3, progress=False, **kw)


@pytest.mark.parametrize("multiturn", [False, True])
def test_chat_prompt_is_what_is_scored(chat_tok, long_model_factory, shared_data, multiturn):
    model = long_model_factory("llama", chat_tok)
    res = evaluate(model, chat_tok, _cfg(shared_data, apply_chat_template=True, fewshot_as_multiturn=multiturn),
                   log=quiet, samples=True)
    (run,) = res["predictions"]
    prompts, preds = res["details"]["prompts"][run], res["predictions"][run]
    assert res["details"]["model"]["chat_template"] == TEMPLATE
    for choices, pred in zip(prompts, preds, strict=True):
        for (ctx, cont), ll in zip(choices, pred["ll"], strict=True):
            assert ctx.startswith("<s><|user|>\n") and ctx.endswith("<|assistant|>\n")
            assert ctx.count("<|assistant|>") == (2 if multiturn else 1)
            assert not cont.startswith(" ")  # scored as the start of the reply
            ids = chat_tok.encode(ctx + cont, add_special_tokens=False)
            assert ids[0] == chat_tok.bos_token_id and ids[1] != chat_tok.bos_token_id  # BOS once
            # encode_pair's rule: the context's trailing newline moves to the continuation
            head = chat_tok.encode(ctx.rstrip(), add_special_tokens=False)
            (naive,) = score_naive(model, [Request(head, [ids[len(head):]])])
            assert ll == pytest.approx(naive.ll[0], abs=1e-4)


def test_off_by_default_and_the_plain_prompt_is_unchanged(chat_tok, long_model_factory, shared_data):
    model = long_model_factory("llama", chat_tok)
    plain = evaluate(model, chat_tok, _cfg(shared_data), log=quiet, samples=True)
    (run,) = plain["predictions"]
    for choices in plain["details"]["prompts"][run]:
        assert all("<|user|>" not in ctx and cont.startswith(" ") for ctx, cont in choices)
    assert plain["details"]["model"]["chat_template"] is None
    chat = evaluate(model, chat_tok, _cfg(shared_data, apply_chat_template=True), log=quiet)
    assert chat["predictions"][run][0]["ll"] != plain["predictions"][run][0]["ll"]


def test_no_chat_template_is_a_clear_error(right_tokenizer, long_model_factory, shared_data, chat_tok):
    model = long_model_factory("llama", right_tokenizer)
    with pytest.raises(ConfigError, match="has no chat template"):
        evaluate(model, right_tokenizer, _cfg(shared_data, apply_chat_template=True), log=quiet)
    with pytest.raises(ConfigError, match="fewshot_as_multiturn needs apply_chat_template"):
        _cfg(shared_data, fewshot_as_multiturn=True).validate()
    with pytest.raises(ConfigError, match="system_instruction needs apply_chat_template"):
        _cfg(shared_data, system_instruction="Be brief.").validate()
    # a system message reaches the rendered chat
    text = chat_prompt(chat_tok, DEMOS, "q", separator="\n\n", multiturn=False, system="Be brief.")
    assert text.startswith("<s><|system|>\nBe brief.</s>\n<|user|>\n")


def test_cli_refuses_before_the_model_loads(tmp_path, right_tokenizer, shared_data, monkeypatch, capsys):
    from crossalign.cli import main
    from crossalign.model import load
    from crossalign.testing import tiny_model

    ckpt = tmp_path / "base"
    tiny_model("llama", right_tokenizer).save_pretrained(ckpt)
    right_tokenizer.save_pretrained(ckpt)

    def no_load(*_a, **_k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(load, "load_model", no_load)
    code = main(["evaluate", "--model.name_or_path", str(ckpt), "--model.device", "cpu", "--tasks", "xcopa_it",
                 "--data-dir", str(shared_data), "--apply_chat_template", "--output-dir", str(tmp_path / "out")])
    assert code == 2 and "has no chat template" in capsys.readouterr().err

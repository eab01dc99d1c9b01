"""Acceptance 5: the callback evaluates during a short tiny-model training run, on validation
splits only, and the best checkpoint is chosen by the named metric."""

from __future__ import annotations

import json

import pytest
import torch

from crossalign.errors import ConfigError
from crossalign.eval.callback import ICLEvalCallback
from crossalign.eval.runner import EvalConfig

TEXTS = [
    "The cat sits on the mat.",
    "Die Katze sitzt auf der Matte.",
    "猫坐在垫子上。",
    "He dropped a hammer on his foot.",
    "Paka ameketi kwenye mkeka.",
    "Kucing duduk di atas tikar.",
] * 4


class Texts(torch.utils.data.Dataset):
    def __init__(self, tok):
        self.rows = [tok(t)["input_ids"] for t in TEXTS]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return {"input_ids": self.rows[i]}


def _trainer(tmp_path, tok, callback, **kwargs):
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    from crossalign.testing import tiny_model

    model = tiny_model("llama", tok, max_positions=8192)
    args = TrainingArguments(
        output_dir=str(tmp_path / "run"),
        max_steps=6,
        save_steps=2,
        save_strategy="steps",
        per_device_train_batch_size=4,
        learning_rate=5e-3,
        report_to=[],
        use_cpu=True,
        logging_steps=2,
        disable_tqdm=True,
        **kwargs,
    )
    collator = DataCollatorForLanguageModeling(tok, mlm=False)
    return Trainer(
        model=model,
        args=args,
        train_dataset=Texts(tok),
        data_collator=collator,
        callbacks=[callback],
        **({"eval_dataset": Texts(tok)} if "eval_strategy" in kwargs else {}),
    )


def _cfg(data_dir):
    return EvalConfig(
        tasks=["xcopa"],
        languages=["zh"],
        prompt_language="en",
        shots=[1],
        data_dir=str(data_dir),
        limit=8,
        progress=False,
    )


def test_callback_selects_best_checkpoint_on_validation(tmp_path, right_tokenizer, data_dir):
    cb = ICLEvalCallback(right_tokenizer, _cfg(data_dir), metric="icl_mean_acc_norm", log=lambda *_: None)
    trainer = _trainer(tmp_path, right_tokenizer, cb)
    trainer.train()
    run = tmp_path / "run"
    hist = [json.loads(x) for x in (run / "icl_eval.jsonl").read_text().splitlines()]
    assert [h["step"] for h in hist] == [2, 4, 6]
    best = json.loads((run / "best_checkpoint.json").read_text())
    values = [h["icl_mean_acc_norm"] for h in hist]
    first_best = values.index(max(values))
    assert best["value"] == max(values) and best["step"] == hist[first_best]["step"]
    assert best["splits"] == {"xcopa": "validation"}
    assert (run / f"checkpoint-{best['step']}").is_dir()
    assert trainer.state.best_model_checkpoint == best["checkpoint"]
    assert any("icl_xcopa_en-zh_1shot_seed0_acc" in e for e in trainer.state.log_history)


def test_callback_feeds_trainer_best_model(tmp_path, right_tokenizer, data_dir):
    cb = ICLEvalCallback(right_tokenizer, _cfg(data_dir), metric="icl_mean_acc", log=lambda *_: None)
    trainer = _trainer(
        tmp_path,
        right_tokenizer,
        cb,
        eval_strategy="steps",
        eval_steps=2,
        metric_for_best_model="icl_mean_acc",
        load_best_model_at_end=True,
    )
    trainer.train()
    best = json.loads((tmp_path / "run" / "best_checkpoint.json").read_text())
    assert trainer.state.best_model_checkpoint == best["checkpoint"]
    assert trainer.state.best_metric == pytest.approx(best["value"])


def test_callback_refuses_test_splits(right_tokenizer, data_dir):
    with pytest.raises(ConfigError, match="'test' is a test split"):
        ICLEvalCallback(right_tokenizer, EvalConfig(tasks=["xcopa"], split="test"))
    with pytest.raises(ConfigError, match="xwinograd has only test splits"):
        ICLEvalCallback(right_tokenizer, EvalConfig(tasks=["xwinograd"]))
    with pytest.raises(ConfigError, match="demo_split 'eval' is a test split"):
        ICLEvalCallback(right_tokenizer, EvalConfig(tasks=["xstorycloze"], demo_split="eval"))


def test_callback_epoch_strategy(tmp_path, right_tokenizer, data_dir):
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    from crossalign.testing import tiny_model

    cb = ICLEvalCallback(right_tokenizer, _cfg(data_dir), log=lambda *_: None)
    args = TrainingArguments(
        output_dir=str(tmp_path / "run"),
        num_train_epochs=2,
        save_strategy="epoch",
        per_device_train_batch_size=8,
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
    )
    Trainer(
        model=tiny_model("llama", right_tokenizer, max_positions=8192),
        args=args,
        train_dataset=Texts(right_tokenizer),
        data_collator=DataCollatorForLanguageModeling(right_tokenizer, mlm=False),
        callbacks=[cb],
    ).train()
    assert [h["step"] for h in cb.history] == [3, 6]  # 24 texts / 8 per step, once per epoch
    assert json.loads((tmp_path / "run" / "best_checkpoint.json").read_text())["step"] in (3, 6)


def test_callback_refuses_a_test_split_given_per_task(right_tokenizer, data_dir):
    with pytest.raises(ConfigError, match="xnli: split 'test' is a test split"):
        ICLEvalCallback(right_tokenizer, EvalConfig(tasks=["xcopa", "xnli"], task_splits=["xnli=test"],
                                                    split="validation"))

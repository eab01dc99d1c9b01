"""Fixtures for training tests: tiny checkpoints on disk and a generated-samples file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossalign.data.samples import TrainSample
from crossalign.train.dataset import tokenize_samples

PAIRS = [
    ("The cat sits on the mat.", "猫坐在垫子上。"),
    ("I like green tea.", "我喜欢绿茶。"),
    ("The man broke his toe.", "那个人弄断了脚趾。"),
    ("He dropped a hammer on his foot.", "他把锤子掉在脚上。"),
    ("Translate into French: bonjour", "翻译成法语：你好"),
    ("The weather is nice today.", "今天天气很好。"),
    ("Where is the station?", "车站在哪里？"),
    ("Please close the door.", "请关门。"),
]

SAMPLES = [
    TrainSample(
        "The cat sits on the mat.",
        "猫坐在垫子上。",
        None,
        "I like green tea. Answer in German:",
        " Ich mag grünen Tee.",
        "t:1",
    ),
    TrainSample("Bonjour", "你好", None, "Translate into French:", " bonjour le chat", "t:2"),
    TrainSample("He dropped a hammer.", "Er ließ einen Hammer fallen.", None, "Why?", " because", "t:3"),
    TrainSample(
        "Where is the station?",
        "车站在哪里？",
        None,
        "The man broke his toe. Answer in Chinese:",
        " 那个人弄断了脚趾。",
        "t:4",
    ),
]


def tokenized(tokenizer, **kwargs) -> list[dict]:
    data, _ = tokenize_samples(tokenizer, SAMPLES, clm_max_length=kwargs.pop("clm_max_length", 64), **kwargs)
    return [data[i] for i in range(len(data))]


@pytest.fixture
def make_items():
    return tokenized


def write_samples(path: Path, n: int = 16) -> Path:
    rows = []
    for i in range(n):
        en, zh = PAIRS[i % len(PAIRS)]
        en2, zh2 = PAIRS[(i + 3) % len(PAIRS)]
        rows.append(
            {
                "pair": {"src_lang": "en", "tgt_lang": "zh", "src": en, "tgt": zh},
                "prompt": f"{en2} Answer in Chinese:" if i % 2 else f"{zh2} Answer in English:",
                "response": f" {zh2}" if i % 2 else f" {en2}",
                "prompt_lang": "en",
                "response_lang": "zh",
            }
        )
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def save_tiny(arch: str, folder: Path, padding_side: str = "right", layers: int = 4) -> Path:
    from crossalign.testing import tiny_model, tiny_tokenizer

    tok = tiny_tokenizer(padding_side=padding_side)
    model = tiny_model(arch, tok, layers=layers)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture
def samples_file(tmp_path) -> Path:
    return write_samples(tmp_path / "samples.jsonl")


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {arch: save_tiny(arch, root / arch) for arch in ("llama", "gemma3", "xglm", "gpt2", "bloom")}

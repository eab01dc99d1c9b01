"""Tiny models and a tokenizer built in code, for tests and smoke runs (no download).

    from crossalign.testing import tiny_tokenizer, tiny_model
    tok = tiny_tokenizer(padding_side="left"); model = tiny_model("llama", tok)

The tokenizer is a byte-level BPE trained on a few multilingual sentences; it adds a BOS
token like Llama/Gemma tokenizers do. Models are randomly initialised with a fixed seed.
"""

from __future__ import annotations

import zipfile

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    BloomConfig,
    Gemma3TextConfig,
    GPT2Config,
    LlamaConfig,
    PreTrainedTokenizerFast,
    XGLMConfig,
)

ARCHITECTURES = ("llama", "gemma3", "xglm", "gpt2", "bloom")

_CORPUS = [
    "The cat sits on the mat.", "Die Katze sitzt auf der Matte.", "Le chat est assis sur le tapis.",
    "El gato está sentado en la alfombra.", "猫坐在垫子上。", "Кошка сидит на коврике.",
    "Kucing duduk di atas tikar.", "Con mèo ngồi trên tấm thảm.", "Paka ameketi kwenye mkeka.",
    "I like green tea. Answer in German: Ich mag grünen Tee.", "Translate into French: bonjour",
    "because so right? Yes No Also", "The man broke his toe. What was the cause?",
    "He dropped a hammer on his foot.", "Ang pusa ay nakaupo sa banig.", "猫はマットの上に座っています。",
]


def tiny_tokenizer(padding_side: str = "right", vocab_size: int = 400, add_bos: bool = True):

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<pad>", "<s>", "</s>"]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    if add_bos:
        bos = tok.token_to_id("<s>")
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", bos)]
        )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
        padding_side=padding_side, model_max_length=256,
    )
    return fast


def tiny_config(arch: str, tokenizer, layers: int = 4, hidden: int = 32, max_positions: int = 256):

    ids = dict(
        vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    if arch == "llama":
        return LlamaConfig(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                           num_attention_heads=4, num_key_value_heads=2,
                           max_position_embeddings=max_positions, tie_word_embeddings=False, **ids)
    if arch == "gemma3":
        return Gemma3TextConfig(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                                num_attention_heads=4, num_key_value_heads=1, head_dim=16,
                                max_position_embeddings=max_positions, sliding_window=8,
                                tie_word_embeddings=True, **ids)
    if arch == "xglm":
        return XGLMConfig(d_model=hidden, ffn_dim=2 * hidden, num_layers=layers, attention_heads=4,
                          max_position_embeddings=max_positions, **ids)
    if arch == "gpt2":
        return GPT2Config(n_embd=hidden, n_layer=layers, n_head=4, n_positions=max_positions, **ids)
    if arch == "bloom":
        return BloomConfig(hidden_size=hidden, n_layer=layers, n_head=4, **ids)
    raise ValueError(f"unknown tiny architecture {arch!r}; choose from {list(ARCHITECTURES)}")


def tiny_model(arch: str, tokenizer, seed: int = 0, **kwargs):

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(arch, tokenizer, **kwargs))
    model.eval()
    return model


def assert_close(actual, expected, rtol: float = 1e-5, atol: float = 0.0, what: str = "",
                 scale: float | None = None) -> None:
    """Assert two tensors (or arrays) agree to ``rtol`` of the expected values' largest magnitude.

    Float kernels differ between CPU kinds (and GPUs) by rounding that grows with the values'
    size: a gradient of magnitude 190 may differ by 1.5e-5 between two correct computations. A
    bare ``atol`` fails there, while ``rtol`` per element fails on entries that cancel to ~0. This
    compares the largest absolute difference with ``rtol * scale + atol``, where ``scale`` is
    ``max|expected|`` unless given (e.g. the largest gradient of the whole model, for a tensor
    whose exact gradient is zero and holds rounding noise only). Shapes must match exactly."""
    a = torch.as_tensor(actual).detach().double().cpu()
    e = torch.as_tensor(expected).detach().double().cpu()
    assert a.shape == e.shape, f"{what}: shape {tuple(a.shape)} != {tuple(e.shape)}"
    if a.numel() == 0:
        return
    diff = (a - e).abs().max().item()
    scale = e.abs().max().item() if scale is None else scale
    bound = rtol * scale + atol
    assert diff <= bound, f"{what}: max |diff| {diff:.3g} > {bound:.3g} (rtol {rtol:g} x scale {scale:.3g})"


def assert_grads_close(actual: dict, expected: dict, rtol: float = 1e-5, what: str = "") -> None:
    """:func:`assert_close` for every tensor of two ``{name: gradient}`` maps (same names), scaled
    by the largest gradient of ``expected`` as a whole: a parameter whose exact gradient is zero
    (a key bias under softmax) compares its rounding noise against the model's gradient scale."""
    assert set(actual) == set(expected), f"{what}: names differ: {sorted(set(actual) ^ set(expected))[:5]}"
    scale = max((torch.as_tensor(g).detach().abs().max().item() for g in expected.values()), default=0.0)
    for name in expected:
        assert_close(actual[name], expected[name], rtol=rtol, what=f"{what} {name}".strip(), scale=scale)


def make_wheel(path, members: dict[str, str | bytes]):
    """A zip file at ``path`` holding ``members`` (name -> text or bytes): a wheel built in code."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path

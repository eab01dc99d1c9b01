"""Tiny models and a tokenizer built in code, for tests and smoke runs (no download).

    from crossalign.testing import tiny_tokenizer, tiny_model
    tok = tiny_tokenizer(padding_side="left"); model = tiny_model("llama", tok)

The tokenizer is a byte-level BPE trained on a few multilingual sentences; it adds a BOS
token like Llama/Gemma tokenizers do. Models are randomly initialised with a fixed seed.
"""

from __future__ import annotations

import torch

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
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

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
    from transformers import (
        BloomConfig,
        Gemma3TextConfig,
        GPT2Config,
        LlamaConfig,
        XGLMConfig,
    )

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
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(arch, tokenizer, **kwargs))
    model.eval()
    return model

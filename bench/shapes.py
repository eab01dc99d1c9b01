"""Random-init causal LMs of real models' shapes, built from configs written here (no weights, no
hub): for benchmarks on machines that hold no model files, such as a lent GPU machine.

    from shapes import shape_model
    model = shape_model("qwen2.5-0.5b", dtype=torch.bfloat16, attn="sdpa")

The dimensions are those of the public ``config.json`` of each model (hidden size, layers, heads,
key-value heads, MLP width, vocabulary, tied embeddings); the weights are random.
"""

from __future__ import annotations

import torch

# name -> (config class name in transformers, its arguments)
SHAPES: dict[str, tuple[str, dict]] = {
    # Qwen/Qwen2.5-0.5B config.json
    "qwen2.5-0.5b": ("Qwen2Config", dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                                         num_attention_heads=14, num_key_value_heads=2, vocab_size=151936,
                                         max_position_embeddings=32768, rope_theta=1e6, tie_word_embeddings=True)),
    # meta-llama/Llama-3.2-1B config.json
    "llama-3.2-1b": ("LlamaConfig", dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                                         num_attention_heads=32, num_key_value_heads=8, head_dim=64,
                                         vocab_size=128256, max_position_embeddings=131072, rope_theta=5e5,
                                         tie_word_embeddings=True)),
    # facebook/xglm-564M config.json
    "xglm-564m": ("XGLMConfig", dict(d_model=1024, ffn_dim=4096, num_layers=24, attention_heads=16,
                                     vocab_size=256008, max_position_embeddings=2048)),
    # a small Llama for a smoke run of the scripts on CPU
    "llama-tiny": ("LlamaConfig", dict(hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                                       num_attention_heads=4, num_key_value_heads=2, vocab_size=1000,
                                       max_position_embeddings=4096, tie_word_embeddings=False)),
}


def shape_config(name: str, attn: str = "sdpa"):
    import transformers

    if name not in SHAPES:
        raise SystemExit(f"unknown shape {name!r}; choose from {', '.join(SHAPES)}")
    cls, kwargs = SHAPES[name]
    if cls == "XGLMConfig":
        attn = "eager"  # transformers has no SDPA path for XGLM
    config = getattr(transformers, cls)(**kwargs, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    config._attn_implementation = attn
    return config


def shape_model(name: str, dtype: torch.dtype = torch.float32, attn: str = "sdpa", seed: int = 0):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(shape_config(name, attn), dtype=dtype)


def matmul_params(model: torch.nn.Module) -> int:
    """Parameters that take part in a matrix product per token: all but the input embedding table
    (a lookup); a tied head counts once, as the output projection."""
    emb = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    total = sum(p.numel() for p in model.parameters())
    return total - (0 if emb is head else emb.numel())

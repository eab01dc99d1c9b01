"""Sentence encoding does not depend on the batch a sentence lands in (any padding side)."""

from __future__ import annotations

import pytest

from crossalign.model.encode import encode
from crossalign.testing import assert_close, tiny_model, tiny_tokenizer

SENTENCES = ["The cat sits on the mat.", "Kucing.", "Die Katze sitzt auf der Matte, ja wirklich.", "猫"]


@pytest.mark.parametrize("arch", ["gpt2", "xglm", "llama", "gemma3", "bloom"])
def test_batched_equals_one_at_a_time_with_a_left_padding_tokenizer(arch):
    tok = tiny_tokenizer(padding_side="left")
    model = tiny_model(arch, tok)
    batched = encode(model, tok, SENTENCES, layers=[2, 4], batch_size=4)
    single = encode(model, tok, SENTENCES, layers=[2, 4], batch_size=1)
    for layer in (2, 4):
        assert batched[layer].shape == (len(SENTENCES), model.config.hidden_size)
        assert_close(batched[layer], single[layer], what=f"layer {layer}")
    assert tok.padding_side == "left"  # the tokenizer itself is left as it was

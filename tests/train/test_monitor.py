"""Held-out retrieval and `layer: auto`."""

from __future__ import annotations

import pytest

from crossalign.model.encode import retrieval_by_layer
from crossalign.testing import tiny_model, tiny_tokenizer
from crossalign.train.monitor import RetrievalMonitor, choose_layer

from .conftest import PAIRS


def test_choose_layer_is_the_retrieval_peak_and_restores_train_mode():
    tok = tiny_tokenizer()
    model = tiny_model("llama", tok)
    model.train()
    src, tgt = [p[0] for p in PAIRS], [p[1] for p in PAIRS]
    layer, scores = choose_layer(model, tok, src, tgt)
    assert model.training
    assert set(scores) == {1, 2, 3, 4}
    assert scores[layer] == max(scores.values())
    assert layer == min(k for k, v in scores.items() if v == scores[layer])  # ties -> lower layer
    # identical sentences on both sides retrieve perfectly at every layer
    assert retrieval_by_layer(model, tok, src, src, [1, 4]) == {1: 1.0, 4: 1.0}
    with pytest.raises(ValueError, match="at least 2"):
        choose_layer(model, tok, src[:1], tgt[:1])


def test_monitor_schedule():
    tok = tiny_tokenizer()
    monitor = RetrievalMonitor(tok, ["a", "b"], ["a", "b"], layer=1, every=5)
    assert not monitor.due(3) and monitor.due(5)
    assert monitor.measure(tiny_model("gpt2", tok), step=5) == {"heldout/retrieval": 1.0}
    assert not monitor.due(5)  # measured once per step

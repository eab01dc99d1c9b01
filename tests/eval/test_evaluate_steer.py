"""crossalign evaluate --steer.*: maps fitted on the given pairs before scoring, each language scored
with its own, written beside the results; bad steering options refused before the model loads."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from crossalign.analysis.inputs import group_by_language
from crossalign.cli import main as cli_main
from crossalign.data.sources import PairsSpec, read_pairs
from crossalign.eval.runner import EvalConfig, evaluate
from crossalign.model.load import ModelConfig, load_model, load_tokenizer
from crossalign.model.steering import fit_steering, steered
from crossalign.testing import assert_close, tiny_model, tiny_tokenizer


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    tok = tiny_tokenizer(padding_side="right")
    tiny_model("llama", tok, layers=3, max_positions=1024).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _args(tiny_dir, shared_data, out, *extra):
    return ["evaluate", "--model.name_or_path", str(tiny_dir), "--tasks", "xcopa", "--languages", "tr", "it",
            "--shots", "0", "--limit", "10", "--data_dir", str(shared_data), "--output_dir", str(out),
            "--predictions", "--no-progress", *extra]


def test_evaluate_steers_each_language_with_its_own_maps(tiny_dir, shared_data, tmp_path):
    prefix = str(shared_data / "tatoeba" / "tatoeba.tur-eng")
    out = tmp_path / "steered"
    assert cli_main(_args(tiny_dir, shared_data, out, "--steer.method", "incline", "--steer.layers", "2",
                          "--steer.strength", "8", "--steer.pairs.paths", prefix, "--steer.max_pairs", "50")) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["steering"]["languages"] == ["tr"] and doc["steering"]["fit"]["pairs"] == {"tr": 50}
    with safe_open(str(out / "steering.safetensors"), "pt") as f:
        assert {"tr.2.weight", "tr.2.mean_src", "tr.2.mean_tgt"} <= set(f.keys())
        assert f.metadata()["method"] == "incline"
    # by hand: the same maps; tr steered, it (no pairs) scored as it is
    mcfg = ModelConfig(name_or_path=str(tiny_dir))
    tok, lm = load_tokenizer(mcfg), load_model(mcfg).eval()
    pairs = group_by_language(read_pairs(PairsSpec(paths=[prefix])), pivot="en", max_per_language=50)
    s = fit_steering(lm, tok, {"tr": pairs["tr"]}, [2], "incline", strength=8.0)
    ev = EvalConfig(tasks=["xcopa"], languages=["tr", "it"], shots=[0], limit=10, data_dir=str(shared_data),
                    progress=False)
    plain = evaluate(lm, tok, ev, log=lambda m: None)["predictions"]
    with steered(lm, s, "tr"):
        hand = evaluate(lm, tok, ev, log=lambda m: None)["predictions"]

    def stored(name, key="ll"):
        return [json.loads(x)[key] for x in (out / "predictions" / f"{name}.jsonl").read_text().splitlines()]

    def ll(preds, name):
        return torch.tensor([r["ll"] for r in preds[name]])

    tr, it = "xcopa.tr-tr.0shot.seed0", "xcopa.it-it.0shot.seed0"
    assert stored(tr, "pred") == [r["pred"] for r in hand[tr]]
    assert_close(torch.tensor(stored(tr)), ll(hand, tr), rtol=1e-4, what="tr: scored steered")
    assert_close(torch.tensor(stored(it)), ll(plain, it), rtol=1e-4, what="it: scored as it is")
    assert (ll(hand, tr) - ll(plain, tr)).abs().max() > 0.5  # steering matters (far above the 1e-4 tolerance)
    # the same folder, unsteered: the old maps go (one folder, one run)
    assert cli_main(_args(tiny_dir, shared_data, out)) == 0
    assert not (out / "steering.safetensors").exists()
    assert "steering" not in json.loads((out / "results.json").read_text())


@pytest.mark.parametrize("extra, message", [
    (["--steer.method", "mean_shift", "--steer.pairs.paths", "x.tsv"], "steer.layers: give the layer"),
    (["--steer.method", "mean_shift", "--steer.layers", "1"], "steer.pairs.paths: give translation pairs"),
    (["--steer.method", "mean_shift", "--steer.layers", "1", "--steer.pairs.paths", "TATOEBA_DEU"],
     "no English pairs for the evaluated languages"),
])
def test_bad_steering_is_refused_before_the_model_loads(tiny_dir, shared_data, tmp_path, capsys, monkeypatch,
                                                         extra, message):
    import crossalign.model.load as load

    def no_load(*a, **k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(load, "load_model", no_load)
    extra = [str(shared_data / "tatoeba" / "tatoeba.deu-eng") if x == "TATOEBA_DEU" else x for x in extra]
    assert cli_main(_args(tiny_dir, shared_data, tmp_path / "out", *extra)) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.json").exists()

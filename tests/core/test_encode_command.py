"""`crossalign encode` end to end on a tiny saved checkpoint, and its refusals of bad input (exit 2,
before any model is loaded, nothing written)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from crossalign.cli import main
from crossalign.testing import assert_close, tiny_model, tiny_tokenizer

SENTENCES = ["The cat sits on the mat.", "Die Katze sitzt auf der Matte.", "猫坐在垫子上。"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """``{"aligned": folder recording layer 3 / last pooling, "base": a plain checkpoint}``."""
    root = tmp_path_factory.mktemp("encode-models")
    tok = tiny_tokenizer()
    folders = {}
    for name in ("aligned", "base"):
        folder = root / name
        tiny_model("llama", tok).save_pretrained(folder)
        tok.save_pretrained(folder)
        folders[name] = folder
    (folders["aligned"] / "crossalign_train.json").write_text(json.dumps({"layer": 3}))
    (folders["aligned"] / "config.yaml").write_text(yaml.safe_dump({"contrastive": {"pooling": "last"}}))
    return folders


def _run(*args) -> int:
    return main(["encode", *map(str, args), "--no-progress"])


def test_text_file_to_npy_and_sidecar(checkpoints, tmp_path, capsys):
    from crossalign import Encoder

    text = tmp_path / "in.txt"
    text.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    out = tmp_path / "emb" / "x.npy"
    assert _run("--model.name_or_path", checkpoints["aligned"], "--input", text, "--output", out) == 0
    emb = np.load(out)
    meta = json.loads((tmp_path / "emb" / "x.json").read_text())
    assert emb.shape == (3, 32) and emb.dtype == np.float32
    assert {k: meta[k] for k in ("model", "layer", "pooling", "include_special", "count", "dimension")} == {
        "model": str(checkpoints["aligned"]), "layer": 3, "pooling": "last", "include_special": False,
        "count": 3, "dimension": 32}
    assert meta["normalized"] is False and meta["input"] == str(text) and meta["embeddings"] == "x.npy"
    config = yaml.safe_load((tmp_path / "emb" / "x.config.yaml").read_text())
    assert config["input"] == str(text) and config["layer"] == "auto"
    want = Encoder(str(checkpoints["aligned"])).encode(SENTENCES)
    assert_close(emb, want, what="written rows")
    assert "wrote 3 x 32 embeddings" in capsys.readouterr().out


def test_jsonl_field_explicit_layer_and_normalize(checkpoints, tmp_path):
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps({"id": i, "text": s}) + "\n" for i, s in enumerate(SENTENCES)),
                    encoding="utf-8")
    out = tmp_path / "y.npy"
    assert _run("--model.name_or_path", checkpoints["base"], "--input", data, "--text-field", "text",
                "--layer", "-1", "--pooling", "mean", "--normalize", "--output", out) == 0
    emb = np.load(out)
    meta = json.loads((tmp_path / "y.json").read_text())
    assert emb.shape == (3, 32)
    assert_close(np.linalg.norm(emb, axis=1), np.ones(3), what="unit norms")
    assert (meta["layer"], meta["pooling"], meta["normalized"], meta["text_field"]) == (4, "mean", True, "text")


@pytest.mark.parametrize(("content", "extra", "where", "message"), [
    (b"one\n\nthree\n", [], "in.txt:2:", "empty line"),
    (b"one\n\xff\n", [], "in.txt:2:", "not valid UTF-8"),
    (b'{"text": "a"}\n{"other": "b"}\n', ["--text-field", "text"], "in.txt:2:", "no field 'text'"),
    (b'{"text": "a"}\n{"text": 3}\n', ["--text-field", "text"], "in.txt:2:", "not a non-empty string"),
    (b'{"text": "a"}\n{"text": \n', ["--text-field", "text"], "in.txt:2:", "not valid JSON"),
    (b"", [], "in.txt:", "no sentences"),
    (b"ok\n", ["--layer", "nine"], "layer:", "not an integer"),
    (b"ok\n", ["--batch-size", "0"], "batch_size:", "at least 1"),
    (b"ok\n", ["--layer", "auto"], "layer:", "records"),  # a base model records no layer
])
def test_bad_input_is_refused_before_the_model_loads(checkpoints, tmp_path, capsys, monkeypatch, no_model,
                                                     content, extra, where, message):
    monkeypatch.setattr("crossalign.model.encoder.load_model", no_model_loaded)
    path = tmp_path / "in.txt"
    path.write_bytes(content)
    out = tmp_path / "x.npy"
    rc = _run("--model.name_or_path", checkpoints["base"], "--input", path, "--output", out, *extra)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert where in err and message in err, err
    assert not out.exists() and not (tmp_path / "x.json").exists()


def no_model_loaded(*args, **kwargs):
    raise AssertionError("the model was loaded before the input was checked")


def test_jsonl_without_field_and_bad_outputs(checkpoints, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("crossalign.model.encoder.load_model", no_model_loaded)
    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "a"}\n', encoding="utf-8")
    base = ["--model.name_or_path", checkpoints["base"], "--layer", "1"]
    assert _run(*base, "--input", data, "--output", tmp_path / "x.npy") == 2
    assert "--text-field" in capsys.readouterr().err
    assert _run(*base, "--input", data, "--text-field", "text", "--output", tmp_path / "x.txt") == 2
    assert "must end in .npy" in capsys.readouterr().err
    assert _run(*base, "--input", tmp_path / "missing.txt", "--output", tmp_path / "x.npy") == 2
    assert "missing.txt: file not found" in capsys.readouterr().err
    assert _run("--model.name_or_path", tmp_path / "no-model", "--input", data, "--text-field", "text",
                "--output", tmp_path / "x.npy") == 2
    assert "no-model" in capsys.readouterr().err
    assert not list(tmp_path.glob("x.*"))


def test_layer_out_of_range_names_the_option(checkpoints, tmp_path, capsys):
    text = tmp_path / "in.txt"
    text.write_text("hello\n", encoding="utf-8")
    assert _run("--model.name_or_path", checkpoints["base"], "--input", text, "--layer", "9",
                "--output", tmp_path / "x.npy") == 2
    assert "layer: layer 9 does not exist" in capsys.readouterr().err
    assert not (tmp_path / "x.npy").exists()

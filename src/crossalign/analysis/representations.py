"""Per-layer pooled representations of parallel sentences, kept on disk one file per layer.

    pairs = {"de": (english_sentences, german_sentences), "fr": (...)}
    with encode_representations(model, tok, pairs, layers=[0, 6, 12], cache_dir="cache/reps") as reps:
        eng, deu = reps.pair("mean", 12, "de")  # (n, H) arrays read from the memory map

The sentences of every language are encoded once, in batches sorted by length over the
whole set, with the same pieces as :func:`crossalign.model.encode.encode` (tokenisation
as ``tokenize_for_pooling`` but always right-padded, ``hidden_states_at`` which stops at
the highest layer asked for, ``pooling_mask``, ``pool``) but one forward serves every pooling
variant (``"mean"``, ``"last"``, ``"mean+special"``...; :mod:`crossalign.analysis.pooling_variants`).
Each batch's pooled states go straight into one ``.npy`` file per (variant, layer) through a
memory map, so a 100k-sentence set at 19 layers never sits in memory: metrics later load one
layer at a time.

With ``cache_dir`` the files are kept, keyed by a hash of the model (path, config and a
fingerprint of its weights), the tokenizer, the sentences, ``max_length`` and the storage
dtype; the file name adds the pooling and layer, so a later run with more layers reuses the
ones already there. Files appear under their final name only when complete (``os.replace``).
Without ``cache_dir`` they live in a temporary folder removed by :meth:`Representations.close`.
Only ``.npy`` files are read back (``allow_pickle=False``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from numpy.lib.format import open_memmap
from tqdm.auto import tqdm

from crossalign.analysis.pooling_variants import parse_variant, variant_name
from crossalign.io import write_json
from crossalign.masks import pooling_mask
from crossalign.model.layers import hidden_states_at, num_layers
from crossalign.model.pooling import pool

logger = logging.getLogger(__name__)

PairsByLang = Mapping[str, tuple[Sequence[str], Sequence[str]]]
STORAGE_DTYPES = {"float32": np.float32, "float16": np.float16}


@dataclass
class Representations:
    """Where the per-layer arrays of one model on one pair set live, and which rows are which.

    Rows are laid out language by language: for language ``l`` with ``spans[l] = (start, n)``,
    rows ``start..start+n`` are the pivot side and ``start+n..start+2n`` the ``l`` side.
    """

    directory: Path
    pivot: str
    spans: dict[str, tuple[int, int]]
    layers: list[int]
    poolings: list[str]  # canonical variant names
    hidden_size: int
    meta: dict = field(default_factory=dict)
    temporary: bool = False
    encode_s: float = 0.0  # how long encode_representations took to compute the files (or find them cached)

    @property
    def languages(self) -> list[str]:
        return list(self.spans)

    @property
    def num_rows(self) -> int:
        return sum(2 * n for _, n in self.spans.values())

    def path(self, pooling: str, layer: int) -> Path:
        return self.directory / f"{pooling}-L{layer:03d}.npy"

    def array(self, pooling: str, layer: int) -> np.ndarray:
        """``(rows, H)`` read-only memory map of one layer (nothing is read until sliced)."""
        if pooling not in self.poolings or layer not in self.layers:
            raise KeyError(f"no representations for pooling {pooling!r} at layer {layer}; "
                           f"have poolings {self.poolings} at layers {self.layers}")
        return np.load(self.path(pooling, layer), mmap_mode="r", allow_pickle=False)

    def pair(self, pooling: str, layer: int, lang: str) -> tuple[np.ndarray, np.ndarray]:
        """``(pivot (n, H), lang (n, H))`` rows of one language pair; row i are translations."""
        start, n = self.spans[lang]
        arr = self.array(pooling, layer)
        return arr[start : start + n], arr[start + n : start + 2 * n]

    def labels(self) -> np.ndarray:
        """Language of every row (the pivot's rows carry the pivot's code)."""
        out = np.empty(self.num_rows, dtype=object)
        for lang, (start, n) in self.spans.items():
            out[start : start + n] = self.pivot
            out[start + n : start + 2 * n] = lang
        return out

    def close(self) -> None:
        if self.temporary:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Representations:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_pairs(pairs_by_lang: PairsByLang) -> None:
    """Parallel lists of equal length with no empty sentence; errors name the language and row."""
    if not pairs_by_lang:
        raise ValueError("no languages given")
    for lang, (piv, other) in pairs_by_lang.items():
        if len(piv) != len(other):
            raise ValueError(f"language {lang!r}: {len(piv)} pivot sentences but {len(other)} translations")
        if not piv:
            raise ValueError(f"language {lang!r}: no sentence pairs")
        for i, (a, b) in enumerate(zip(piv, other, strict=True)):
            if not a.strip() or not b.strip():
                raise ValueError(f"language {lang!r}: pair {i + 1} has an empty sentence")


def model_fingerprint(model) -> str:
    """Hash of the model's class, config (with its path) and every parameter's name, shape and sum.

    Sums catch retrained weights saved under the same path; one pass over the weights is
    fast next to a forward over the data.
    """
    h = hashlib.sha256(type(model).__name__.encode())
    config = getattr(model, "config", None)
    if config is not None:
        h.update(config.to_json_string(use_diff=False).encode())
    with torch.no_grad():
        for name, p in model.named_parameters():
            total = torch.sum(p.detach(), dtype=torch.float64).item()
            h.update(f"{name}:{tuple(p.shape)}:{total:.12e}".encode())
    return h.hexdigest()


def tokenizer_fingerprint(tokenizer) -> str:
    probe = "The quick brown fox. Der schnelle Fuchs. 敏捷的狐狸。"
    ids = tokenizer(probe)["input_ids"]
    text = f"{type(tokenizer).__name__}|{getattr(tokenizer, 'name_or_path', '')}|{len(tokenizer)}|{ids}"
    return hashlib.sha256(text.encode()).hexdigest()


def sentences_fingerprint(sentences: Sequence[str]) -> str:
    h = hashlib.sha256(str(len(sentences)).encode())
    for s in sentences:
        h.update(s.encode())
        h.update(b"\0")
    return h.hexdigest()


def encode_representations(
    model,
    tokenizer,
    pairs_by_lang: PairsByLang,
    layers: Sequence[int],
    poolings: str | Sequence[str] = ("mean",),
    include_special: bool = False,
    batch_size: int = 32,
    max_length: int | None = 256,
    cache_dir: str | Path | None = None,
    pivot: str = "en",
    dtype: str = "float32",
    progress: bool = True,
    desc: str = "encoding",
) -> Representations:
    """Encode both sides of every pair at ``layers`` (resolved indices) with each pooling variant.

    ``include_special`` applies to plain variant names (``"mean"``); ``"mean+special"``
    always includes special tokens. See the module doc for the layout and the cache.
    """
    start = time.perf_counter()
    check_pairs(pairs_by_lang)
    n_layers = num_layers(model)
    layers = sorted(set(int(x) for x in layers))
    if not layers:
        raise ValueError("no layers requested")
    bad = [x for x in layers if not 0 <= x <= n_layers]
    if bad:
        raise ValueError(f"layers {bad} do not exist: valid layers are 0..{n_layers} (0 = embedding output)")
    names = [poolings] if isinstance(poolings, str) else list(poolings)
    variants = list(dict.fromkeys(variant_name(p, include_special) for p in names))
    if dtype not in STORAGE_DTYPES:
        raise ValueError(f"unknown storage dtype {dtype!r}; choose from {list(STORAGE_DTYPES)}")

    sentences: list[str] = []
    spans: dict[str, tuple[int, int]] = {}
    for lang, (piv, other) in pairs_by_lang.items():
        spans[lang] = (len(sentences), len(piv))
        sentences.extend(piv)
        sentences.extend(other)
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    hidden = int(config.hidden_size)

    key_text = "|".join([model_fingerprint(model), tokenizer_fingerprint(tokenizer),
                         sentences_fingerprint(sentences), str(max_length), dtype])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:24]
    if cache_dir is None:
        directory, temporary = Path(tempfile.mkdtemp(prefix="crossalign-reps-")), True
    else:
        directory, temporary = Path(cache_dir) / key, False
        directory.mkdir(parents=True, exist_ok=True)
    reps = Representations(directory, pivot, spans, layers, variants, hidden, temporary=temporary)
    try:
        missing = [(v, x) for v in variants for x in layers if not reps.path(v, x).exists()]
        if missing:
            _encode_missing(model, tokenizer, sentences, reps, missing, batch_size, max_length,
                            STORAGE_DTYPES[dtype], progress, desc)
        else:
            logger.info("all %d layer files found in the cache %s", len(layers) * len(variants), directory)
        truncated = _count_truncated(tokenizer, sentences, max_length)
        reps.meta = {"key": key, "rows": len(sentences), "hidden_size": hidden, "storage_dtype": dtype,
                     "max_length": max_length, "truncated": truncated,
                     "cache_dir": None if temporary else str(directory),
                     "computed": [f"{v}-L{x}" for v, x in missing]}
        if not temporary:
            write_json(directory / "meta.json", {**reps.meta, "spans": spans, "pivot": pivot})
    except BaseException:
        reps.close()
        raise
    reps.encode_s = time.perf_counter() - start
    return reps


@torch.no_grad()
def _encode_missing(model, tokenizer, sentences, reps: Representations, missing, batch_size, max_length,
                    np_dtype, progress, desc) -> None:
    device = next(model.parameters()).device
    n = len(sentences)
    needed = sorted({x for _, x in missing})
    # Longest first over the whole set, so each batch pads little and memory peaks at the start.
    order = np.array(sorted(range(n), key=lambda i: len(sentences[i]), reverse=True))
    tmp_paths = {m: reps.path(*m).with_name(f".{reps.path(*m).name}.{os.getpid()}.tmp") for m in missing}
    maps = {m: open_memmap(tmp_paths[m], mode="w+", dtype=np_dtype, shape=(n, reps.hidden_size))
            for m in missing}
    try:
        with tqdm(total=n, desc=desc, unit="sent", disable=not progress) as bar:
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                enc = _tokenize(tokenizer, [sentences[i] for i in idx], max_length)
                attn = enc["attention_mask"].to(device)
                states = hidden_states_at(model, enc["input_ids"].to(device), attn, needed)  # {L: (B, T, H)}
                masks = {}
                for (variant, layer), arr in maps.items():
                    base, special = parse_variant(variant)
                    if variant not in masks:
                        masks[variant] = pooling_mask(attn, enc["special_tokens_mask"].to(device), special)
                    arr[idx] = pool(states[layer], masks[variant], base).float().cpu().numpy()  # (B, H)
                bar.update(len(idx))
        for arr in maps.values():
            arr.flush()
        maps.clear()  # closes the memory maps before the files are renamed
        for m in missing:
            os.replace(tmp_paths[m], reps.path(*m))
    finally:
        maps.clear()
        for path in tmp_paths.values():
            path.unlink(missing_ok=True)


def _tokenize(tokenizer, sentences: list[str], max_length: int | None):
    """:func:`tokenize_for_pooling`, always padded on the right.

    Pooling reads only the mask, so either side would do, but models with absolute position
    embeddings (GPT-2, XGLM) number positions from the first column: under left padding a
    sentence's states would depend on how long the other sentences in its batch are.
    Right padding leaves every sentence's content at positions 0..n-1 in any batch.
    """
    return tokenizer(
        sentences, padding=True, truncation=max_length is not None, max_length=max_length,
        return_tensors="pt", return_special_tokens_mask=True, padding_side="right",
    )


def _count_truncated(tokenizer, sentences: Sequence[str], max_length: int | None) -> int:
    if max_length is None:
        return 0
    lengths = [len(ids) for ids in tokenizer(list(sentences), add_special_tokens=True)["input_ids"]]
    truncated = sum(length > max_length for length in lengths)
    if truncated:
        logger.warning("%d of %d sentences are longer than max_length=%d tokens and were truncated",
                       truncated, len(sentences), max_length)
    return truncated

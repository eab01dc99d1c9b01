"""Training-free steering: move a language's hidden states toward English's while the model runs.

    steering = fit_steering(model, tokenizer, {"sw": (english, swahili)}, layers=[11], method="incline")
    with steered(model, steering, "sw"):
        ...  # every forward pass maps the input of block 11 with Swahili's map

Two methods, both fitted on translation pairs (development data only), one map per language and
layer, applied to the hidden state of every position at ``hidden_states[layer]`` (the input of
decoder block ``layer``; :mod:`crossalign.model.layers`):

- ``mean_shift``: ``h + strength * (mu_en - mu_lang)``, the difference of the mean sentence
  representations (mean-pooled, special tokens left out) of the two sides;
- ``incline`` (after INCLINE, Wang et al., ACL 2025: a linear map fitted by least squares that sends
  a language's representations to English's): ``h + strength * ((h - mu_lang) W + mu_en - h)`` with
  ``W = argmin ||Xc W - Yc||^2 + lam ||W - I||^2 = (Xc'Xc + lam I)^-1 (Xc'Yc + lam I)``, Xc / Yc the
  centred sentence representations of the language / English sides. The penalty shrinks ``W``
  toward the identity (then the map is the mean shift), not toward 0: with fewer pairs than hidden
  dimensions the plain least-squares map is not unique. ``lam = ridge * trace(Xc'Xc) / H``.

Every map is fitted on the unsteered model. Steering a language with no map is an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import torch
from torch import nn

from crossalign.model.encode import encode
from crossalign.model.layers import decoder_layers, num_layers

METHODS = ("mean_shift", "incline")


@dataclass
class SteerConfig:
    """The settings of a steering (``crossalign evaluate --steer.*``, the study's ``steer:``)."""

    method: str = field(default="none", metadata={
        "help": "none, or a training-free steering toward English while items are scored: mean_shift adds "
                "(mu_en - mu_lang) at `layers`; incline applies a least-squares linear map (INCLINE-style). "
                "Fitted per language on translation pairs.", "choices": ["none", *METHODS]})
    layers: list[int] = field(default_factory=list, metadata={
        "help": "hidden_states indices steered (1..n-1: the input of that decoder block)."})
    strength: float = field(default=1.0, metadata={"help": "How far toward the English map (1: all the way)."})
    ridge: float = field(default=0.1, metadata={
        "help": "incline: shrinkage of the map toward the identity, as a fraction of the mean eigenvalue of the "
                "language side's covariance."})
    max_length: int = field(default=64, metadata={"help": "Token limit per fitted sentence."})


@dataclass
class Steering:
    """Fitted maps: ``maps[lang][layer]`` holds ``shift`` (mean_shift) or ``mean_src``, ``mean_tgt`` and
    ``weight`` (incline), float32 CPU tensors; ``fit`` records what they were fitted on."""

    method: str
    layers: list[int]
    strength: float = 1.0
    maps: dict[str, dict[int, dict[str, torch.Tensor]]] = field(default_factory=dict)
    fit: dict = field(default_factory=dict)

    def apply(self, hidden: torch.Tensor, lang: str, layer: int, maps: dict | None = None) -> torch.Tensor:
        """``hidden`` (..., H) moved toward English with ``lang``'s map at ``layer``; same dtype.
        ``maps``: ``lang``'s maps already on ``hidden``'s device (what :func:`steered` passes)."""
        m = (maps or {}).get(layer) or {k: v.to(hidden.device) for k, v in self.maps[lang][layer].items()}
        h = hidden.float()
        if self.method == "mean_shift":
            moved = h + self.strength * m["shift"]
        else:
            moved = h + self.strength * ((h - m["mean_src"]) @ m["weight"] + m["mean_tgt"] - h)
        return moved.to(hidden.dtype)


def _check_layers(model: nn.Module, layers: Sequence[int]) -> list[int]:
    n = num_layers(model)
    bad = [x for x in layers if not 1 <= int(x) < n]
    if bad or not layers:
        raise ValueError(f"steering layers {list(layers)}: give layers in 1..{n - 1} (the input of a decoder "
                         f"block; 0 is the embedding output and {n} the final norm's output)")
    return sorted({int(x) for x in layers})


def incline_weight(src: torch.Tensor, tgt: torch.Tensor, ridge: float) -> torch.Tensor:
    """The (H, H) map of centred ``src`` rows to centred ``tgt`` rows, shrunk toward the identity
    (see the module docstring); computed in float64."""
    x = src.double() - src.double().mean(0)
    y = tgt.double() - tgt.double().mean(0)
    h = x.shape[1]
    gram = x.T @ x
    lam = ridge * float(torch.trace(gram)) / h
    eye = torch.eye(h, dtype=torch.float64)
    if lam <= 0:
        return (torch.linalg.pinv(x) @ y).float()
    return torch.linalg.solve(gram + lam * eye, x.T @ y + lam * eye).float()


@torch.no_grad()
def fit_steering(
    model: nn.Module,
    tokenizer,
    pairs: dict[str, tuple[Sequence[str], Sequence[str]]],
    layers: Sequence[int],
    method: str = "mean_shift",
    *,
    strength: float = 1.0,
    ridge: float = 0.1,
    batch_size: int = 32,
    max_length: int = 64,
) -> Steering:
    """Maps for each language of ``pairs`` (``{lang: (English sentences, lang sentences)}``, row i of
    the two sides translations of each other) at each of ``layers``."""
    if method not in METHODS:
        raise ValueError(f"steering method {method!r}: choose from {list(METHODS)}")
    layers = _check_layers(model, layers)
    was_training = model.training
    model.eval()
    maps: dict[str, dict[int, dict[str, torch.Tensor]]] = {}
    try:
        for lang, (eng, other) in pairs.items():
            if len(eng) != len(other) or len(eng) < 2:
                raise ValueError(f"steering pairs of {lang}: {len(eng)} English and {len(other)} other sentences "
                                 "(give at least 2 pairs, row by row)")
            kw = dict(layers=layers, pooling="mean", include_special=False, batch_size=batch_size,
                      max_length=max_length)
            e, o = encode(model, tokenizer, list(eng), **kw), encode(model, tokenizer, list(other), **kw)
            maps[lang] = {}
            for layer in layers:
                mu_e, mu_o = e[layer].mean(0), o[layer].mean(0)
                if method == "mean_shift":
                    maps[lang][layer] = {"shift": mu_e - mu_o}
                else:
                    maps[lang][layer] = {"mean_src": mu_o, "mean_tgt": mu_e,
                                         "weight": incline_weight(o[layer], e[layer], ridge)}
    finally:
        model.train(was_training)
    fit = {"pairs": {lang: len(p[0]) for lang, p in pairs.items()}, "ridge": ridge if method == "incline" else None,
           "pooling": "mean", "max_length": max_length}
    return Steering(method=method, layers=layers, strength=strength, maps=maps, fit=fit)


def language_context(model: nn.Module, steering: Steering | None):
    """``lang -> context manager``: :func:`steered` for the languages ``steering`` has maps for, a no-op for
    the others (and for every language without a steering)."""
    def context(lang: str):
        if steering is None or lang not in steering.maps:
            return nullcontext()
        return steered(model, steering, lang)

    return context


def save_steering(steering: Steering, path) -> None:
    """The maps as safetensors (``{lang}.{layer}.{name}``), the settings in its metadata."""
    import json

    from safetensors.torch import save_file

    tensors = {f"{lang}.{layer}.{k}": v.contiguous() for lang, by_layer in steering.maps.items()
               for layer, m in by_layer.items() for k, v in m.items()}
    meta = {"method": steering.method, "layers": json.dumps(steering.layers), "strength": str(steering.strength),
            "fit": json.dumps(steering.fit)}
    save_file(tensors, str(path), metadata=meta)


@contextmanager
def steered(model: nn.Module, steering: Steering, lang: str) -> Iterator[None]:
    """Every forward pass of ``model`` inside the block applies ``lang``'s maps (hooks removed after)."""
    if lang not in steering.maps:
        raise KeyError(f"no steering map for {lang!r}; fitted: {sorted(steering.maps)}")
    blocks = decoder_layers(model)
    device = next(model.parameters()).device
    # moved to the model's device once here, not on every forward
    on_device = {layer: {k: v.to(device) for k, v in m.items()} for layer, m in steering.maps[lang].items()}

    def make_hook(layer: int):
        def hook(module, args, kwargs):
            if args:
                return (steering.apply(args[0], lang, layer, on_device), *args[1:]), kwargs
            return args, {**kwargs, "hidden_states": steering.apply(kwargs["hidden_states"], lang, layer, on_device)}

        return hook

    handles = [blocks[layer].register_forward_pre_hook(make_hook(layer), with_kwargs=True)
               for layer in steering.layers]
    try:
        yield
    finally:
        for h in handles:
            h.remove()

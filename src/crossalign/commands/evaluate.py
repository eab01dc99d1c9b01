"""Few-shot in-context-learning evaluation of any causal LM on XNLI, XCOPA, PAWS-X,
XStoryCloze and XWinograd, in-language or cross-lingual.

    crossalign evaluate --model.name_or_path facebook/xglm-564M --tasks xcopa pawsx \\
        --languages zh de --prompt-language en --shots 0 5 --seeds 0 1 2 --output-dir runs/eval
    crossalign evaluate --config runs/eval/config.yaml      # repeat a run from its saved configuration

    crossalign evaluate --model.name_or_path HuggingFaceTB/SmolLM2-135M-Instruct --tasks xcopa_zh paws_de \
        --apply-chat-template --fewshot-as-multiturn     # lm-eval task names; prompts as chats

Writes results.json (every run, summary over seeds, versions, resolved configuration),
results.md (a table), config.yaml, the same runs in lm-evaluation-harness' format
(results_<date>.json) and, with --predictions, predictions/<run>.jsonl and lm-eval's per-sample
logs (samples_<task>_<date>.jsonl). A task that fails does not stop the others: what ran is
written, the failures are listed in results.json (``failed``) and on stderr, and the exit code is 1.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from crossalign.data.sources import PairsSpec
from crossalign.errors import ConfigError
from crossalign.eval.runner import EvalConfig
from crossalign.io import check_output_dir, check_output_file
from crossalign.languages import normalize
from crossalign.model.load import ModelConfig
from crossalign.model.steering import SteerConfig
from crossalign.options import CONFIG_FILENAME, save_config, to_dict


@dataclass
class EvalSteerConfig(SteerConfig):
    """Steering while items are scored (no training): each evaluated language with pairs gets its maps,
    fitted on ``pairs`` before scoring; the others are scored as they are."""

    pairs: PairsSpec = field(default_factory=PairsSpec, metadata={
        "help": "Translation pairs between English and each language to steer (any format crossalign "
                "generate reads; use development data, never the test items)."})
    max_pairs: int = field(default=1000, metadata={"help": "Pairs fitted per language (the first N)."})


@dataclass
class Config(EvalConfig):
    model: ModelConfig = field(default_factory=lambda: ModelConfig())
    output_dir: str = field(default="runs/evaluate", metadata={"help": "Where results are written."})
    predictions: bool = field(default=False, metadata={
        "help": "Also write per-item predictions (JSON lines) and lm-eval's per-sample logs "
                "(samples_<task>_<date>.jsonl, like lm-eval's --log_samples)."})
    steer: EvalSteerConfig = field(default_factory=EvalSteerConfig)

    def validate(self) -> None:
        super().validate()
        if not self.model.name_or_path:
            raise ConfigError("model.name_or_path is empty: give a hub id, a checkpoint folder or a .gguf file")
        if self.steer.method != "none":
            if not self.steer.layers:
                raise ConfigError("steer.layers: give the layer(s) to steer (e.g. the model's best retrieval "
                                  "layer, from crossalign analyze)")
            if not self.steer.pairs.paths:
                raise ConfigError("steer.pairs.paths: give translation pairs to fit the steering maps on")
            if self.steer.max_pairs < 2:
                raise ConfigError("steer.max_pairs must be at least 2")


def steering_pairs(cfg: Config) -> dict[str, tuple[list[str], list[str]]]:
    """``{lang: (English, lang)}`` of the steering pairs, for the evaluated languages that have some;
    read (and refused when unusable) before the model loads."""
    from crossalign.analysis.inputs import group_by_language
    from crossalign.data.sources import read_pairs

    grouped = group_by_language(read_pairs(cfg.steer.pairs), pivot="en", max_per_language=cfg.steer.max_pairs)
    wanted = {normalize(x) for x in cfg.languages} if cfg.languages else None
    pairs = {lang: p for lang, p in grouped.items() if lang != "en" and (wanted is None or lang in wanted)}
    if not pairs:
        raise ConfigError(f"steer.pairs: no English pairs for the evaluated languages "
                          f"({', '.join(cfg.languages) or 'all'}) in {', '.join(cfg.steer.pairs.paths)}; the pairs "
                          f"hold {', '.join(sorted(grouped)) or 'none'}")
    return pairs

OUTPUT_FILES = ("results.json", "results.md", CONFIG_FILENAME)


def check_outputs(cfg: Config) -> None:
    """Refuse an output folder that cannot take this run's files, before any compute."""
    out = check_output_dir(cfg.output_dir, "output_dir")
    for name in OUTPUT_FILES:
        check_output_file(out / name, "output_dir")
    if cfg.predictions:
        check_output_dir(out / "predictions", "output_dir")


def main(cfg: Config) -> int:
    # Here, not at the top: `crossalign evaluate --help` needs the Config only (datasets and the
    # output writers add ~0.3-0.6 s to its start).
    from crossalign.eval.lm_eval_results import date_id
    from crossalign.eval.outputs import write_outputs
    from crossalign.eval.runner import check_data, evaluate
    from crossalign.eval.summary import markdown_table
    from crossalign.model.load import check_model_source, load_model, load_tokenizer

    check_outputs(cfg)
    check_data(cfg)
    check_model_source(cfg.model)
    pairs = steering_pairs(cfg) if cfg.steer.method != "none" else None
    tokenizer = load_tokenizer(cfg.model)
    if cfg.apply_chat_template:
        from crossalign.eval.chat import chat_template

        chat_template(tokenizer)  # no template: refused here, before the model loads
    model = load_model(cfg.model)
    steering = None
    if pairs:
        from crossalign.model.steering import fit_steering

        s = cfg.steer
        print(f"crossalign evaluate: fitting {s.method} steering at layer(s) {s.layers} on "
              f"{', '.join(f'{lang} {len(p[0])}' for lang, p in pairs.items())} pairs", file=sys.stderr)
        steering = fit_steering(model, tokenizer, pairs, s.layers, s.method, strength=s.strength, ridge=s.ridge,
                                max_length=s.max_length)
    from crossalign.model.steering import language_context

    results = evaluate(model, tokenizer, cfg, model_name=cfg.model.name_or_path, keep_going=True,
                       samples=cfg.predictions, context_for=language_context(model, steering))
    if steering is not None:
        results["steering"] = {"method": steering.method, "layers": steering.layers, "strength": steering.strength,
                               "fit": steering.fit, "languages": sorted(steering.maps)}
    failed = results.get("failed", [])
    for f in failed:
        print(f"crossalign evaluate: task {f['task']} failed: {f['error']}", file=sys.stderr)
    if not results["runs"]:
        print(f"crossalign evaluate: no run finished; nothing written to {cfg.output_dir}", file=sys.stderr)
        return 1
    save_config(cfg, cfg.output_dir)
    date = date_id()
    path = write_outputs(results, cfg.output_dir, config=to_dict(cfg), predictions=cfg.predictions, date=date)
    maps = path.parent / "steering.safetensors"
    if steering is not None:
        from crossalign.model.steering import save_steering

        save_steering(steering, maps)
    elif maps.exists():  # an earlier steered run's maps: one folder holds one run
        maps.unlink()
    print(markdown_table(results["summary"]), end="")
    print(f"results: {path} (lm-evaluation-harness format: {path.parent / f'results_{date}.json'})")
    if failed:
        print(f"crossalign evaluate: {len(failed)} of {len(cfg.tasks)} tasks failed; the results of the others "
              f"are in {path}", file=sys.stderr)
        return 1
    return 0

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

from crossalign.errors import ConfigError
from crossalign.eval.runner import EvalConfig
from crossalign.io import check_output_dir, check_output_file
from crossalign.model.load import ModelConfig
from crossalign.options import CONFIG_FILENAME, save_config, to_dict


@dataclass
class Config(EvalConfig):
    model: ModelConfig = field(default_factory=lambda: ModelConfig())
    output_dir: str = field(default="runs/evaluate", metadata={"help": "Where results are written."})
    predictions: bool = field(default=False, metadata={
        "help": "Also write per-item predictions (JSON lines) and lm-eval's per-sample logs "
                "(samples_<task>_<date>.jsonl, like lm-eval's --log_samples)."})

    def validate(self) -> None:
        super().validate()
        if not self.model.name_or_path:
            raise ConfigError("model.name_or_path is empty: give a hub id, a checkpoint folder or a .gguf file")


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
    tokenizer = load_tokenizer(cfg.model)
    if cfg.apply_chat_template:
        from crossalign.eval.chat import chat_template

        chat_template(tokenizer)  # no template: refused here, before the model loads
    model = load_model(cfg.model)
    results = evaluate(model, tokenizer, cfg, model_name=cfg.model.name_or_path, keep_going=True,
                       samples=cfg.predictions)
    failed = results.get("failed", [])
    for f in failed:
        print(f"crossalign evaluate: task {f['task']} failed: {f['error']}", file=sys.stderr)
    if not results["runs"]:
        print(f"crossalign evaluate: no run finished; nothing written to {cfg.output_dir}", file=sys.stderr)
        return 1
    save_config(cfg, cfg.output_dir)
    date = date_id()
    path = write_outputs(results, cfg.output_dir, config=to_dict(cfg), predictions=cfg.predictions, date=date)
    print(markdown_table(results["summary"]), end="")
    print(f"results: {path} (lm-evaluation-harness format: {path.parent / f'results_{date}.json'})")
    if failed:
        print(f"crossalign evaluate: {len(failed)} of {len(cfg.tasks)} tasks failed; the results of the others "
              f"are in {path}", file=sys.stderr)
        return 1
    return 0

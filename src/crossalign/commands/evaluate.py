"""Few-shot in-context-learning evaluation of any causal LM on XNLI, XCOPA, PAWS-X,
XStoryCloze and XWinograd, in-language or cross-lingual.

    crossalign evaluate --model.name_or_path facebook/xglm-564M --tasks xcopa pawsx \\
        --languages zh de --prompt-language en --shots 0 5 --seeds 0 1 2 --output-dir runs/eval
    crossalign evaluate --config configs/eval.yaml --data-dir ../shared/data

Writes results.json (every run, summary over seeds, versions, resolved configuration),
results.md (a table), config.yaml and, with --predictions, predictions/<run>.jsonl.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crossalign.config import save_config, to_dict
from crossalign.errors import ConfigError
from crossalign.eval.runner import EvalConfig
from crossalign.model.load import ModelConfig


@dataclass
class Config(EvalConfig):
    model: ModelConfig = field(default_factory=lambda: ModelConfig())
    output_dir: str = field(default="runs/evaluate", metadata={"help": "Where results are written."})
    predictions: bool = field(default=False, metadata={
        "help": "Also write per-item predictions (JSON lines)."})

    def validate(self) -> None:
        super().validate()
        if not self.model.name_or_path:
            raise ConfigError("model.name_or_path is empty: give a hub id, a checkpoint folder or a .gguf file")


def main(cfg: Config) -> int:
    from crossalign.eval.outputs import write_outputs
    from crossalign.eval.runner import evaluate, markdown_table
    from crossalign.model.load import load_model, load_tokenizer

    tokenizer = load_tokenizer(cfg.model)
    model = load_model(cfg.model)
    results = evaluate(model, tokenizer, cfg, model_name=cfg.model.name_or_path)
    save_config(cfg, cfg.output_dir)
    path = write_outputs(results, cfg.output_dir, config=to_dict(cfg), predictions=cfg.predictions)
    print(markdown_table(results["summary"]), end="")
    print(f"results: {path}")
    return 0

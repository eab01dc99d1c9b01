"""Runs `crossalign train` through the CLI (under torchrun or alone) and saves every rank's
parameters at the end of training (before the final save merges LoRA) to
``$CROSSALIGN_TEST_DUMP/rank<RANK>.safetensors``, so that a test can compare the ranks with each
other and with a one-process run. Test-side only: it wraps build_run to add a callback."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from safetensors.torch import save_file
from transformers import TrainerCallback

from crossalign.cli import main
from crossalign.train import wiring


class DumpParameters(TrainerCallback):
    def __init__(self, lm):
        self.lm = lm

    def on_train_end(self, args, state, control, **kwargs):
        folder = Path(os.environ["CROSSALIGN_TEST_DUMP"])
        folder.mkdir(parents=True, exist_ok=True)
        params = {k: v.detach().clone().contiguous() for k, v in self.lm.named_parameters()}
        save_file(params, str(folder / f"rank{os.environ.get('RANK', '0')}.safetensors"))


_build = wiring.build_run


def _build_and_watch(cfg, say=print):
    run = _build(cfg, say)
    run.trainer.add_callback(DumpParameters(run.lm))
    return run


wiring.build_run = _build_and_watch

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

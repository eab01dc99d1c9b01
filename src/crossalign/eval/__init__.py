"""Few-shot in-context-learning evaluation (XNLI, XCOPA, PAWS-X, XStoryCloze, XWinograd).

Data flows render -> batch -> forward -> decide:

* ``tasks.py`` + ``tasks/*.yaml``: the benchmarks as data, one file each (languages, splits,
  sources and their field maps, templates); a new file is a new task;
* ``words.py`` + ``words.yaml``: per-language words the templates need;
* ``loaders.py``: items from the hub or from local files, mapped as the task file says; the
  file layouts (``tsv``, ``jsonl``, ``xwinograd_tsv``) in one registry;
* ``demos.py``: k demonstrations per item, seeded, never the item itself;
* ``render.py``: template + item -> (context, continuation) strings -> token ids;
* ``scoring.py``: the batched, prefix-cached log-likelihood engine;
* ``chat.py``: prompts through the tokenizer's chat template (instruction-tuned models);
* ``runner.py``: tasks x language pairs x shots x seeds -> metrics; ``outputs.py`` writes them,
  ``lm_eval_results.py`` in lm-evaluation-harness' format too;
* ``callback.py``: evaluation during training with best-checkpoint selection.

    crossalign evaluate --help
"""

"""Few-shot in-context-learning evaluation (XNLI, XCOPA, PAWS-X, XStoryCloze, XWinograd).

Data flows render -> batch -> forward -> decide:

* ``tasks.py`` + ``tasks/*.yaml``: the benchmarks as data (languages, splits, sources, templates);
* ``words.py`` + ``words.yaml``: per-language words the templates need;
* ``loaders.py``: items from the hub or from local files in the published layouts;
* ``demos.py``: k demonstrations per item, seeded, never the item itself;
* ``render.py``: template + item -> (context, continuation) strings -> token ids;
* ``scoring.py``: the batched, prefix-cached log-likelihood engine;
* ``runner.py``: tasks x language pairs x shots x seeds -> metrics; ``outputs.py`` writes them;
* ``callback.py``: evaluation during training with best-checkpoint selection.

    crossalign evaluate --help
"""

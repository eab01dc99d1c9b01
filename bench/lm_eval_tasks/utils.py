"""Document functions for the local-file lm-evaluation-harness tasks in this folder.

They reproduce the harness' own ``xcopa`` (zh) and ``paws-x`` (de) task functions so that
lm-eval scores the files in ../shared/data exactly as it scores the hub datasets.
"""

import re


def xcopa_zh_text(doc):
    connector = {"cause": "因为", "effect": "所以"}[doc["question"]]
    return doc["premise"].strip()[:-1] + f" {connector}"


def xcopa_choice(doc):
    return [c[0].lower() + c[1:] for c in (doc["choice1"], doc["choice2"])]


def _detok(s):
    s = s.replace(" n't", "n't").replace(" )", ")").replace("( ", "(").replace('" ', '"').replace(' "', '"')
    return re.sub(r" (['.,])", r"\1", s)


def pawsx_process_docs(dataset):
    def fix(doc):
        doc["sentence1"] = _detok(doc["sentence1"]).strip()
        doc["sentence2"] = _detok(doc["sentence2"]).strip()
        if doc["sentence1"].endswith((".", ",", ";")):
            doc["sentence1"] = doc["sentence1"][:-1]
        doc["sentence2"] = doc["sentence2"][0].lower() + doc["sentence2"][1:]
        return doc

    def keep(d):
        return d["sentence1"] not in (None, "") and d["sentence2"] not in (None, "")

    return dataset.filter(keep).map(fix)

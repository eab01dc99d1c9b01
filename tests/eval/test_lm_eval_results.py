"""The lm-evaluation-harness-format outputs: read with lm-eval's own reader logic and checked field by
field against the schema lm-eval 0.4.13 writes (lm-eval is not installed in CI: the schema is
encoded below).

The reference schema was taken from files lm-eval 0.4.13 wrote on a tiny model, the local-file
task configs of bench/lm_eval_tasks and 3 items (``lm_eval --model hf --model_args
pretrained=<tiny llama> --tasks xcopa_zh_local,paws_de_local --include_path bench/lm_eval_tasks
--log_samples --limit 3 --num_fewshot 1 --output_path out``), and from lm_eval/result_schema.py.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from crossalign.eval.lm_eval_results import task_names
from crossalign.eval.outputs import write_outputs
from crossalign.eval.runner import EvalConfig, evaluate
from crossalign.eval.tasks import load_task
from crossalign.options import to_dict

NUM = (int, float)
OPT_STR = (str, type(None))
# top-level key -> type, as lm-eval 0.4.13 writes results_<date>.json ("groups" only with a group)
TOP = {
    "results": dict, "groups": dict, "group_subtasks": dict, "configs": dict, "versions": dict, "n-shot": dict,
    "higher_is_better": dict, "n-samples": dict, "config": dict, "git_hash": OPT_STR, "date": float,
    "pretty_env_info": str, "transformers_version": str, "lm_eval_version": OPT_STR, "upper_git_hash": OPT_STR,
    "tokenizer_pad_token": list, "tokenizer_eos_token": list, "tokenizer_bos_token": list,
    "eot_token_id": (int, type(None)), "max_length": (int, type(None)), "task_hashes": dict,
    "model_source": str, "model_name": str, "model_name_sanitized": str, "system_instruction": OPT_STR,
    "system_instruction_sha": OPT_STR, "fewshot_as_multiturn": (bool, type(None)), "chat_template": OPT_STR,
    "chat_template_sha": OPT_STR, "total_evaluation_time_seconds": str,
}
CONFIG = {  # results["config"]
    "model": str, "model_args": (str, dict), "model_num_parameters": int, "model_dtype": str,
    "model_revision": OPT_STR, "model_sha": str, "batch_size": (int, str), "batch_sizes": list,
    "device": OPT_STR, "use_cache": OPT_STR, "limit": (float, int, type(None)), "bootstrap_iters": int,
    "gen_kwargs": (dict, str, type(None)), "random_seed": (int, type(None)), "numpy_seed": (int, type(None)),
    "torch_seed": (int, type(None)), "fewshot_seed": (int, type(None)),
}
TASK_CONFIG = {  # configs[task]: the keys lm-eval's task dump always has for a multiple-choice task
    "task": str, "dataset_path": str, "fewshot_split": OPT_STR, "doc_to_text": (str, list),
    "doc_to_target": str, "doc_to_choice": (str, list), "description": str, "target_delimiter": str,
    "fewshot_delimiter": str, "fewshot_config": dict, "num_fewshot": int, "metric_list": list,
    "output_type": str, "repeats": int, "should_decontaminate": bool, "metadata": dict,
}
SAMPLE = {  # one line of samples_<task>_<date>.jsonl, before the per-sample metrics
    "doc_id": int, "doc": dict, "target": str, "arguments": dict, "resps": list, "filtered_resps": list,
    "filter": str, "metrics": list, "doc_hash": str, "prompt_hash": str, "target_hash": str,
}
DATE = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{6}"


def check_types(obj: dict, schema: dict, where: str, optional=()) -> None:
    for key, types in schema.items():
        if key in optional and key not in obj:
            continue
        assert key in obj, f"{where}: missing {key!r}"
        assert isinstance(obj[key], types), f"{where}: {key!r} is {type(obj[key]).__name__}"


# lm-eval's readers (lm_eval/utils.py 0.4.13), restated: file discovery and names
def results_files(paths: list[str]) -> list[str]:
    return [p for p in paths if "/results_" in p and ".json" in p]


def sample_files(paths: list[str]) -> list[str]:
    return [p for p in paths if "/samples_" in p and ".json" in p]


def file_task(filename: str) -> str:
    return filename[filename.find("_") + 1 : filename.rfind("_")]


def table_rows(doc: dict, column: str = "results") -> list[tuple]:
    """What lm_eval.utils.make_table prints: (task, version, filter, n-shot, metric, value, stderr)."""
    rows = []
    for task, entry in doc[column].items():
        entry = dict(entry)
        for key in ("alias", "name", "sample_len", "sample_count"):
            entry.pop(key, None)
        for mf, value in sorted(entry.items()):
            metric, _, filt = mf.partition(",")
            if metric.endswith("_stderr"):
                continue
            assert isinstance(value, float), (task, mf)
            stderr = entry.get(f"{metric}_stderr,{filt}")
            assert stderr == "N/A" or isinstance(stderr, float), (task, mf)
            rows.append((task, doc["versions"][task], filt, doc["n-shot"][task], metric, value, stderr))
    return rows


def quiet(*_):
    pass


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory, shared_data):
    from crossalign.testing import tiny_model, tiny_tokenizer

    tok = tiny_tokenizer("right")
    model = tiny_model("llama", tok, max_positions=8192)
    cfg = EvalConfig(tasks=["xcopa_it", "xcopa_zh"], prompt_language="same", shots=[1], seeds=[3],
                     data_dir=str(shared_data), limit=5, progress=False)
    cfg.validate()
    res = evaluate(model, tok, cfg, model_name="tiny/llama", log=quiet, samples=True)
    out = tmp_path_factory.mktemp("lm_eval")
    write_outputs(res, out, config=to_dict(cfg), predictions=True, date="2026-11-22T10-04-31.123456")
    return out, res


def test_results_file_has_lm_evals_schema_and_names(run_folder):
    out, res = run_folder
    paths = sorted(p.as_posix() for p in out.iterdir())
    (results_path,) = results_files(paths)
    assert re.fullmatch(rf"results_{DATE}\.json", Path(results_path).name)
    doc = json.loads(Path(results_path).read_text())
    check_types(doc, TOP, "results file")
    assert set(doc) - set(TOP) == {"crossalign_version"}
    check_types(doc["config"], CONFIG, "config")
    # one shot count, one seed, in-language: exactly lm-eval's task names, and its group
    assert set(doc["configs"]) == {"xcopa_it", "xcopa_zh"}
    assert list(doc["results"]) == ["xcopa_it", "xcopa_zh", "xcopa"] and doc["group_subtasks"] == {
        "xcopa": ["xcopa_it", "xcopa_zh"]}
    for task in ("xcopa_it", "xcopa_zh"):
        entry = doc["results"][task]
        assert list(entry)[:3] == ["name", "alias", "sample_len"] and entry["sample_len"] == 5
        check_types(doc["configs"][task], TASK_CONFIG, f"configs[{task}]")
        assert all(m["aggregation"] == "mean" for m in doc["configs"][task]["metric_list"])
        assert doc["n-samples"][task] == {"original": 500, "effective": 5}  # the XCOPA test split
        assert doc["n-shot"][task] == 1 and doc["versions"][task] == 1.0
        assert doc["higher_is_better"][task] == {"acc": True, "acc_bytes": True}
        assert doc["configs"][task]["metadata"]["seed"] == 3
    # lm-eval's stderr of a mean: sample standard deviation over sqrt(n), by hand
    run = "xcopa.it-it.1shot.seed3"
    hits = [float(p["pred"] == p["label"]) for p in res["predictions"][run]]
    p = sum(hits) / 5
    assert doc["results"]["xcopa_it"]["acc,none"] == pytest.approx(res["runs"][0]["metrics"]["acc"]) == p
    assert doc["results"]["xcopa_it"]["acc_stderr,none"] == pytest.approx(math.sqrt(p * (1 - p) / 4))
    # the group: the size-weighted mean and lm-eval's pooled standard error
    it, zh, group = (doc["results"][k] for k in ("xcopa_it", "xcopa_zh", "xcopa"))
    assert group["acc,none"] == pytest.approx((it["acc,none"] + zh["acc,none"]) / 2)
    pooled = (4 * it["acc_stderr,none"] ** 2 * 5 + 4 * zh["acc_stderr,none"] ** 2 * 5) / (10 - 2)
    assert group["acc_stderr,none"] == pytest.approx(math.sqrt(pooled / 10))
    assert doc["groups"]["xcopa"] == group and group["sample_count"] == {"acc,none": 10, "acc_bytes,none": 10}
    # make_table's reading: a float and its stderr for every metric of every task and group
    rows = table_rows(doc)
    assert {(r[0], r[4]) for r in rows} == {(t, m) for t in ("xcopa_it", "xcopa_zh", "xcopa")
                                             for m in ("acc", "acc_bytes")}
    assert len(table_rows(doc, "groups")) == 2


def test_sample_logs_have_lm_evals_schema(run_folder):
    out, res = run_folder
    paths = sorted(p.as_posix() for p in out.iterdir())
    doc = json.loads(Path(results_files(paths)[0]).read_text())
    files = sample_files(paths)
    assert sorted(file_task(Path(f).name) for f in files) == ["xcopa_it", "xcopa_zh"]
    for f in files:
        task = file_task(Path(f).name)
        assert re.fullmatch(rf"samples_{task}_{DATE}\.jsonl", Path(f).name)
        rows = [json.loads(x) for x in Path(f).read_text().splitlines()]
        assert [r["doc_id"] for r in rows] == list(range(5))
        for r in rows:
            check_types(r, SAMPLE, f"{task} sample")
            assert list(r)[: len(SAMPLE)] == list(SAMPLE) and r["metrics"] == ["acc", "acc_bytes"]
            assert set(r) == set(SAMPLE) | {"acc", "acc_bytes"}
            assert list(r["arguments"]) == ["gen_args_0", "gen_args_1"]
            for args in r["arguments"].values():
                assert list(args) == ["arg_0", "arg_1"] and all(isinstance(a, str) for a in args.values())
            # [log-likelihood, is_greedy] as strings, one list per request (resps) or not (filtered)
            assert all(isinstance(x, str) for resp in r["resps"] for x in resp[0]) and len(r["resps"]) == 2
            assert [x[0] for x in r["filtered_resps"]] == [resp[0][0] for resp in r["resps"]]
            assert r["target"] == str(r["doc"]["label"]) and r["filter"] == "none"
        # the per-sample metrics average to the task's figure; the log-likelihoods are ours
        assert sum(r["acc"] for r in rows) / 5 == pytest.approx(doc["results"][task]["acc,none"])
        lang = task.split("_")[1]
        preds = res["predictions"][f"xcopa.{lang}-{lang}.1shot.seed3"]
        assert [[float(x[0]) for x in r["filtered_resps"]] for r in rows] == [p["ll"] for p in preds]
        # 1-shot: the context holds the demonstration, then the item's premise
        first = rows[0]["arguments"]["gen_args_0"]["arg_0"]
        assert first.count("\n\n") == 1 and rows[0]["doc"]["premise"] in first.split("\n\n")[1]
    assert set(doc["task_hashes"]) == {"xcopa_it", "xcopa_zh"}


def test_files_load_with_datasets_json_as_the_hub_card_does(run_folder):
    """lm-eval's hub dataset card loads results and samples with ``load_dataset("json", ...)``."""
    from datasets import load_dataset

    out, _ = run_folder
    paths = sorted(p.as_posix() for p in out.iterdir())
    for f in sample_files(paths):
        assert len(load_dataset("json", data_files=f, split="train", cache_dir=str(out / ".cache"))) == 5
    results = load_dataset("json", data_files=results_files(paths)[0], split="train", cache_dir=str(out / ".cache"))
    assert results["results"][0]["xcopa_it"]["sample_len"] == 5


def _run(task, p, s, k, seed):
    return {"task": task, "prompt_language": p, "sample_language": s, "shots": k, "seed": seed}


def test_task_names_of_settings_shots_and_seeds():
    specs = {t: load_task(t) for t in ("xcopa", "pawsx", "xwinograd")}
    one = [_run("xwinograd", "ja", "ja", 5, 0), _run("pawsx", "de", "de", 5, 0), _run("pawsx", "en", "fr", 5, 0)]
    assert [v for v in task_names(one, specs).values()] == [
        ("xwinograd_jp", "xwinograd"), ("paws_de", "pawsx"), ("paws_fr_xl-en", "pawsx_xl-en")]
    several = [_run("xcopa", "en", "zh", 0, 0), _run("xcopa", "en", "zh", 5, 0), _run("xcopa", "en", "zh", 5, 1),
               _run("xcopa", "zh", "zh", 5, 1)]
    assert [v[0] for v in task_names(several, specs).values()] == [
        "xcopa_zh_xl-en_0shot", "xcopa_zh_xl-en_5shot_seed0", "xcopa_zh_xl-en_5shot_seed1", "xcopa_zh_5shot_seed1"]



def test_a_second_run_into_the_folder_replaces_the_first_runs_lm_eval_files(tmp_path, run_folder):
    """One folder holds one run: writing a run again leaves only the new run's lm-eval files (and
    other files alone)."""
    _, res = run_folder
    write_outputs(res, tmp_path, predictions=True, date="2026-11-22T10-00-00.000000")
    (tmp_path / "notes.txt").write_text("kept")
    write_outputs(res, tmp_path, predictions=True, date="2026-11-23T09-00-00.000000")
    assert sorted(p.name for p in tmp_path.glob("results_*.json")) == ["results_2026-11-23T09-00-00.000000.json"]
    assert sorted(p.name for p in tmp_path.glob("samples_*.jsonl")) == [
        "samples_xcopa_it_2026-11-23T09-00-00.000000.jsonl", "samples_xcopa_zh_2026-11-23T09-00-00.000000.jsonl"]
    assert (tmp_path / "notes.txt").read_text() == "kept"

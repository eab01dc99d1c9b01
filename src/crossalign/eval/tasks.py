"""Task specifications: the benchmarks described as data, one file each (``eval/tasks/*.yaml``).

A task file names the languages, the splits (which one is evaluated, which gives the
demonstrations, which count as test and so are never used for model selection), the item
fields, where the data lives and how a row becomes an item (a Hugging Face dataset id and
config with its field map; local file patterns, a layout and its field map: see
:mod:`crossalign.eval.loaders`) and the prompt templates. See ``docs/evaluation.md`` for the
format and ``docs/extending.md`` for adding a task.

The built-in tasks are the files in ``eval/tasks/``, found when this module is imported and
listed in :data:`TASKS` in the order of their ``order`` key (files without one follow, by name):
adding a task is adding a file.

Besides a task's own name (every language, or those of ``--languages``), lm-evaluation-harness'
names select a task and one language: ``xcopa_zh``, ``paws_de``, ``xwinograd_jp`` (the task
file's ``lm_eval_task`` pattern, with the dataset's spelling of the language), and
``{task}_{language}`` with our codes (``pawsx_de``, ``xwinograd_ja``). lm-eval's group names
(``xnli``, ``xcopa``, ``pawsx``, ``xwinograd``, ``xstorycloze``) are our task names.

    from crossalign.eval.tasks import load_task, TASKS
    spec = load_task("xcopa"); spec.template("lm_eval", "zh")
    select_task("paws_de")     # -> (the pawsx spec, ["de"])
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from crossalign.errors import ConfigError
from crossalign.languages import normalize

TASK_DIR = Path(__file__).parent / "tasks"
_TEMPLATE_KEYS = {"words", "context", "choices", "contexts", "continuation", "separator", "languages"}


@dataclass
class Template:
    name: str
    words: str | None
    separator: str
    context: str | None = None  # shared context; choices vary the continuation
    choices: list[str] | None = None
    contexts: list[str] | None = None  # one context per choice; a shared continuation
    continuation: str | None = None


@dataclass
class TaskSpec:
    name: str
    languages: list[str]
    splits: list[str]
    eval_split: str
    demo_split: str
    test_splits: list[str]
    parallel: bool
    hub: dict[str, Any]
    local: dict[str, Any]
    templates: dict[str, dict[str, Any]]
    default_template: str
    fields: list[str] = field(default_factory=list)  # item fields besides id and label (templates use them)
    codes: dict[str, str] = field(default_factory=dict)
    order: int | None = None  # position in the default task list (TASKS)
    lm_eval_task: str = ""  # lm-evaluation-harness' per-language task name, e.g. "paws_{code}"
    version: float = 1.0  # lm-eval's task version (configs[task]["metadata"]["version"])
    path: str = ""

    def lm_eval_name(self, lang: str) -> str:
        """lm-evaluation-harness' name of this task in (canonical) language ``lang``: xwinograd, ja
        -> ``xwinograd_jp``; pawsx, de -> ``paws_de``."""
        return (self.lm_eval_task or self.name + "_{code}").format(code=self.code(lang))

    def code(self, lang: str) -> str:
        """The dataset's spelling of a (canonical) language code, e.g. ja -> jp for XWinograd."""
        return self.codes.get(lang, lang)

    def check_language(self, lang: str) -> str:
        canon = normalize(lang)
        if canon not in self.languages:
            raise ConfigError(
                f"task {self.name} has no language {lang!r}; valid languages: {', '.join(self.languages)}"
            )
        return canon

    def check_split(self, split: str) -> str:
        if split not in self.splits:
            raise ConfigError(
                f"task {self.name} has no split {split!r}; valid splits: {', '.join(self.splits)}")
        return split

    def dev_splits(self) -> list[str]:
        return [s for s in self.splits if s not in self.test_splits]

    def template(self, name: str | None, lang: str) -> Template:
        """The template ``name`` (default: the task's) with overrides for item language ``lang``."""
        name = name or self.default_template
        if name not in self.templates:
            raise ConfigError(
                f"task {self.name} has no template {name!r}; valid templates: {', '.join(self.templates)}"
            )
        raw = copy.deepcopy(self.templates[name])
        raw.update(raw.pop("languages", {}).get(lang, {}))
        return Template(name=name, words=raw.get("words"), separator=raw.get("separator", "\n\n"),
                        context=raw.get("context"), choices=raw.get("choices"),
                        contexts=raw.get("contexts"), continuation=raw.get("continuation"))


def _require(data: dict, key: str, where: str) -> Any:
    if key not in data:
        raise ConfigError(f"{where}: missing key {key!r}")
    return data[key]


def _check_template(name: str, raw: dict, where: str) -> None:
    unknown = set(raw) - _TEMPLATE_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: template {name}: unknown keys {sorted(unknown)}; valid: {sorted(_TEMPLATE_KEYS)}")
    shared = raw.get("context") is not None and raw.get("choices")
    partial = raw.get("contexts") and raw.get("continuation") is not None
    if bool(shared) == bool(partial):
        raise ConfigError(
            f"{where}: template {name} needs either `context` + `choices` or `contexts` + `continuation`"
        )


def _check_source(source: dict, part: str, where: str) -> None:
    """The field map of ``hub`` or ``local``: ``label`` is a field name or ``{field, values}``."""
    label = source.get("label")
    if label is None or isinstance(label, str):
        return
    if not isinstance(label, dict) or not isinstance(label.get("field"), str) or not isinstance(
            label.get("values", {}), dict):
        raise ConfigError(f"{where}: {part}.label must be a field name or {{field: name, values: {{value: index}}}}")


def parse_task(data: dict, where: str) -> TaskSpec:
    spec = TaskSpec(
        name=_require(data, "name", where),
        languages=[normalize(x) for x in _require(data, "languages", where)],
        splits=list(_require(data, "splits", where)),
        eval_split=_require(data, "eval_split", where),
        demo_split=_require(data, "demo_split", where),
        test_splits=list(_require(data, "test_splits", where)),
        parallel=bool(data.get("parallel", False)),
        hub=dict(_require(data, "hub", where)),
        local=dict(_require(data, "local", where)),
        templates=dict(_require(data, "templates", where)),
        default_template=_require(data, "default_template", where),
        fields=[str(f) for f in data.get("fields") or []],
        codes={normalize(k): v for k, v in (data.get("codes") or {}).items()},
        order=data.get("order"),
        lm_eval_task=str(data.get("lm_eval_task") or ""),
        version=data.get("version", 1.0),
        path=where,
    )
    if spec.lm_eval_task and "{code}" not in spec.lm_eval_task:
        raise ConfigError(f"{where}: lm_eval_task must contain {{code}}, got {spec.lm_eval_task!r}")
    if isinstance(spec.version, bool) or not isinstance(spec.version, int | float):
        raise ConfigError(f"{where}: version must be a number, got {spec.version!r}")
    if spec.order is not None and (isinstance(spec.order, bool) or not isinstance(spec.order, int)):
        raise ConfigError(f"{where}: order must be an integer, got {spec.order!r}")
    for part in ("hub", "local"):
        _check_source(getattr(spec, part), part, where)
    for s in (spec.eval_split, spec.demo_split, *spec.test_splits):
        if s not in spec.splits:
            raise ConfigError(f"{where}: split {s!r} is not in splits {spec.splits}")
    for name, raw in spec.templates.items():
        _check_template(name, raw, where)
    if spec.default_template not in spec.templates:
        raise ConfigError(f"{where}: default_template {spec.default_template!r} is not defined")
    return spec


@cache
def read_task(path: Path) -> TaskSpec:
    """The spec in the task file ``path``."""
    if not path.exists():
        raise ConfigError(f"{path}: task file not found")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a task file must be a mapping")
    return parse_task(data, str(path))


def task_names(folder: Path = TASK_DIR) -> tuple[str, ...]:
    """The tasks in ``folder`` (file name = task name), by their ``order`` key, then by name."""
    specs = {}
    for path in sorted(folder.glob("*.yaml")):
        spec = read_task(path)
        if spec.name != path.stem:
            raise ConfigError(f"{path}: name {spec.name!r} differs from the file name; name it {path.stem!r}")
        specs[spec.name] = spec
    return tuple(sorted(specs, key=lambda n: (specs[n].order is None, specs[n].order or 0, n)))


TASKS = task_names()


def _language_names() -> dict[str, tuple[str, str]]:
    """name -> (built-in task, language) for every name that selects one language."""
    out: dict[str, tuple[str, str]] = {}
    for task in TASKS:
        spec = read_task(TASK_DIR / f"{task}.yaml")
        for lang in spec.languages:
            for name in (spec.lm_eval_name(lang), f"{task}_{lang}"):
                out.setdefault(name, (task, lang))
    return out


LANGUAGE_NAMES = _language_names()


def valid_names() -> str:
    """Every accepted task name, compactly: ``xnli, ... (or a task .yaml file); one language:
    xnli_{ar,bg,...}, paws_{de,...}, ...``."""
    families: dict[tuple[str, str], list[str]] = {}  # (prefix, suffix) -> codes
    for task in TASKS:
        spec = read_task(TASK_DIR / f"{task}.yaml")
        for pattern, code in ((spec.lm_eval_task or task + "_{code}", spec.code), (task + "_{code}", str)):
            prefix, _, suffix = pattern.partition("{code}")
            codes = families.setdefault((prefix, suffix), [])
            codes += [c for c in map(code, spec.languages) if c not in codes]
    one = ", ".join(f"{p}{{{','.join(c)}}}{s}" for (p, s), c in families.items())
    return f"{', '.join(TASKS)} (or a task .yaml file); one language: {one}"


def select_task(name: str) -> tuple[TaskSpec, list[str] | None]:
    """(spec, languages) that a task name selects: a built-in name or a task file selects every
    language (None: those of ``--languages``, or all); an lm-eval name like ``xcopa_zh`` one."""
    if name in LANGUAGE_NAMES and name not in TASKS:
        task, lang = LANGUAGE_NAMES[name]
        return load_task(task), [lang]
    return load_task(name), None


def load_task(name: str) -> TaskSpec:
    """The spec of a built-in task (by our name or an lm-eval name such as ``paws_de``), or of a
    task file given by path (``my_task.yaml``)."""
    path = Path(name)
    if path.suffix not in (".yaml", ".yml"):
        if name in LANGUAGE_NAMES and name not in TASKS:
            name = LANGUAGE_NAMES[name][0]
        if name not in TASKS:
            close = difflib.get_close_matches(name, [*TASKS, *LANGUAGE_NAMES], n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigError(f"unknown task {name!r}{hint}; valid tasks: {valid_names()}")
        path = TASK_DIR / f"{name}.yaml"
    return read_task(path)

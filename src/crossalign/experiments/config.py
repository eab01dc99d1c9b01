"""Configuration of the evidence study: one :class:`ExperimentConfig` per run, one :class:`StudyConfig`
listing them.

    configs/experiments/afp_gemma.yaml    # one run: model, alignment data, training, measurements
    configs/study.yaml                    # the runs of the study, and what --quick changes

An experiment is either a base model (``align: false``: measured as it is) or an alignment run
(``align: true``: trained with ``train``, then measured). Every run is measured the same way:
Tatoeba retrieval at every layer (the test set of the representation analysis) and few-shot
ICL (``evaluate``, once per prompt setting in ``settings``). Selection happens on development
data only: ``layer: auto`` is resolved on held-out *training* pairs before training, and
the dev retrieval on held-out DDTP pairs is logged while training (``train.monitor``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crossalign.data.filters import FilterConfig
from crossalign.errors import ConfigError
from crossalign.eval.runner import EvalConfig
from crossalign.languages import normalize
from crossalign.model.load import ModelConfig
from crossalign.model.steering import SteerConfig
from crossalign.pipeline.data import AlignmentData
from crossalign.train.config import TrainConfig

GROUPS = ("base", "afp", "ablation", "lever", "reference", "steer")
TATOEBA_16 = ["ara", "cmn", "deu", "fra", "hin", "ind", "ita", "jpn", "kor", "nld", "pol", "por", "rus", "spa",
              "tur", "vie"]
DDTP_LANGUAGES = ["cs", "de", "es", "fi", "fr", "it", "ja", "ko", "pl", "pt", "ru", "uk", "zh"]


@dataclass
class TatoebaConfig:
    data_dir: str = field(default="../shared/data/tatoeba", metadata={
        "help": "Folder of tatoeba.xxx-eng.{xxx,eng} files (the LASER / XTREME test sets)."})
    languages: list[str] = field(default_factory=lambda: list(TATOEBA_16), metadata={
        "help": "Tatoeba file codes (3 letters) to measure."})
    pairs: int | None = field(default=None, metadata={
        "help": "Test set: the first N pairs of each language (none: every pair before the dev split; "
                "900 of the 1000 in the LASER files)."})
    dev_pairs: int = field(default=100, metadata={
        "help": "Dev split: the last N pairs of each language, never in the test set. Scored at every "
                "layer (what `layer_from: base_dev` reads) and at every checkpoint of aligned runs; 0: none."})
    poolings: list[str] = field(default_factory=lambda: ["mean", "last"], metadata={
        "help": "Poolings measured at every layer (one forward pass for all)."})
    batch_size: int = field(default=32, metadata={"help": "Sentences per forward pass."})
    max_length: int = field(default=64, metadata={"help": "Token limit per sentence (longer: truncated)."})


@dataclass
class StudySteerConfig(SteerConfig):
    """A training-free baseline of the study: the baseline model steered while ICL items are scored
    (in-language setting only), the maps fitted on an XCOPA split and its English translations."""

    split: str = field(default="validation", metadata={
        "help": "XCOPA split whose items and English translations fit the maps (development data)."})
    fields: list[str] = field(default_factory=lambda: ["premise", "choice1", "choice2"], metadata={
        "help": "Item fields used as translation pairs."})


@dataclass
class LanguageAlignmentConfig:
    pairs: int = field(default=0, metadata={
        "help": "Per-language alignment at every layer (top-1 retrieval and mutual nearest neighbours) on the "
                "first N XCOPA items of `split` and their English translations, for the correlation of "
                "alignment with ICL accuracy across languages; 0: not measured."})
    split: str = field(default="test", metadata={"help": "XCOPA split of the sentences."})
    fields: list[str] = field(default_factory=lambda: ["premise"], metadata={"help": "Item fields used."})
    batch_size: int = field(default=32, metadata={"help": "Sentences per forward pass."})
    max_length: int = field(default=64, metadata={"help": "Token limit per sentence."})


@dataclass
class DevIclConfig:
    split: str = field(default="", metadata={
        "help": "ICL development split (e.g. validation) scored in-language on the final model and every saved "
                "checkpoint, for checkpoint and lever selection (never the test items); empty: not scored."})
    shots: list[int] = field(default_factory=lambda: [0], metadata={"help": "Shots scored on the dev split."})
    seeds: list[int] = field(default_factory=lambda: [0], metadata={"help": "Demonstration seeds (k-shot)."})


def _data_default() -> AlignmentData:

    return AlignmentData(
        sources=[], pairs=["../shared/data/parallel"], pivot="en", train_languages=list(DDTP_LANGUAGES),
        heldout_languages=[], heldout_pairs=100, max_train_pairs_per_language=2000,
        filters=FilterConfig(min_chars=12, max_chars=200, dedup="side"), change_probability=0.5, seed=0,
    )


def _eval_default() -> EvalConfig:
    return EvalConfig(tasks=["xcopa", "pawsx", "xnli", "xwinograd"], shots=[0, 5], seeds=[0, 1, 2],
                      data_dir="../shared/data", progress=False)


@dataclass
class ExperimentConfig:
    name: str = field(default="", metadata={"help": "Short name: the run's folder and its row in the tables."})
    description: str = field(default="", metadata={"help": "One line: what this run changes, and why."})
    group: str = field(default="afp", metadata={
        "help": "base (no training), afp, ablation, lever (a candidate of the study's lever search), reference or "
                "steer (a training-free baseline): where the run appears in the report.",
        "choices": list(GROUPS)})
    baseline: str = field(default="", metadata={
        "help": "Name of the base-model experiment this run is compared with (aligned runs)."})
    model: ModelConfig = field(
        default_factory=lambda: ModelConfig(name_or_path="pypi:gemma-3-270m", dtype="float32"),
        metadata={"help": "The model (hub id, folder, .gguf, or pypi:gemma-3-270m / pypi:smollm2-135m)."})
    replica_of: str = field(default="", metadata={
        "help": "Name of the run this one repeats with another training seed: the report pools the "
                "replicas into the training-seed noise of that run."})
    layer_from: str = field(default="train", metadata={
        "help": "train: the pooled layer is train.contrastive.layer (a number, or auto: best on held-out "
                "alignment pairs); base_dev: the baseline's best layer on the Tatoeba dev split "
                "(for this run's pooling).", "choices": ["train", "base_dev"]})
    pretraining_tokens: float | None = field(default=None, metadata={
        "help": "The model's published pre-training token count (for the compute table)."})
    align: bool = field(default=True, metadata={"help": "Train (AFP) before measuring; false: a base model."})
    data: AlignmentData = field(default_factory=_data_default, metadata={
        "help": "Alignment pairs (DDTP by default), their split into train / dev, and the samples."})
    train: TrainConfig = field(default_factory=TrainConfig)
    tatoeba: TatoebaConfig = field(default_factory=TatoebaConfig)
    settings: list[str] = field(default_factory=lambda: ["same", "en"], metadata={
        "help": "ICL prompt settings: same = in-language, en = cross-lingual (English demonstrations "
                "and template)."})
    evaluate: EvalConfig = field(default_factory=_eval_default)
    in_language_shots: list[int] | None = field(default=None, metadata={
        "help": "Shots of the in-language setting (none: evaluate.shots)."})
    cross_lingual_languages: list[str] = field(default_factory=list, metadata={
        "help": "Languages of the cross-lingual setting (empty: evaluate.languages)."})
    steer: StudySteerConfig = field(default_factory=StudySteerConfig, metadata={
        "help": "A training-free baseline: steer the baseline model's hidden states instead of training."})
    language_alignment: LanguageAlignmentConfig = field(default_factory=LanguageAlignmentConfig)
    dev_icl: DevIclConfig = field(default_factory=DevIclConfig, metadata={
        "help": "Few-shot ICL on a development split, per checkpoint: what checkpoint and lever selection read."})

    @property
    def steered(self) -> bool:
        """A training-free baseline (``steer.method`` set): measured as its baseline model, steered."""
        return self.steer.method != "none"

    @property
    def compared(self) -> bool:
        """Compared with a baseline in the report: aligned or steered."""
        return self.align or self.steered

    def validate(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"experiment name {self.name!r}: give letters, digits, - or _")
        if self.layer_from == "base_dev" and self.tatoeba.dev_pairs <= 0:
            raise ConfigError(f"{self.name}: layer_from base_dev needs a Tatoeba dev split (tatoeba.dev_pairs > 0)")
        if self.tatoeba.dev_pairs < 0:
            raise ConfigError(f"{self.name}: tatoeba.dev_pairs must be >= 0")
        if self.align and not self.baseline:
            raise ConfigError(f"{self.name}: an aligned run needs `baseline` (the base experiment's name)")
        if self.steer.method != "none":
            if self.align:
                raise ConfigError(f"{self.name}: steer is a training-free baseline; set align: false")
            if not self.baseline:
                raise ConfigError(f"{self.name}: a steered run needs `baseline` (the model it steers)")
            if not self.steer.layers and self.layer_from != "base_dev":
                raise ConfigError(f"{self.name}: steer.layers is empty; give layers or layer_from: base_dev")
            if self.settings != ["same"]:
                raise ConfigError(f"{self.name}: steered runs score the in-language setting only (settings: [same])")
        for s in self.settings:
            if s != "same":
                normalize(s)  # unknown codes are an error naming them


@dataclass
class LeverSearchConfig:
    """Which change of the recipe to measure on test, chosen on development data only: every candidate is
    trained and scored on the dev splits; the one with the best non-English dev ICL accuracy (the recipe
    on ties) is measured on the test sets, the others never are."""

    recipe: str = field(default="", metadata={
        "help": "The study's recipe (an experiment name): measured on test in any case, and the reference "
                "the candidates must beat on dev."})
    candidates: list[str] = field(default_factory=list, metadata={
        "help": "Experiments that change one lever of the recipe (instruction weight, full fine-tuning...): "
                "trained and scored on the dev splits only, unless selected."})


@dataclass
class StudyConfig:
    output_dir: str = field(default="runs/study", metadata={"help": "Where every run is written."})
    experiments: list[str] = field(default_factory=list, metadata={
        "help": "Experiment YAML files, in the order they run (base models first)."})
    full_overrides: list[str] = field(default_factory=list, metadata={
        "help": "key=value settings (dotted, YAML values) applied to every experiment of the full (not --quick) "
                "variant: configs/study.yaml evaluates ICL on the full test sets there."})
    quick: bool = field(default=False, metadata={
        "help": "The quick variant: only quick_experiments, with quick_overrides applied to each."})
    quick_experiments: list[str] = field(default_factory=list, metadata={
        "help": "Names of the experiments of the quick variant."})
    quick_overrides: list[str] = field(default_factory=list, metadata={
        "help": "key=value settings (dotted, YAML values) applied to every experiment in the quick variant."})
    quick_output_dir: str = field(default="runs/study-quick", metadata={"help": "output_dir of the quick variant."})
    only: list[str] = field(default_factory=list, metadata={
        "help": "Run only these experiments (their baselines are still measured), any of the study's, also "
                "with --quick; the report covers every experiment whose results exist."})
    report: str = field(default="docs/results.md", metadata={"help": "The generated report (markdown)."})
    command: str = field(default="crossalign study --config configs/study.yaml", metadata={
        "help": "The command that regenerates the report, printed in its header."})
    quick_report: str = field(default="docs/results-quick.md", metadata={"help": "Report of the quick variant."})
    report_only: bool = field(default=False, metadata={"help": "Rewrite the report from existing results."})
    restore: str = field(default="", metadata={
        "help": "A runs archive (the runs.json.gz written beside a report): its runs' results are put back into "
                "the output folder where it has none, before anything runs (with --report_only: the report is "
                "regenerated from them, no run needed)."})
    levers: LeverSearchConfig = field(default_factory=LeverSearchConfig, metadata={
        "help": "A lever search selected on dev (the recipe and its candidates)."})
    seen_languages: list[str] = field(default_factory=lambda: list(DDTP_LANGUAGES), metadata={
        "help": "Languages with alignment pairs (the rest are reported as unseen)."})

    @property
    def folder(self) -> str:
        """The output folder of the variant run: quick_output_dir with --quick, else output_dir."""
        return self.quick_output_dir if self.quick else self.output_dir

    def validate(self) -> None:
        for name in ("full_overrides", "quick_overrides"):
            for item in getattr(self, name):
                if "=" not in item:
                    raise ConfigError(f"{name}: {item!r} is not key=value")
        if self.levers.candidates and not self.levers.recipe:
            raise ConfigError("levers.candidates needs levers.recipe (the experiment they change)")
        if self.levers.recipe in self.levers.candidates:
            raise ConfigError(f"levers: the recipe {self.levers.recipe!r} is also a candidate")

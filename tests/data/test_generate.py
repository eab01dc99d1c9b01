"""Sample generation: rendering, sampling statistics against the configured probabilities, repeat counts."""

from __future__ import annotations

import math
import random
import re
from collections import Counter

import pytest

from crossalign.data.generate import generate_samples, repeat_indices
from crossalign.data.instructions import Instruction, InstructionSet
from crossalign.data.pairs import Pair
from crossalign.data.templates import Templates, render_instruction, render_translation
from crossalign.errors import ConfigError, InputError
from crossalign.languages import name


def instruction_set(langs: list[str], n: int) -> InstructionSet:
    ids = [str(i) for i in range(n)]
    items = {
        lang: [
            Instruction(
                i,
                f"<{lang}> do {i}",
                f"<{lang}> in {i}" if int(i) % 2 else "",
                f"<{lang}> out {i}",
                f"{lang}:{i}",
            )
            for i in ids
        ]
        for lang in langs
    }
    return InstructionSet(langs, ids, items)


def within(count: int, n: int, p: float, sigmas: float = 4.0) -> bool:
    """``count`` is a plausible Binomial(n, p) draw (within ``sigmas`` standard deviations)."""
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1e-9


def item_of(text: str) -> str:
    return re.search(r"(\d+)$", text.strip()).group(1)


def test_render_matches_reference_text_and_moves_the_space():
    t = Templates()
    prompt, response = render_instruction(t.with_input, "Summarise.", "A long text.", "Kurz.", "de")
    paper = "{instruction} {input} Answer in {Language}: {output}"
    assert render_instruction(paper, "Summarise.", "A long text.", "Kurz.", "de") == (prompt, response)
    assert prompt == "Summarise. A long text. Answer in German:"
    assert response == " Kurz."
    # the reference's clm_text: "{instruction} {input} Answer in {tgt_lang}: {output}"
    assert prompt + response == "Summarise. A long text. Answer in German: Kurz."


def test_split_tokenises_like_the_full_text():
    # A byte-level BPE (GPT-2/Llama-3 style) that has learnt word-initial tokens such as "ĠDer".
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["Answer in German: Der Hund schläft. Der Hund"] * 20, trainer=trainer)
    enc = lambda text: tok.encode(text).ids
    prompt, response = render_instruction(Templates().without_input, "Sleep?", "", "Der Hund schläft.", "de")
    full = prompt + response
    assert enc(prompt) + enc(response) == enc(full)
    # the reference's split (the space at the end of the prompt) tokenises differently
    assert enc(prompt + " ") + enc(response[1:]) != enc(full)


@pytest.mark.parametrize(("cross", "change"), [(0.5, 0.5), (0.2, 0.9)])
def test_multilingual_statistics_follow_the_probabilities(cross, change):
    langs = ["en", "de", "zh", "sw"]
    data = instruction_set(langs, 500)
    samples, stats = generate_samples(
        "multilingual",
        instructions=data,
        cross_probability=cross,
        change_probability=change,
        repeat=4,
        seed=1,
    )
    n = len(samples)
    assert n == 2000 == stats.samples
    crossing = [s for s in samples if s.prompt_lang != s.response_lang]
    assert within(len(crossing), n, cross)
    assert within(sum(s.response_lang == "en" for s in crossing), len(crossing), change)
    assert all("en" in (s.prompt_lang, s.response_lang) for s in crossing)  # only pivot <-> X
    same = Counter(s.prompt_lang for s in samples if s.prompt_lang == s.response_lang)
    for lang in langs:
        assert within(same[lang], n - len(crossing), 1 / 4)
    for x in langs[1:]:
        assert within(stats.contrastive[f"en-{x}"], n, 1 / 3)
    assert sum(stats.directions.values()) == n and stats.cross_lingual == len(crossing)
    for s in samples:
        i = item_of(s.response)
        # instruction (and input) in the prompt language, output in the response language, same item
        assert s.prompt.startswith(f"<{s.prompt_lang}> do {i}")
        assert s.prompt.endswith(f"Answer in {name(s.response_lang)}:")
        assert s.response == f" <{s.response_lang}> out {i}"
        assert (f"<{s.prompt_lang}> in {i}" in s.prompt) == (int(i) % 2 == 1)
        # contrastive pair: pivot first, from an unrelated item, and consistent with the cross direction
        assert s.pair.src_lang == "en" and s.pair.tgt_lang != "en"
        assert item_of(s.pair.src) != i
        assert (
            s.pair.src == f"<en> do {item_of(s.pair.src)}"
            and s.pair.tgt == f"<{s.pair.tgt_lang}> do {item_of(s.pair.src)}"
        )
        if s.prompt_lang != s.response_lang:
            assert s.pair.tgt_lang in (s.prompt_lang, s.response_lang)


def test_bilingual_equals_the_reference_uniform_source_choice():
    samples, stats = generate_samples(
        "bilingual", instructions=instruction_set(["en", "zh"], 400), repeat=5, seed=3
    )
    n = len(samples)
    for direction in ("en->zh", "zh->en", "en->en", "zh->zh"):
        assert within(stats.directions[direction], n, 0.25), (direction, stats.directions)
    with pytest.raises(ConfigError, match="exactly two languages"):
        generate_samples("bilingual", instructions=instruction_set(["en", "zh", "ar"], 10))


def test_translation_mode_swaps_and_templates():
    pairs = [Pair("en", "de", f"english {i}", f"deutsch {i}", f"f:{i}") for i in range(1000)]
    samples, stats = generate_samples("translation", pairs=pairs, change_probability=0.3, repeat=2, seed=0)
    assert len(samples) == 2000
    swapped = [s for s in samples if s.prompt_lang == "de"]
    assert within(len(swapped), 2000, 0.3)
    assert within(stats.templates["{src} = {tgt}"], 2000, 0.5)
    for s in samples:
        # the contrastive pair is the sample's own pair, in the sample's direction
        assert (s.pair.src_lang, s.pair.tgt_lang) == (s.prompt_lang, s.response_lang)
        assert s.prompt.startswith(s.pair.src) and s.response == " " + s.pair.tgt
        if s.template.startswith("{src} Translate"):
            assert s.prompt == f"{s.pair.src} Translate into {name(s.response_lang)}:"
        else:
            assert s.prompt == f"{s.pair.src} ="


@pytest.mark.parametrize(("n", "r"), [(100, 1), (100, 3), (100, 2.25), (37, 0.5), (1000, 1.5)])
def test_repeat_is_exact(n, r):
    pairs = [Pair("en", "fr", f"e{i}", f"f{i}", f"f:{i}") for i in range(n)]
    samples, stats = generate_samples("translation", pairs=pairs, repeat=r, seed=5)
    full = math.floor(r)
    extra = {(37, 0.5): 19, (1000, 1.5): 500, (100, 2.25): 25}.get((n, r), 0)
    assert len(samples) == full * n + extra == stats.samples
    per_item = Counter(s.origin for s in samples)
    if full:
        assert len(per_item) == n  # every item at least floor(r) times
    assert Counter(per_item.values()) == Counter({full + 1: extra, full: n - extra} if full else {1: extra})


def test_repeat_indices_and_errors():
    idx, full, extra = repeat_indices(10, 1.3, random.Random(0))
    assert (full, extra, len(idx), len(set(idx[10:]))) == (1, 3, 13, 3)
    with pytest.raises(ConfigError):
        repeat_indices(10, 0, random.Random(0))


def test_same_seed_same_samples_different_seed_different():
    data = instruction_set(["en", "de", "fr"], 50)
    a, _ = generate_samples("multilingual", instructions=data, seed=7)
    b, _ = generate_samples("multilingual", instructions=data, seed=7)
    c, _ = generate_samples("multilingual", instructions=data, seed=8)
    assert [s.to_dict() for s in a] == [s.to_dict() for s in b]
    assert [s.to_dict() for s in a] != [s.to_dict() for s in c]


def test_no_shuffle_and_max_samples():
    pairs = [Pair("en", "fr", f"e{i}", f"f{i}", f"f:{i}") for i in range(5)]
    samples, _ = generate_samples("translation", pairs=pairs, repeat=2, shuffle=False, change_probability=0)
    assert [s.origin for s in samples] == [f"f:{i}" for i in range(5)] * 2
    samples, stats = generate_samples("translation", pairs=pairs, repeat=2, max_samples=3)
    assert len(samples) == 3 == stats.samples


def test_instruction_modes_with_translation_pairs_as_contrastive_pairs():
    data = instruction_set(["en", "de", "fr"], 20)
    pairs = [Pair("de", "en", f"de {i}", f"en {i}") for i in range(10)] + [
        Pair("en", "fr", f"en {i}", f"fr {i}") for i in range(10)
    ]
    other = [Pair("de", "fr", "x", "y"), Pair("en", "ja", "a", "b")]
    samples, stats = generate_samples("multilingual", instructions=data, pairs=pairs + other, seed=0)
    assert stats.pairs_per_language_pair == {"en-de": 10, "en-fr": 10}
    assert stats.dropped == {"contrastive: pairs not between en and de/fr": 2}
    for s in samples:
        assert s.pair.src_lang == "en" and s.pair.src.startswith("en ")  # pivot first, de-en pairs swapped
    with pytest.raises(InputError, match="no contrastive pairs for en-fr"):
        generate_samples("multilingual", instructions=data, pairs=pairs[:10])


def test_identical_instructions_are_not_contrastive_pairs():
    data = instruction_set(["en", "de"], 6)
    data.items["de"][2] = Instruction("2", "<en> do 2", "", "<de> out 2", "x")  # untranslated instruction
    samples, stats = generate_samples("bilingual", instructions=data, repeat=20)
    assert stats.pairs_per_language_pair["en-de"] == 5
    assert stats.dropped["contrastive: identical instructions"] == 1
    assert all(s.pair.src != s.pair.tgt for s in samples)


def test_bad_settings():
    pairs = [Pair("en", "fr", "a", "b")]
    with pytest.raises(ConfigError, match="cross_probability"):
        generate_samples("translation", pairs=pairs, cross_probability=1.5)
    with pytest.raises(ConfigError, match="unknown mode 'mono'"):
        generate_samples("mono", pairs=pairs)
    with pytest.raises(ConfigError, match=r"unknown placeholder\(s\) \['tgt_lang'\]"):
        generate_samples(
            "translation", pairs=pairs, templates=Templates(translate=["{src} into {tgt_lang}: {tgt}"])
        )
    with pytest.raises(ConfigError, match=r"must end with \{tgt\}"):
        generate_samples("translation", pairs=pairs, templates=Templates(translate=["{tgt} <- {src}"]))
    with pytest.raises(InputError, match="needs translation pairs"):
        generate_samples("translation", pairs=[])


def test_cap_per_language_pair():
    pairs = [Pair("en", "de", f"e{i}", f"d{i}") for i in range(50)] + [
        Pair("en", "fi", f"e{i}", f"f{i}") for i in range(5)
    ]
    samples, stats = generate_samples("translation", pairs=pairs, max_pairs_per_language_pair=10, seed=2)
    assert stats.pairs_per_language_pair == {"en-de": 10, "en-fi": 5}
    assert stats.dropped == {"cap: over max_pairs_per_language_pair (en-de)": 40}
    assert len(samples) == 15 and len({s.pair.src for s in samples if "de" in s.pair.langs}) == 10


def test_prompts_name_languages_outside_the_table_and_their_scripts():
    template = "{src} Translate from {src_language} into {language}: {tgt}"
    assert render_translation(template, "Hi", "你好", "en", "zh_TW") == (
        "Hi Translate from English into Chinese (Traditional):", " 你好")
    assert render_translation(template, "Hi", "你好", "eng_Latn", "zho_Hans")[0].endswith("into Chinese:")
    assert render_translation(template, "Hi", "Thobela", "en", "nso_Latn")[0].endswith("into Northern Sotho:")

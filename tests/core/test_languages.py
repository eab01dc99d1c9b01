"""The language table covers every benchmark and resource; codes outside it resolve through
langcodes with their script kept; codes nobody knows are errors."""

from __future__ import annotations

import pytest

from crossalign import languages as L


@pytest.mark.parametrize(
    "group", [L.BACTRIAN_X, L.XNLI, L.XCOPA, L.XSTORYCLOZE, L.XWINOGRAD, L.PAWSX, L.TATOEBA]
)
def test_every_benchmark_language_is_known(group):
    unknown = [c for c in group if not L.is_known(c)]
    assert unknown == []


def test_bactrian_x_has_52_languages():
    assert len(set(L.BACTRIAN_X)) == 52


@pytest.mark.parametrize(
    "code, canonical, name",
    [("cmn", "zh", "Chinese"), ("deu", "de", "German"), ("pt_BR", "pt", "Portuguese"),
     ("jp", "ja", "Japanese"), ("swh", "sw", "Swahili"), ("ZH", "zh", "Chinese"),
     ("pes", "fa", "Persian"), ("en-US", "en", "English"), ("de_DE@euro", "de", "German"),
     ("pt_BR.UTF-8", "pt", "Portuguese"), ("ca@valencia", "ca", "Catalan")],
)
def test_aliases_and_subtags(code, canonical, name):
    assert L.normalize(code) == canonical
    assert L.name(code) == name


def test_iso639_3_codes_round_trip():
    for code in L.LANGUAGES:
        assert L.normalize(L.iso639_3(code)) in (code, L.normalize(L.iso639_3(code)))
        assert L.normalize(code) == code


def test_table_codes_do_not_change():
    # The table answers first: every code and alias keeps its canonical code and name.
    for code, (english, iso3) in L.LANGUAGES.items():
        assert (L.normalize(code), L.name(code), L.iso639_3(code)) == (code, english, iso3)
    for alias, code in L.ALIASES.items():
        assert L.normalize(alias) == code
        assert L.normalize(alias.upper()) == code


@pytest.mark.parametrize(
    "code, canonical, name, iso3",
    [
        # FLORES-200 codes: the usual script is dropped, so they meet the other datasets' codes
        ("nso_Latn", "nso", "Northern Sotho", "nso"), ("deu_Latn", "de", "German", "deu"),
        ("eng_Latn", "en", "English", "eng"), ("zho_Hans", "zh", "Chinese", "zho"),
        ("arb_Arab", "ar", "Arabic", "ara"), ("azj_Latn", "az", "Azerbaijani", "aze"),
        ("srp_Cyrl", "sr", "Serbian", "srp"), ("yue_Hant", "yue", "Cantonese", "yue"),
        # ... and an unusual script is kept
        ("zho_Hant", "zh-Hant", "Chinese (Traditional)", "zho"), ("arb_Latn", "ar-Latn", "Arabic (Latin)", "ara"),
        ("kas_Deva", "ks-Deva", "Kashmiri (Devanagari)", "kas"),
        # ISO 639 codes outside the table
        ("fil", "fil", "Filipino", "fil"), ("haw", "haw", "Hawaiian", "haw"), ("HAW", "haw", "Hawaiian", "haw"),
        # BCP-47 script subtags and locales whose region implies the script
        ("zh-Hant", "zh-Hant", "Chinese (Traditional)", "zho"), ("zh-hant", "zh-Hant", "Chinese (Traditional)", "zho"),
        ("zh-Hans", "zh", "Chinese", "zho"), ("zh_TW", "zh-Hant", "Chinese (Traditional)", "zho"),
        ("zh_HK", "zh-Hant", "Chinese (Traditional)", "zho"), ("zh_CN", "zh", "Chinese", "zho"),
        ("sr@latin", "sr-Latn", "Serbian (Latin)", "srp"), ("sr-Latn", "sr-Latn", "Serbian (Latin)", "srp"),
        ("pa_PK", "pa-Arab", "Punjabi (Arabic)", "pan"),
    ],
)
def test_codes_outside_the_table(code, canonical, name, iso3):
    assert (L.normalize(code), L.name(code), L.iso639_3(code)) == (canonical, name, iso3)
    assert L.normalize(canonical) == canonical  # canonical codes are fixed points


def test_traditional_and_simplified_chinese_are_two_languages():
    assert L.normalize("zh-Hant") != L.normalize("zh-Hans")
    assert L.name("zh-Hant") != L.name("zh-Hans")
    assert {L.normalize(x) for x in ["zh_TW", "zh_HK", "zho_Hant", "zh-Hant-TW"]} == {"zh-Hant"}
    assert {L.normalize(x) for x in ["zh_CN", "zh-Hans", "zho_Hans", "cmn", "zh"]} == {"zh"}


# FLORES-200 names of the languages of ../shared/data (its XCOPA folders, its Tatoeba files)
FLORES = {"et": "est_Latn", "id": "ind_Latn", "it": "ita_Latn", "sw": "swh_Latn", "th": "tha_Thai",
          "tr": "tur_Latn", "vi": "vie_Latn", "zh": "zho_Hans", "ar": "arb_Arab", "de": "deu_Latn",
          "fr": "fra_Latn", "hi": "hin_Deva", "ja": "jpn_Jpan", "ko": "kor_Hang", "nl": "nld_Latn",
          "pl": "pol_Latn", "pt": "por_Latn", "ru": "rus_Cyrl", "es": "spa_Latn", "fa": "pes_Arab",
          "en": "eng_Latn"}


def test_flores_codes_meet_the_shared_data_codes(shared_data):
    xcopa = [p.name for p in (shared_data / "xcopa" / "data").iterdir() if p.is_dir()]
    tatoeba = {p.name.split(".")[1].split("-")[0] for p in (shared_data / "tatoeba").glob("tatoeba.*-eng.eng")}
    assert len(xcopa) == 8 and len(tatoeba) == 16
    for code in [*xcopa, *tatoeba]:
        canonical = L.normalize(code)
        assert L.normalize(FLORES[canonical]) == canonical, code


@pytest.mark.parametrize("bad", ["xx", "klingon", "", "  ", "qaa", "zzz", "und", "zh-Xxxx", "nso_Xyzw"])
def test_unknown_code_names_it(bad):
    with pytest.raises(L.UnknownLanguageError) as info:
        L.normalize(bad)
    assert repr(bad.strip()) in str(info.value) or "empty" in str(info.value)

"""The language table covers every benchmark and resource, and unknown codes are errors."""

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
     ("zh-Hant", "zh", "Chinese"), ("jp", "ja", "Japanese"), ("swh", "sw", "Swahili"),
     ("sr@latin", "sr", "Serbian"), ("ZH", "zh", "Chinese"), ("pes", "fa", "Persian")],
)
def test_aliases_and_subtags(code, canonical, name):
    assert L.normalize(code) == canonical
    assert L.name(code) == name


def test_iso639_3_codes_round_trip():
    for code in L.LANGUAGES:
        assert L.normalize(L.iso639_3(code)) in (code, L.normalize(L.iso639_3(code)))
        assert L.normalize(code) == code


@pytest.mark.parametrize("bad", ["xx", "klingon", "", "  "])
def test_unknown_code_names_it(bad):
    with pytest.raises(L.UnknownLanguageError) as info:
        L.normalize(bad)
    assert repr(bad.strip()) in str(info.value) or "empty" in str(info.value)

"""Plain-text pair readers (TSV, JSON lines, aligned files), format dispatch and their bad-input errors."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from crossalign.data.pairs import Pair, langs_from_name
from crossalign.data.plaintext import read_aligned, read_jsonl, read_tsv
from crossalign.data.sources import PairsSpec, infer_format, read_pairs
from crossalign.errors import InputError


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_tsv_languages_from_name_header_and_origins(tmp_path):
    f = write(tmp_path / "ui.en-de.tsv", "english\tgerman\nOpen file\tDatei öffnen\n\n Save \t Speichern \n")
    pairs = list(read_tsv(f, header=True))
    assert pairs == [
        Pair("en", "de", "Open file", "Datei öffnen", f"{f}:2"),
        Pair("en", "de", "Save", "Speichern", f"{f}:4"),
    ]


def test_tsv_explicit_languages_are_normalised(tmp_path):
    f = write(tmp_path / "data.tsv", "a\tb\n")
    (p,) = read_tsv(f, src_lang="eng", tgt_lang="cmn")
    assert (p.src_lang, p.tgt_lang) == ("en", "zh")


def test_tsv_bom_and_crlf(tmp_path):
    f = tmp_path / "x.en-fr.tsv"
    f.write_bytes("\ufeffHello\tBonjour\r\nYes\tOui\r\n".encode())
    assert [(p.src, p.tgt) for p in read_tsv(f)] == [("Hello", "Bonjour"), ("Yes", "Oui")]


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("a\tb\nno tab here\n", 2, "expected 2 tab-separated fields"),
        ("a\tb\nc\td\te\n", 2, "found 3"),
        ("a\tb\n\tonly target\n", 2, "empty source"),
        ("a\tb\nx\t  \n", 2, "empty target"),
    ],
)
def test_tsv_bad_lines_name_file_and_line(tmp_path, text, line, needle):
    f = write(tmp_path / "bad.en-de.tsv", text)
    with pytest.raises(InputError) as err:
        list(read_tsv(f))
    assert str(err.value).startswith(f"{f}:{line}: ")
    assert needle in str(err.value)


def test_tsv_skip_invalid_counts_by_reason(tmp_path):
    f = write(tmp_path / "bad.en-de.tsv", "a\tb\nno tab\n\tx\nc\td\n")
    drops = Counter()
    pairs = list(read_tsv(f, skip_invalid=True, drops=drops))
    assert [p.src for p in pairs] == ["a", "c"]
    assert drops == Counter({"malformed_line": 1, "empty_text": 1})


def test_invalid_utf8_names_line(tmp_path):
    f = tmp_path / "x.en-de.tsv"
    f.write_bytes(b"a\tb\nc\td\n\xff\xfe\tz\n")
    with pytest.raises(InputError, match=r"x\.en-de\.tsv:3: not valid UTF-8"):
        list(read_tsv(f))


def test_unknown_language_code_names_file(tmp_path):
    f = write(tmp_path / "x.tsv", "a\tb\n")
    with pytest.raises(InputError, match=r"x\.tsv: unknown language code 'qqq'"):
        list(read_tsv(f, src_lang="en", tgt_lang="qqq"))
    g = write(tmp_path / "y.en-qqq.tsv", "a\tb\n")
    with pytest.raises(InputError, match=r"y\.en-qqq\.tsv: unknown language code"):
        list(read_tsv(g))


def test_languages_required_when_name_has_none(tmp_path):
    f = write(tmp_path / "pairs.tsv", "a\tb\n")
    with pytest.raises(InputError, match="give src_lang and tgt_lang"):
        list(read_tsv(f))


def test_langs_from_name():
    assert langs_from_name("ddtp.en-de.tsv") == ("en", "de")
    assert langs_from_name("tatoeba.cmn-eng.cmn") == ("zh", "en")
    assert langs_from_name("corpus.tsv") is None


def test_jsonl_custom_fields_and_per_line_languages(tmp_path):
    rows = [
        {"s": "Hello", "t": "Hallo", "sl": "en", "tl": "de"},
        {"s": "Thanks", "t": "Gracias", "sl": "eng", "tl": "spa"},
    ]
    f = write(tmp_path / "mixed.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    pairs = list(read_jsonl(f, src_field="s", tgt_field="t", src_lang_field="sl", tgt_lang_field="tl"))
    assert [(p.langs, p.src, p.tgt) for p in pairs] == [
        ("en-de", "Hello", "Hallo"),
        ("en-es", "Thanks", "Gracias"),
    ]
    assert pairs[1].origin == f"{f}:2"


@pytest.mark.parametrize(
    ("lines", "line", "needle"),
    [
        (['{"src": "a", "tgt": "b"}', '{"src": "a", '], 2, "not valid JSON"),
        (['{"src": "a", "tgt": "b"}', '["a", "b"]'], 2, "expected a JSON object"),
        (['{"src": "a", "tgt": "b"}', '{"src": "a", "target": "b"}'], 2, "missing target field 'tgt'"),
        (['{"src": "a", "tgt": "b"}', '{"src": "", "tgt": "b"}'], 2, "empty source"),
    ],
)
def test_jsonl_bad_lines(tmp_path, lines, line, needle):
    f = write(tmp_path / "x.en-de.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        list(read_jsonl(f))
    assert str(err.value).startswith(f"{f}:{line}: ") and needle in str(err.value)


def test_jsonl_unknown_per_line_language(tmp_path):
    f = write(
        tmp_path / "x.jsonl",
        '{"src": "a", "tgt": "b", "sl": "en", "tl": "de"}\n'
        '{"src": "a", "tgt": "b", "sl": "en", "tl": "klingon"}\n',
    )
    with pytest.raises(InputError, match=r"x\.jsonl:2: unknown language code 'klingon'"):
        list(read_jsonl(f, src_lang_field="sl", tgt_lang_field="tl"))


def test_aligned_explicit_files_and_length_mismatch(tmp_path):
    a = write(tmp_path / "left.txt", "one\ntwo\nthree\n")
    b = write(tmp_path / "right.txt", "eins\nzwei\n")
    with pytest.raises(InputError) as err:
        list(read_aligned(a, b, "en", "de"))
    assert str(err.value).startswith(f"{b}:3: ") and "different lengths" in str(err.value)
    write(b, "eins\nzwei\ndrei\n")
    assert [p.tgt for p in read_aligned(a, b, "en", "de")] == ["eins", "zwei", "drei"]
    write(b, "eins\n\ndrei\n")
    with pytest.raises(InputError, match=r"right\.txt:2: empty target"):
        list(read_aligned(a, b, "en", "de"))


def test_tatoeba_shared_files(shared_data):
    folder = shared_data / "tatoeba"
    for spec_path in (
        folder / "tatoeba.deu-eng",
        folder / "tatoeba.deu-eng.eng",
        folder / "tatoeba.deu-eng.deu",
    ):
        pairs = list(read_pairs(PairsSpec(paths=[str(spec_path)])))
        assert len(pairs) == 1000
        assert {(p.src_lang, p.tgt_lang) for p in pairs} == {("de", "en")}
    deu = (folder / "tatoeba.deu-eng.deu").read_text(encoding="utf-8").splitlines()
    eng = (folder / "tatoeba.deu-eng.eng").read_text(encoding="utf-8").splitlines()
    assert (pairs[0].src, pairs[0].tgt) == (deu[0].strip(), eng[0].strip())
    assert (pairs[-1].src, pairs[-1].tgt) == (deu[-1].strip(), eng[-1].strip())
    everything = list(read_pairs(PairsSpec(paths=[str(folder)])))
    counts = Counter(p.langs for p in everything)
    assert len(counts) == 16 and set(counts.values()) == {1000}
    assert counts["zh-en"] == 1000 and counts["fa-en"] == 0  # cmn -> zh; no Persian file


def test_moses_prefix_and_explicit_pair(tmp_path):
    write(tmp_path / "corpus.de-en.de", "Hallo\nJa\n")
    write(tmp_path / "corpus.de-en.en", "Hello\nYes\n")
    pairs = list(read_pairs(PairsSpec(paths=[str(tmp_path / "corpus.de-en")])))
    assert [(p.langs, p.src, p.tgt) for p in pairs] == [("de-en", "Hallo", "Hello"), ("de-en", "Ja", "Yes")]
    a, b = write(tmp_path / "src.txt", "x\n"), write(tmp_path / "tgt.txt", "y\n")
    spec = PairsSpec(paths=[str(a), str(b)], format="aligned", src_lang="fr", tgt_lang="it")
    assert [p.langs for p in read_pairs(spec)] == ["fr-it"]
    with pytest.raises(InputError, match="aligned input must be named"):
        list(read_pairs(PairsSpec(paths=[str(a), str(b)], format="aligned")))


def test_format_inference_and_errors(tmp_path):
    assert infer_format(str(write(tmp_path / "a.en-de.tsv", "a\tb\n"))) == "tsv"
    assert infer_format(str(write(tmp_path / "a.jsonl", "{}\n"))) == "jsonl"
    assert infer_format(str(write(tmp_path / "de.po", ""))) == "gettext"
    assert infer_format("MBZUAI/Bactrian-X") == "hf"
    with pytest.raises(
        InputError, match=r"cannot infer the format.*'tsv', 'jsonl', 'aligned', 'hf', 'gettext'"
    ):
        infer_format(str(write(tmp_path / "notes.txt", "x")))
    with pytest.raises(InputError, match="unknown pairs format 'csv'; choose from"):
        list(read_pairs(PairsSpec(paths=["x"], format="csv")))
    with pytest.raises(InputError, match="no such file"):
        infer_format(str(tmp_path / "missing.dat"))


def test_folder_of_tsv_files(shared_data):
    pairs = read_pairs(PairsSpec(paths=[str(shared_data / "parallel")]))
    counts = Counter(p.langs for p in pairs)
    assert len(counts) == 13 and all(lang.startswith("en-") for lang in counts)
    lines = (shared_data / "parallel" / "ddtp.en-de.tsv").read_text(encoding="utf-8").splitlines()
    assert counts["en-de"] == len(lines)


def test_old_mac_line_endings_keep_their_line_numbers(tmp_path):
    f = tmp_path / "mac.en-de.tsv"
    f.write_bytes(b"\xef\xbb\xbfOpen\t\xc3\x96ffnen\r\rSave\tSpeichern\r")
    assert [(p.src, p.tgt, p.origin) for p in read_tsv(f)] == [
        ("Open", "Öffnen", f"{f}:1"), ("Save", "Speichern", f"{f}:3"),
    ]
    a, b = tmp_path / "c.en-fr.en", tmp_path / "c.en-fr.fr"
    a.write_bytes(b"one\rtwo\r")  # the final \r ends line 2, it starts no line 3
    b.write_bytes(b"un\ndeux")
    assert [(p.src, p.tgt) for p in read_aligned(a, b, "en", "fr")] == [("one", "un"), ("two", "deux")]


def test_carriage_return_inside_a_line_is_reported_there(tmp_path):
    f = tmp_path / "x.en-de.jsonl"
    f.write_bytes(b'{"src": "a", "tgt": "b"}\r\n{"src": "c",\r "tgt": "d"}\n')
    with pytest.raises(InputError, match=r"x\.en-de\.jsonl:2: a carriage return \(\\r\) inside the line"):
        list(read_jsonl(f))


def test_empty_files_are_named(tmp_path):
    for reader, name in ((read_tsv, "e.en-de.tsv"), (read_jsonl, "e.en-de.jsonl")):
        f = write(tmp_path / name, " \n\n")
        with pytest.raises(InputError, match=rf"^{tmp_path / name}: the file is empty"):
            list(reader(f))
        drops = Counter()
        assert list(reader(f, skip_invalid=True, drops=drops)) == [] and drops == {"empty_file": 1}
    a, b = write(tmp_path / "l.txt", ""), write(tmp_path / "r.txt", "")
    with pytest.raises(InputError, match=r"l\.txt: this file and .*r\.txt are both empty"):
        list(read_aligned(a, b, "en", "de"))
    write(b, "eins\n")
    with pytest.raises(InputError, match=r"l\.txt:1: parallel files have different lengths: this file is empty"):
        list(read_aligned(a, b, "en", "de"))


def test_one_language_on_both_sides_is_an_error_naming_the_file(tmp_path):
    f = write(tmp_path / "x.en-en.tsv", "a\tb\n")
    with pytest.raises(InputError, match=r"x\.en-en\.tsv: source and target language are both 'en' \(from the file"):
        list(read_tsv(f))
    g = write(tmp_path / "x.en-de.tsv", "a\tb\n")
    with pytest.raises(InputError, match=r"both 'de' \(src_lang as given, the other from the file name\)"):
        list(read_tsv(g, src_lang="deu"))
    with pytest.raises(InputError, match=r"x\.en-de\.tsv: source and target language are both 'fr'"):
        list(read_tsv(g, src_lang="fr", tgt_lang="fra"))
    with pytest.raises(InputError, match=r"both 'en' \(given for this file and"):
        list(read_aligned(f, g, "en", "eng"))


@pytest.mark.parametrize(
    ("row", "reason", "needle"),
    [
        ({"src": "a", "tgt": None}, "null_field", "target field 'tgt' is null"),
        ({"src": ["a"], "tgt": "b"}, "not_a_string", "source field 'src' holds an array, not a string"),
        ({"src": "a", "tgt": False}, "not_a_string", "target field 'tgt' holds true/false, not a string"),
        ({"src": "a"}, "missing_field", "missing target field 'tgt' (fields found: 'src')"),
    ],
)
def test_jsonl_fields_that_are_not_strings(tmp_path, row, reason, needle):
    f = write(tmp_path / "x.en-de.jsonl", '{"src": "ok", "tgt": "gut"}\n' + json.dumps(row) + "\n")
    with pytest.raises(InputError) as err:
        list(read_jsonl(f))
    assert str(err.value) == f"{f}:2: {needle}"
    drops = Counter()
    assert len(list(read_jsonl(f, skip_invalid=True, drops=drops))) == 1 and drops == {reason: 1}


def test_jsonl_null_language_field(tmp_path):
    f = write(tmp_path / "x.jsonl", '{"src": "a", "tgt": "b", "sl": "en", "tl": null}\n')
    with pytest.raises(InputError, match=r"x\.jsonl:1: language field 'tl' is null"):
        list(read_jsonl(f, src_lang_field="sl", tgt_lang_field="tl"))

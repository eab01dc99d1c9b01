"""``crossalign generate`` refuses bad input clearly and never touches the outputs of an earlier run.

Every refusal is checked at the command line (``cli.main``): exit status 2, a message that names
the file (and line) or the option, and the files of a previous run in the same folder unchanged
byte for byte. One class of problem per section: output paths, impossible values, text that is
not text, misleading messages, one folder shared by several runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from crossalign import cli


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def good_tsv(tmp_path: Path, n: int = 30) -> Path:
    return write(tmp_path / "in" / "ui.en-de.tsv", "".join(f"Open file {i}\tDatei {i} öffnen\n" for i in range(n)))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def previous(tmp_path, capsys):
    """A finished earlier run in ``run/``: its output path, and its files' bytes."""
    out = tmp_path / "run" / "samples.jsonl"
    assert cli.main(["generate", "--pairs.paths", str(good_tsv(tmp_path)), "--output", str(out)]) == 0
    capsys.readouterr()
    before = snapshot(out.parent)
    assert sorted(before) == ["samples.config.yaml", "samples.jsonl", "samples.stats.json"]
    return out, before


def refused(argv: list[str], capsys) -> str:
    """Run ``generate`` with ``argv``; assert exit status 2 and no traceback; return stderr."""
    assert cli.main(["generate", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("crossalign generate: error: "), err
    assert "Traceback" not in err
    return err


# ---------------------------------------------------------------- 1. output paths


def test_output_under_a_file_is_refused_before_any_input_is_read(tmp_path, capsys, previous):
    out, before = previous
    broken = write(tmp_path / "broken.en-de.tsv", "no tab on this line\n")  # reading it would fail
    target = out / "more.jsonl"  # a folder is needed where the previous output file is
    err = refused(["--pairs.paths", str(broken), "--output", str(target)], capsys)
    assert "--output" in err and f"{out} is a file, not a folder" in err
    assert str(broken) not in err  # refused before the input was opened
    assert snapshot(out.parent) == before


def test_output_that_is_a_folder_is_refused(capsys, previous):
    out, before = previous
    err = refused(["--pairs.paths", str(good_tsv(out.parent.parent)), "--output", str(out.parent)], capsys)
    assert f"--output: {out.parent} is a folder" in err
    assert snapshot(out.parent) == before


def test_side_file_that_is_a_folder_is_refused(tmp_path, capsys, previous):
    out, before = previous
    (out.parent / "new.stats.json").mkdir()
    err = refused(["--pairs.paths", str(good_tsv(tmp_path)), "--output", str(out.parent / "new.jsonl")], capsys)
    assert "--output" in err and f"{out.parent / 'new.stats.json'}, which is a folder" in err
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([*before, "new.stats.json"])
    assert {name: (out.parent / name).read_bytes() for name in before} == before


def test_output_that_would_overwrite_an_input_is_refused(tmp_path, capsys, previous):
    out, before = previous
    data = good_tsv(tmp_path)
    original = data.read_bytes()
    err = refused(["--pairs.paths", str(data), "--output", str(data)], capsys)
    assert f"would overwrite the input {data}" in err
    assert data.read_bytes() == original and snapshot(out.parent) == before


def test_output_named_like_a_side_file_is_refused(tmp_path, capsys, previous):
    out, before = previous
    err = refused(["--pairs.paths", str(good_tsv(tmp_path)), "--output", str(out.parent / "samples.stats.json")],
                  capsys)
    assert "--output" in err and "ends in .stats.json" in err
    assert snapshot(out.parent) == before


# ---------------------------------------------------------------- 2. impossible values

IMPOSSIBLE = {
    "negative min_chars": (["--filters.min_chars", "-3"], "filters.min_chars"),
    "zero max_chars": (["--filters.max_chars", "0"], "filters.max_chars"),
    "negative min_words": (["--filters.min_words", "-1"], "filters.min_words"),
    "zero max_words": (["--filters.max_words", "0"], "filters.max_words"),
    "min above max": (["--filters.min_chars", "9", "--filters.max_chars", "3"], "filters.min_chars"),
    "ratio below 1": (["--filters.max_length_ratio", "0.5"], "filters.max_length_ratio"),
    "NaN ratio": (["--filters.max_length_ratio", "nan"], "filters.max_length_ratio"),
    "NaN repeat": (["--repeat", "nan"], "repeat"),
    "infinite repeat": (["--repeat", "inf"], "repeat"),
    "negative repeat": (["--repeat", "-1"], "repeat"),
    "negative seed": (["--seed", "-1"], "seed"),
    "NaN probability": (["--change-probability", "nan"], "change_probability"),
    "zero max_samples": (["--max-samples", "0"], "max_samples"),
    "zero cap": (["--max-pairs-per-language-pair", "0"], "max_pairs_per_language_pair"),
    "same explicit languages": (["--pairs.src-lang", "en", "--pairs.tgt-lang", "eng"], "pairs.src_lang"),
    "unknown language": (["--pairs.src-lang", "en", "--pairs.tgt-lang", "qqq"], "pairs.tgt_lang"),
    "one selected language": (["--pairs.languages", "en"], "pairs.languages"),
    "one field for both sides": (["--pairs.src-field", "text", "--pairs.tgt-field", "text"], "pairs.src_field"),
    "one language field": (["--pairs.src-lang-field", "lang"], "pairs.src_lang_field"),
    "instruction language twice": (["--instructions.languages", "zh", "zho"], "instructions.languages"),
}


@pytest.mark.parametrize("case", list(IMPOSSIBLE), ids=lambda case: case.replace(" ", "-"))
def test_impossible_values_are_refused_naming_the_option(tmp_path, capsys, previous, case):
    out, before = previous
    extra, option = IMPOSSIBLE[case]
    broken = write(tmp_path / "broken.en-de.tsv", "no tab on this line\n")  # reading it would fail
    err = refused(["--pairs.paths", str(broken), "--output", str(out), *extra], capsys)
    assert option in err and str(broken) not in err  # refused before any input is read
    assert snapshot(out.parent) == before


def test_impossible_value_in_a_config_file_is_refused(tmp_path, capsys, previous):
    out, before = previous
    config = write(tmp_path / "bad.yaml", yaml.safe_dump(
        {"pairs": {"paths": [str(good_tsv(tmp_path))]}, "output": str(out), "filters": {"min_chars": -1}}
    ))
    err = refused(["--config", str(config)], capsys)
    assert "filters.min_chars must be at least 0" in err
    assert snapshot(out.parent) == before


def test_repeat_that_leaves_no_sample_is_refused(tmp_path, capsys, previous):
    out, before = previous
    err = refused(["--pairs.paths", str(good_tsv(tmp_path, 3)), "--output", str(out), "--repeat", "0.1"], capsys)
    assert "repeat 0.1 on 3 items gives no samples" in err
    assert snapshot(out.parent) == before


# ---------------------------------------------------------------- 3. text that is not text


def test_file_named_with_one_language_twice_is_refused_naming_it(tmp_path, capsys, previous):
    out, before = previous
    same = write(tmp_path / "in" / "x.en-eng.tsv", "Hello\tHello there\n")
    err = refused(["--pairs.paths", str(same), "--output", str(out)], capsys)
    assert f"error: {same}: source and target language are both 'en'" in err
    assert "two different languages" in err
    assert snapshot(out.parent) == before


def test_aligned_files_named_with_one_language_twice_are_refused(tmp_path, capsys, previous):
    out, before = previous
    write(tmp_path / "c.de-deu.de", "Hallo\n")
    write(tmp_path / "c.de-deu.deu", "Hallo\n")
    err = refused(["--pairs.paths", str(tmp_path / "c.de-deu"), "--output", str(out)], capsys)
    assert f"{tmp_path / 'c.de-deu'}: source and target language are both 'de'" in err
    assert snapshot(out.parent) == before


def test_json_line_with_one_language_on_both_sides(tmp_path, capsys, previous):
    out, before = previous
    rows = [{"s": "Hello", "t": "Hallo", "sl": "en", "tl": "de"}, {"s": "Hi", "t": "Hi there", "sl": "en", "tl": "en"}]
    data = write(tmp_path / "mixed.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    argv = ["--pairs.paths", str(data), "--pairs.src-field", "s", "--pairs.tgt-field", "t",
            "--pairs.src-lang-field", "sl", "--pairs.tgt-lang-field", "tl"]
    err = refused([*argv, "--output", str(out)], capsys)
    assert f"{data}:2: source and target language are both 'en'" in err
    assert snapshot(out.parent) == before
    # skipped and counted on request
    other = tmp_path / "skip" / "s.jsonl"
    assert cli.main(["generate", *argv, "--pairs.skip-invalid", "--output", str(other)]) == 0
    stats = json.loads((other.parent / "s.stats.json").read_text())
    assert stats["dropped"] == {"read: same_language": 1} and stats["items"] == 1


def test_sides_that_are_not_text_are_dropped_and_counted(tmp_path, capsys):
    lines = [
        "Open file\tDatei öffnen",
        "Close\t\u200b\u200c\u200d",  # zero-width only
        "\u2060 \ufeff\tSpeichern",  # word joiner, space and a BOM (not at the start of the file)
        "Save\t\u3164",  # a Hangul filler: a letter that renders as nothing
        "Print\tDru\x00cken",  # NUL
        "Quit\tBeenden\x1b[0m",  # a terminal escape
        "Help\tHilfe â\x80\x94 mojibake",  # C1 controls from double-encoded UTF-8
        "Cut\tAus\u00adschneiden",  # a soft hyphen inside real text: kept
    ]
    data = write(tmp_path / "ui.en-de.tsv", "\n".join(lines) + "\n")
    out = tmp_path / "run" / "s.jsonl"
    assert cli.main(["generate", "--pairs.paths", str(data), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    stats = json.loads((out.parent / "s.stats.json").read_text())
    assert stats["dropped"] == {"filter: control_characters": 3, "filter: invisible_only": 3}
    assert stats["pairs_per_language_pair"] == {"en-de": 2}
    assert "filter: invisible_only" in printed and "filter: control_characters" in printed
    kept = {json.loads(line)["pair"]["src"] for line in out.read_text(encoding="utf-8").splitlines()}
    kept |= {json.loads(line)["pair"]["tgt"] for line in out.read_text(encoding="utf-8").splitlines()}
    assert {"Open file", "Cut"} <= kept and not {"Close", "Save", "Print", "Quit", "Help"} & kept


def test_lone_surrogate_is_dropped_not_a_crash_when_writing(tmp_path):
    data = write(tmp_path / "x.en-de.jsonl", '{"src": "Yes", "tgt": "Ja"}\n{"src": "No \\ud800", "tgt": "Nein"}\n')
    out = tmp_path / "run" / "s.jsonl"
    assert cli.main(["generate", "--pairs.paths", str(data), "--output", str(out)]) == 0
    assert json.loads((out.parent / "s.stats.json").read_text())["dropped"] == {"filter: unpaired_surrogate": 1}


def test_instruction_items_that_are_not_text_are_dropped_in_every_language(tmp_path):
    folder = tmp_path / "bx"
    for lang in ("en", "sw"):
        rows = [{"id": str(i), "instruction": f"{lang} task {i}", "input": "", "output": f"{lang} answer {i}"}
                for i in range(20)]
        if lang == "sw":
            rows[3]["output"] = "\u200b\u200b"
            rows[5]["input"] = "bad\x00input"
        write(folder / f"{lang}.json", json.dumps(rows))
    out = tmp_path / "run" / "s.jsonl"
    argv = ["generate", "--mode", "bilingual", "--instructions.path", str(folder),
            "--instructions.languages", "en", "sw", "--output", str(out)]
    assert cli.main(argv) == 0
    stats = json.loads((out.parent / "s.stats.json").read_text())
    assert stats["items"] == 18
    assert stats["dropped"] == {
        "instructions: control_characters_input (sw)": 1, "instructions: invisible_only_output (sw)": 1,
    }


# ---------------------------------------------------------------- 4. messages that say what is wrong


def test_empty_file_is_named_and_said_to_be_empty(tmp_path, capsys, previous):
    out, before = previous
    empty = write(tmp_path / "in" / "empty.en-de.tsv", "\n\n")
    err = refused(["--pairs.paths", str(empty), "--output", str(out)], capsys)
    assert f"error: {empty}: the file is empty" in err and "none were read" not in err
    assert snapshot(out.parent) == before
    header_only = write(tmp_path / "in" / "header.en-de.tsv", "english\tgerman\n")
    err = refused(["--pairs.paths", str(header_only), "--pairs.header", "--output", str(out)], capsys)
    assert f"error: {header_only}: the file holds only its header line" in err
    assert snapshot(out.parent) == before


def test_empty_file_among_others_is_skipped_and_counted_on_request(tmp_path, capsys):
    good_tsv(tmp_path, 5)
    write(tmp_path / "in" / "truncated.en-fr.tsv", "")
    out = tmp_path / "run" / "s.jsonl"
    err = refused(["--pairs.paths", str(tmp_path / "in"), "--output", str(out)], capsys)
    assert f"{tmp_path / 'in' / 'truncated.en-fr.tsv'}: the file is empty" in err
    assert cli.main(["generate", "--pairs.paths", str(tmp_path / "in"), "--pairs.skip-invalid",
                     "--output", str(out)]) == 0
    stats = json.loads((out.parent / "s.stats.json").read_text())
    assert stats["dropped"] == {"read: empty_file": 1} and stats["items"] == 5


def test_every_pair_filtered_names_the_file_and_the_reasons(tmp_path, capsys, previous):
    out, before = previous
    data = good_tsv(tmp_path, 4)
    err = refused(["--pairs.paths", str(data), "--filters.min_chars", "50", "--output", str(out)], capsys)
    assert f"error: {data}: no translation pairs left: every pair was dropped (filter: too_short_chars 4)" in err
    assert snapshot(out.parent) == before


NOT_STRINGS = {
    "null": ('{"src": "a", "tgt": null}', "target field 'tgt' is null"),
    "number": ('{"src": 7, "tgt": "b"}', "source field 'src' holds a number, not a string"),
    "missing": ('{"src": "a", "target": "b"}', "missing target field 'tgt' (fields found: 'src', 'target')"),
}


@pytest.mark.parametrize("case", list(NOT_STRINGS))
def test_json_field_that_is_not_a_string_says_what_it_is(tmp_path, capsys, previous, case):
    out, before = previous
    line, message = NOT_STRINGS[case]
    data = write(tmp_path / "x.en-de.jsonl", '{"src": "a", "tgt": "b"}\n' + line + "\n")
    err = refused(["--pairs.paths", str(data), "--output", str(out)], capsys)
    assert f"{data}:2: {message}" in err
    if case == "null":
        assert "missing" not in err
    assert snapshot(out.parent) == before


def test_old_mac_line_endings_are_read_line_by_line(tmp_path, capsys):
    data = tmp_path / "mac.en-de.tsv"
    data.write_bytes(b"Open file\tDatei \xc3\xb6ffnen\rSave\tSpeichern\r\rQuit\tBeenden\r")
    out = tmp_path / "run" / "s.jsonl"
    assert cli.main(["generate", "--pairs.paths", str(data), "--output", str(out), "--no-shuffle",
                     "--change-probability", "0"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["pair"]["src"], r["pair"]["tgt"]) for r in rows] == [
        ("Open file", "Datei öffnen"), ("Save", "Speichern"), ("Quit", "Beenden"),
    ]
    # a bad line of such a file is reported at its own line, not as line 1
    data.write_bytes(b"Open file\tDatei\rSave Speichern\r")
    err = refused(["--pairs.paths", str(data), "--output", str(out)], capsys)
    assert f"{data}:2: expected 2 tab-separated fields" in err


def test_mixed_line_endings_are_reported_as_such(tmp_path, capsys, previous):
    out, before = previous
    data = tmp_path / "mixed.en-de.tsv"
    data.write_bytes(b"Open\tOeffnen\nSave\tSpeichern\rQuit\tBeenden\n")
    err = refused(["--pairs.paths", str(data), "--output", str(out)], capsys)
    assert f"{data}:2: a carriage return (\\r) inside the line: the file mixes line endings" in err
    assert "tab-separated fields" not in err
    assert snapshot(out.parent) == before


# ---------------------------------------------------------------- 5. one folder, several runs


def test_runs_sharing_a_folder_keep_their_own_side_files(tmp_path, capsys, previous):
    out, before = previous
    other = out.parent / "other.jsonl"
    data = write(tmp_path / "in" / "small.en-fr.tsv", "Yes\tOui\nNo\tNon\nMaybe\tPeut-être\n")
    assert cli.main(["generate", "--pairs.paths", str(data), "--output", str(other), "--seed", "5"]) == 0
    assert "(+ other.stats.json, other.config.yaml)" in capsys.readouterr().out
    after = snapshot(out.parent)
    assert {k: after[k] for k in before} == before  # the first run's three files, untouched
    assert sorted(after) == sorted([*before, "other.jsonl", "other.stats.json", "other.config.yaml"])
    first, second = (json.loads(after[f"{n}.stats.json"]) for n in ("samples", "other"))
    assert first["samples"] == len(before["samples.jsonl"].splitlines()) == 30
    assert second["samples"] == len(after["other.jsonl"].splitlines()) == 3
    assert yaml.safe_load(after["other.config.yaml"])["seed"] == 5
    # each side configuration rebuilds its own output, byte for byte
    assert cli.main(["generate", "--config", str(out.parent / "other.config.yaml")]) == 0
    assert cli.main(["generate", "--config", str(out.parent / "samples.config.yaml")]) == 0
    assert snapshot(out.parent) == after


@pytest.mark.parametrize("failing", ["statistics", "configuration"])
def test_failure_while_writing_leaves_the_previous_run_together(tmp_path, monkeypatch, previous, failing):
    """Ctrl-C while one side file is being produced: no file of the new run replaces one of the old."""
    out, before = previous
    from crossalign.data.stats import GenerationStats

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    if failing == "statistics":
        monkeypatch.setattr(GenerationStats, "to_dict", interrupted)
    else:
        monkeypatch.setattr(yaml, "safe_dump", interrupted)
    data = good_tsv(tmp_path, 12)
    assert cli.main(["generate", "--pairs.paths", str(data), "--output", str(out), "--seed", "1"]) == 130
    assert snapshot(out.parent) == before  # no new samples beside old statistics, no temporary files

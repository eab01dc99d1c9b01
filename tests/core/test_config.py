"""Config machinery: defaults <- YAML <- flags, type coercion, errors that name the field."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pytest
import yaml

from crossalign.options import (
    ConfigError,
    build_parser,
    from_dict,
    load_config,
    parse_args,
    save_config,
    to_dict,
)


@dataclass
class Inner:
    rate: float = 0.5
    names: list[str] = field(default_factory=lambda: ["a"])


@dataclass
class Outer:
    mode: str = field(default="x", metadata={"help": "the mode", "choices": ["x", "y"]})
    steps: int = 10
    flag: bool = False
    layer: int | str = "middle"
    path: str | None = None
    inner: Inner = field(default_factory=Inner)


def _parse(argv):
    parser = build_parser(Outer, argparse.ArgumentParser())
    return parse_args(Outer, parser.parse_args(argv))


def test_defaults_yaml_and_flags_layer_in_order(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(yaml.safe_dump({"steps": 20, "inner": {"rate": 0.25}, "mode": "y"}))
    cfg = _parse(["--config", str(cfg_file), "--steps", "30", "--inner.names", "p", "q", "--flag"])
    assert cfg.steps == 30  # flag beats YAML
    assert cfg.mode == "y"  # YAML beats default
    assert cfg.inner.rate == 0.25 and cfg.inner.names == ["p", "q"]
    assert cfg.flag is True
    assert cfg.layer == "middle" and cfg.path is None


def test_union_int_or_str_keeps_ints():
    assert _parse(["--layer", "11"]).layer == 11
    assert _parse(["--layer", "auto"]).layer == "auto"


def test_round_trip_through_saved_yaml(tmp_path):
    cfg = _parse(["--steps", "7", "--inner.rate", "0.1", "--path", "x/y"])
    saved = save_config(cfg, tmp_path)
    again = load_config(Outer, saved)
    assert again == cfg
    assert to_dict(again)["inner"]["rate"] == 0.1


@pytest.mark.parametrize(
    "data, message",
    [
        ({"stepz": 1}, "unknown key"),
        ({"steps": "ten"}, "config.steps"),
        ({"steps": 1.5}, "config.steps"),
        ({"mode": "z"}, "choose from ['x', 'y']"),
        ({"inner": {"rate": "fast"}}, "config.inner.rate"),
        ({"flag": "maybe"}, "config.flag"),
    ],
)
def test_bad_values_name_the_field(data, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        from_dict(Outer, data)


def test_missing_or_invalid_yaml_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Outer, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n- not a mapping\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(Outer, bad)


def test_help_lists_every_field_with_its_help():
    parser = build_parser(Outer, argparse.ArgumentParser())
    text = parser.format_help()
    for flag in ["--mode", "--steps", "--flag", "--layer", "--path", "--inner.rate", "--inner.names"]:
        assert flag in text
    assert "the mode" in text and "Choices: x, y" in text


@dataclass
class WithCustomDefaults:
    inner: Inner = field(default_factory=lambda: Inner(rate=0.9, names=["custom"]))


def test_partial_nested_section_keeps_the_fields_own_defaults():
    cfg = from_dict(WithCustomDefaults, {"inner": {"names": ["given"]}})
    assert cfg.inner.rate == 0.9 and cfg.inner.names == ["given"]

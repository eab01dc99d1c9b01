"""Options: command configurations as dataclasses, read from YAML files and command-line flags.

Every command takes one dataclass (which may nest others). Values are resolved in this
order, later winning: the dataclass defaults, the YAML file given with ``--config``, then
flags on the command line (``--section.field value``; dashes and underscores are
interchangeable). The resolved configuration is written next to every output with
:func:`save_config`, so a run can be repeated from that file alone.

Field metadata understood here: ``help`` (shown by ``--help``) and ``choices``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from crossalign.errors import ConfigError
from crossalign.io import write_text

T = TypeVar("T")
CONFIG_FILENAME = "config.yaml"


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert a YAML/CLI value to the annotated type, or raise a ConfigError naming ``where``."""
    inner, optional = _unwrap_optional(tp)
    if value is None:
        if optional or tp is Any:
            return None
        raise ConfigError(f"{where}: a value is required (got null)")
    if _is_dataclass_type(inner):
        if isinstance(value, inner):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(inner, value, where)
    origin = typing.get_origin(inner)
    if origin is typing.Literal:
        options = typing.get_args(inner)
        if value not in options:
            raise ConfigError(f"{where}: {value!r} is not one of {list(options)}")
        return value
    if origin in (list, tuple):
        (item_tp, *_rest) = typing.get_args(inner) or (Any,)
        if isinstance(value, str):
            value = [v for v in value.split(",") if v != ""]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        items = [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if isinstance(value, (list, tuple)):  # from the command line: KEY=VALUE items, values read as JSON
            value = _key_values(value, where)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if origin in (typing.Union, types.UnionType):
        # e.g. int | str: keep the value if it already has one of the types, else try in order.
        # Strings from the command line try the other types first ("11" -> 11 for int | str).
        args = [a for a in typing.get_args(inner) if a is not type(None)]
        if not isinstance(value, str) and any(
            isinstance(value, a) and not (a is int and isinstance(value, bool)) for a in args
        ):
            return value
        for a in sorted(args, key=lambda a: a is str):
            try:
                return _coerce(value, a, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} is not any of {args}")
    if inner is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "no", "0", "off"):
            return False
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if inner in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            out = inner(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected {inner.__name__}, got {value!r}") from None
        if inner is int and isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return out
    if inner is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    if inner is Path:
        return Path(value)
    return value


def _key_values(items, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = str(item).partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{where}: {item!r} is not KEY=VALUE")
        try:  # JSON, not YAML: YAML 1.1 reads "no" (e.g. eval_strategy=no) as false
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


def _check_choices(cfg: Any, where: str) -> None:
    for f in dataclasses.fields(cfg):
        choices = f.metadata.get("choices")
        value = getattr(cfg, f.name)
        if choices is not None and value is not None:
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                if v not in choices:
                    raise ConfigError(
                        f"{where}.{f.name}: {v!r} is not a valid option; choose from {list(choices)}"
                    )


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build ``cls`` from a nested mapping; unknown keys are an error listing the valid ones."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {data!r}")
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k.replace("-", "_") not in names]
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys are {sorted(names)}")
    defaults = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        f = defaults[name]
        if isinstance(value, dict) and f.default_factory is not dataclasses.MISSING:
            # A nested section given in part keeps the field's own defaults for the rest
            # (which may differ from the nested class's defaults).
            base = f.default_factory()
            if dataclasses.is_dataclass(base):
                value = _merge(to_dict(base), value)
        kwargs[name] = _coerce(value, hints[name], f"{where}.{name}")
    cfg = cls(**kwargs)
    _check_choices(cfg, where)
    post = getattr(cfg, "validate", None)
    if callable(post):
        post()
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain nested dict (paths as strings) suitable for YAML and JSON."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(cfg)


def flat_settings(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested settings dict (``to_dict``'s) as ``{"dotted.key": value}``, the inverse of ``_set_nested``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_settings(value, f"{name}."))
        else:
            out[name] = value
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of option names to values")
    return data


def load_config(cls: type[T], path: str | Path) -> T:
    return from_dict(cls, load_yaml(path), where=str(path))


def save_config(cfg: Any, out_dir: str | Path, filename: str = CONFIG_FILENAME) -> Path:
    """Write the resolved configuration (atomically) as YAML into ``out_dir``."""
    path = Path(out_dir) / filename
    write_text(path, yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True))
    return path


def _set_nested(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for p in parts[:-1]:
        node = data.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--{dotted}: {p} is not a section")
        data = node
    data[parts[-1]] = value


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        k = k.replace("-", "_")
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _describe(tp: Any) -> str:
    inner, _ = _unwrap_optional(tp)
    origin = typing.get_origin(inner)
    if origin in (list, tuple):
        return "LIST"
    if origin is dict:
        return "KEY=VALUE"
    if origin is typing.Literal:
        return "{" + ",".join(map(str, typing.get_args(inner))) + "}"
    return getattr(inner, "__name__", str(inner)).upper()


def add_arguments(parser: argparse.ArgumentParser, cls: type, prefix: str = "") -> None:
    """Add one ``--[prefix.]field`` flag per dataclass field (recursing into nested ones).

    Flags default to ``SUPPRESS`` so that only the ones given on the command line override
    the YAML file; their help shows the dataclass default.
    """
    hints = _hints(cls)
    group = parser.add_argument_group(prefix.rstrip(".") or "options") if prefix else parser
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        inner, _ = _unwrap_optional(tp)
        name = f"{prefix}{f.name}"
        if _is_dataclass_type(inner):
            add_arguments(parser, inner, prefix=f"{name}.")
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        )
        help_text = f.metadata.get("help", "")
        choices = f.metadata.get("choices")
        if choices:
            help_text += f" Choices: {', '.join(map(str, choices))}."
        help_text += f" (default: {default!r})"
        flags = [f"--{name}"]
        if "_" in name:
            flags.append(f"--{name.replace('_', '-')}")
        if inner is bool:
            group.add_argument(
                *flags, dest=name, action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS, help=help_text,
            )
        else:
            origin = typing.get_origin(inner)
            group.add_argument(
                *flags, dest=name, default=argparse.SUPPRESS, help=help_text,
                metavar=_describe(tp), nargs="*" if origin in (list, tuple, dict) else None,
            )


def _set_value(data: dict[str, Any], dotted: str, value: Any) -> None:
    if isinstance(value, str) and value.lower() in ("none", "null"):
        value = None
    _set_nested(data, dotted, value)


def parse_args(cls: type[T], args: argparse.Namespace) -> T:
    """Resolve defaults <- YAML (``args.config``) <- explicit flags into a ``cls`` instance."""
    data: dict[str, Any] = {}
    cfg_path = getattr(args, "config", None)
    if cfg_path:
        data = load_yaml(cfg_path)
    flags: dict[str, Any] = {}
    for key, value in vars(args).items():
        if key in ("config", "command", "_handler"):
            continue
        _set_value(flags, key, value)
    data = _merge(data, flags)
    return from_dict(cls, data, where=str(cfg_path) if cfg_path else "config")


def build_parser(cls: type, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--config", metavar="FILE.yaml", default=None,
        help="YAML file with any of the options below; flags given on the command line win.",
    )
    add_arguments(parser, cls)
    return parser


def replace(cfg: T, **changes: Any) -> T:
    return dataclasses.replace(cfg, **changes)

"""The ``crossalign`` command line: one thin subcommand per job.

Each subcommand lives in ``crossalign/commands/<name>.py`` and exposes a ``Config``
dataclass and ``main(config)``. Flags are generated from the dataclass, ``--config
file.yaml`` loads a YAML file first and flags override it. Modules are imported only when
their command runs, so ``crossalign --help`` stays fast.

    crossalign generate --help
"""

from __future__ import annotations

import argparse
import importlib
import sys

from crossalign import __version__
from crossalign.errors import ConfigError, FetchError, InputError
from crossalign.languages import UnknownLanguageError
from crossalign.options import build_parser, parse_args

# name -> (module, one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("crossalign.commands.generate", "build AFP training samples from pairs or instruction data"),
    "train": ("crossalign.commands.train", "align a causal LM: contrastive + cross-lingual instruction loss"),
    "evaluate": ("crossalign.commands.evaluate", "few-shot ICL on XNLI, XCOPA, PAWS-X, XStoryCloze, XWinograd"),
    "analyze": ("crossalign.commands.analyze", "per-layer analysis of language representations, with plots"),
    "encode": ("crossalign.commands.encode", "sentence embeddings at one layer (.npy + JSON), MTEB-style encoder"),
    "quickstart": ("crossalign.commands.quickstart", "the whole story on a real model: before, align, after"),
    "study": ("crossalign.commands.study", "the evidence study: base models, AFP and ablations, one report"),
    "compare": ("crossalign.commands.compare", "two evaluate runs on the same items: paired CI, McNemar, MDE"),
}


def _top_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {name:<12} {summary}" for name, (_, summary) in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="crossalign",
        description=__doc__.split("\n\n")[0],
        epilog=f"commands:\n{lines}\n\nRun 'crossalign COMMAND --help' for the options of a command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"crossalign {__version__}")
    parser.add_argument("command", choices=list(COMMANDS), metavar="COMMAND")
    return parser


def command_parser(name: str) -> tuple[argparse.ArgumentParser, object]:
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(
        prog=f"crossalign {name}",
        description=module.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build_parser(module.Config, parser)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    if not argv or argv[0].startswith("-"):
        top.parse_args(argv)  # handles --help / --version, errors on other flags
        top.print_help()
        return 2
    name = argv[0]
    if name not in COMMANDS:
        top.error(f"unknown command {name!r}; choose from {', '.join(COMMANDS)}")
    parser, module = command_parser(name)
    args = parser.parse_args(argv[1:])
    try:
        cfg = parse_args(module.Config, args)
        result = module.main(cfg)
    except (InputError, ConfigError, UnknownLanguageError) as exc:
        print(f"crossalign {name}: error: {exc}", file=sys.stderr)
        return 2
    except FetchError as exc:
        print(f"crossalign {name}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ncrossalign {name}: interrupted; outputs already completed are intact", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())

"""Errors that point the user at the exact place in their input that is wrong."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad user input, located by file and (1-based) line where one applies.

    The message always starts with ``file:line:`` (or ``file:``) so editors and terminals
    can jump to it, followed by what is wrong and, where possible, how to fix it.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.reason = message
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(where + message)


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and the valid options."""


class FetchError(RuntimeError):
    """Something the run needs could not be downloaded (no network, no such release...); the
    message says what and why. Not the user's input, so the CLI exits 1, without a traceback."""


class OutputPathError(ConfigError):
    """An output path cannot be written (a file where a folder must be, a read-only folder...).

    Raised by the checks of :mod:`crossalign.io` before a command does any work."""

"""Atomic output files: a crash or Ctrl-C never leaves a half-written output behind.

Everything crossalign writes goes through :func:`atomic_write`: the content is written to
a temporary file in the destination folder and moved over the destination with
``os.replace`` only once it is complete and flushed, so readers see either the old file or
the new one, never a partial one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from crossalign.errors import InputError, OutputPathError


def nearest_existing(path: Path) -> Path:
    """``path`` itself or its closest ancestor that exists (the folder a write would create under)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _check_creatable(folder: Path, option: str) -> None:
    """Raise ``OutputPathError`` unless ``folder`` (and any missing folder above it) can be written."""
    base = nearest_existing(folder)
    if not base.is_dir():
        raise OutputPathError(f"{option}: cannot write under {folder}: {base} is a file, not a folder")
    try:  # the real test: root passes os.access on a read-only mount or an immutable folder
        fd, tmp = tempfile.mkstemp(prefix=".crossalign-write-check.", dir=base)
    except OSError as exc:
        raise OutputPathError(f"{option}: cannot write into {base}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(tmp)


def check_output_file(path: str | Path, option: str) -> Path:
    """Refuse, before any compute, an output file that cannot be written.

    ``option`` names the setting the path came from (``--output``) so the error points at it.
    The checks: the path is not a folder, no file stands where a folder above it must be, and
    the nearest existing folder accepts a new file. Nothing is created."""
    path = Path(path)
    if str(path) in ("", "."):
        raise OutputPathError(f"{option}: give a file name, got {str(path)!r}")
    if path.is_dir():
        raise OutputPathError(f"{option}: {path} is a folder; give a file name (e.g. {path / 'out.jsonl'})")
    _check_creatable(path.parent, option)
    return path


def check_output_dir(path: str | Path, option: str) -> Path:
    """Refuse, before any compute, an output folder that cannot be made or written into."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{option}: {path} is a file; give a folder")
    _check_creatable(path, option)
    return path


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open ``path`` for writing so that it appears only when the ``with`` block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    binary = "b" in mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600 files; give the output the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Build a directory under a temporary name and rename it into place when complete.

    An existing directory at ``path`` is replaced only after the new one is finished.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            _rmtree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            _rmtree(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        _rmtree(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _rmtree(path: Path) -> None:

    shutil.rmtree(path, ignore_errors=True)


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_write(path) as handle:
        json.dump(obj, handle, ensure_ascii=False, indent=2, default=_json_default)
        handle.write("\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> int:
    """Write rows as JSON lines atomically; returns the number of rows written."""
    n = 0
    with atomic_write(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, default=_json_default))
            handle.write("\n")
            n += 1
    return n


def write_text(path: str | Path, text: str) -> None:
    with atomic_write(path) as handle:
        handle.write(text)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


# ---------------------------------------------------------------- reading
def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` for each line of a UTF-8 file, without its line ending.

    Lines end with ``\\n`` (or ``\\r\\n``) and are decoded one by one, so that an invalid byte is
    reported at its own line. A file without any ``\\n`` whose text holds ``\\r`` has old Mac OS
    line endings and is split on ``\\r`` instead. A ``\\r`` inside a ``\\n``-terminated line is an
    error naming the line (the file mixes line endings; a column count would only confuse).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    if path.is_dir():
        raise InputError("expected a file, found a directory", path)
    with open(path, "rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            body = raw.rstrip(b"\r\n")
            if b"\r" in body:
                if lineno == 1 and not raw.endswith(b"\n"):  # the whole file, and no \n in it: \r endings
                    parts = raw.split(b"\r")
                    if parts[-1] == b"":
                        parts.pop()
                    for cr_lineno, part in enumerate(parts, start=1):
                        yield cr_lineno, _decode_line(part, path, cr_lineno)
                    return
                raise InputError(
                    "a carriage return (\\r) inside the line: the file mixes line endings (old Mac OS \\r "
                    "with \\n); convert them all to \\n (e.g. dos2unix, then tr '\\r' '\\n')",
                    path, lineno,
                )
            yield lineno, _decode_line(body, path, lineno)


def _decode_line(raw: bytes, path: Path, lineno: int) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"not valid UTF-8 ({exc.reason} at byte {exc.start})"
        raise InputError(msg, path, lineno) from None
    if lineno == 1:
        text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the text
    return text.rstrip("\r\n")


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of a JSON-lines file (read by
    :func:`iter_lines`); invalid JSON is an :class:`InputError` naming the file and line."""
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg} (column {exc.colno})", path, lineno) from None

"""Atomic outputs: an interrupted write leaves the previous file intact and no temp files."""

from __future__ import annotations

import json
import os

import pytest

from crossalign.io import atomic_dir, atomic_write, write_json, write_jsonl


def test_interrupted_write_keeps_old_content(tmp_path):
    target = tmp_path / "out.jsonl"
    write_jsonl(target, [{"a": 1}])

    def rows():
        yield {"a": 2}
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_jsonl(target, rows())
    assert target.read_text() == '{"a": 1}\n'
    assert sorted(os.listdir(tmp_path)) == ["out.jsonl"]


def test_new_file_not_created_on_failure(tmp_path):
    target = tmp_path / "sub" / "new.txt"
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write("partial")
        raise RuntimeError("boom")
    assert not target.exists()
    assert os.listdir(tmp_path / "sub") == []


def test_written_file_has_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "x.json", {"k": [1, 2]})
    finally:
        os.umask(old)
    assert (os.stat(tmp_path / "x.json").st_mode & 0o777) == 0o644
    assert json.loads((tmp_path / "x.json").read_text()) == {"k": [1, 2]}


def test_atomic_dir_replaces_only_when_complete(tmp_path):
    target = tmp_path / "ckpt"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("one")
    with pytest.raises(KeyboardInterrupt), atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("two")
        raise KeyboardInterrupt
    assert (target / "a.txt").read_text() == "one"
    assert sorted(os.listdir(tmp_path)) == ["ckpt"]
    with atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("three")
    assert sorted(os.listdir(target)) == ["b.txt"]

"""Pinned parts: links that keep a deleted part readable, made on tmpfs where possible."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from arrowscope import _pins
from arrowscope._pins import FilePins


def _part(root: Path, text: str) -> str:
    part = root / "metrics" / "project=p" / "client=c" / "round=0" / "part-w-1.parquet"
    part.parent.mkdir(parents=True)
    part.write_text(text)
    return str(part)


def test_a_pinned_part_reads_after_its_deletion_until_the_pins_close(tmp_path: Path) -> None:
    part = _part(tmp_path, "the rows")
    pins = FilePins()
    (link,) = pins.stable_paths(str(tmp_path), "metrics", [part])
    assert link.endswith("metrics/project=p/client=c/round=0/part-w-1.parquet")
    expected_parent = "/dev/shm" if os.access("/dev/shm", os.W_OK | os.X_OK) else None
    assert Path(link).parents[5] == Path(expected_parent or tempfile.gettempdir())
    os.remove(part)
    assert Path(link).read_text() == "the rows"
    directory = Path(link).parents[4]
    pins.close()
    assert not directory.exists()


def test_links_go_to_the_temporary_directory_when_tmpfs_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_directory = tmp_path / "shm"
    not_a_directory.write_text("")
    not_a_directory.chmod(0o755)  # looks writable and searchable to os.access
    monkeypatch.setattr(_pins, "_MEMORY_DIR", str(not_a_directory))
    part = _part(tmp_path / "data", "rows")
    pins = FilePins()
    (link,) = pins.stable_paths(str(tmp_path / "data"), "metrics", [part])
    assert Path(link).parents[5] == Path(tempfile.gettempdir())
    assert Path(link).read_text() == "rows"
    pins.close()

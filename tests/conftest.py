"""Shared fixtures: every backend behind one ``repository`` fixture, and data directories."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import arrowscope
from _s3server import s3_bucket, s3_env, s3_server
from arrowscope.store import InMemoryRepository, ParquetRepository, Repository

__all__ = ["s3_bucket", "s3_env", "s3_server"]  # the S3 test server's fixtures

WORKERS = Path(__file__).with_name("_workers.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out ``ray`` tests unless ``-m`` names ray: they need the ray extra."""
    if "ray" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("ray") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


_REPOSITORY_FACTORIES: dict[str, Callable[[Path], Repository]] = {
    "parquet": lambda path: ParquetRepository(path / "repo", flush_interval=3600),
    "memory": lambda path: InMemoryRepository(),
}


@pytest.fixture(params=sorted(_REPOSITORY_FACTORIES))
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the backend under test."""
    return str(request.param)


@pytest.fixture
def repository(backend: str, tmp_path: Path) -> Iterator[Repository]:
    """A fresh repository of each backend, closed after the test."""
    repo = _REPOSITORY_FACTORIES[backend](tmp_path)
    yield repo
    repo.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty directory for a ParquetRepository."""
    path = tmp_path / "data"
    path.mkdir()
    return path


Spawn = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start ``python tests/_workers.py <args>`` (stdout piped, text); killed after the test."""
    started: list[subprocess.Popen[str]] = []
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    src = str(Path(arrowscope.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)

    def start(*args: object) -> subprocess.Popen[str]:
        command = [sys.executable, str(WORKERS), *map(str, args)]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


SCOPE_WORKERS = Path(__file__).with_name("_scope_workers.py")


def hanging_writer(runs: Path) -> subprocess.Popen[str]:
    """A process writing round p/c/0 (main metric ``acc``) that prints ``ready`` and hangs.

    Trial 0 has ended SUCCESS; trial 1 and its split are RUNNING.
    """
    command = [sys.executable, str(SCOPE_WORKERS), "hang-in-trial-1", str(runs)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        proc.communicate()
        raise AssertionError(f"the hanging writer exited with {proc.returncode} before ready")
    return proc


@pytest.fixture
def killed_writer(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A data directory whose ``hanging_writer`` was killed with SIGKILL, and its pid."""
    runs = tmp_path / "runs"
    proc = hanging_writer(runs)
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        yield runs, proc.pid
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()

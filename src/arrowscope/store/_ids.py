"""Round and trial numbers claimed by exclusive file creation, and the namespace directories.

Layout under the repository root (names percent-encoded as in partitions)::

    _ids/project=<p>/client=<c>/round-00000000          round 0 is taken
    _ids/project=<p>/client=<c>/round=0/trial-00000000  trial 0 of round 0 is taken
    _names/project=<p>/client=<c>/                      the client exists

A number is taken by ``os.open(..., O_CREAT | O_EXCL)``, which exactly one
process wins, so processes sharing the directory never get the same number.
Each allocator starts from the number after the highest it has seen and
moves up on a collision: numbers are dense from 0 with one writer.
``claim`` takes one exact number or reports that another process has it:
it lets processes agree on a number, such as the first round of a client.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final
from urllib.parse import unquote

from arrowscope.location import encode_partition_value
from arrowscope.store._files import fsync_dir

IDS_DIR: Final = "_ids"
NAMES_DIR: Final = "_names"


class IdAllocator:
    """Claims and lists round and trial numbers and project/client names in ``root``."""

    def __init__(self, root: Path, fsync: bool = False) -> None:
        self._root = root
        self._fsync = fsync
        self._next: dict[tuple[str, str, int | None], int] = {}
        self._dirs: dict[tuple[str, str, int | None], tuple[str, str]] = {}

    def allocate(self, project: str, client: str, round: int | None = None) -> int:
        """Claim the next round number (``round=None``) or trial number of ``round``."""
        key = (project, client, round)
        directory, prefix = self._directory(key)
        number = self._next.get(key)
        if number is None:
            taken = _numbers(Path(directory), prefix)
            number = taken[-1] + 1 if taken else 0
        while True:
            try:
                path = os.path.join(directory, f"{prefix}{number:08d}")
                fd = os.open(path, os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                number += 1
                continue
            os.close(fd)
            break
        if self._fsync:
            fsync_dir(Path(directory))
        self._next[key] = number + 1
        return number

    def claim(self, project: str, client: str, round: int | None, number: int) -> bool:
        """Claim exactly ``number`` (a round, or a trial of ``round``); False if it was taken.

        Of several processes claiming the same number at once, exactly one
        gets True: ``O_CREAT | O_EXCL`` decides.
        """
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValueError(f"an id to claim is an int >= 0, got {number!r}")
        key = (project, client, round)
        directory, prefix = self._directory(key)
        try:
            path = os.path.join(directory, f"{prefix}{number:08d}")
            fd = os.open(path, os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        os.close(fd)
        if self._fsync:
            fsync_dir(Path(directory))
        if key in self._next:
            self._next[key] = max(self._next[key], number + 1)
        return True

    def list_ids(self, project: str, client: str, round: int | None = None) -> list[int]:
        """Round numbers of a client, or trial numbers of a round, ascending."""
        directory, prefix = self._place(project, client, round)
        return _numbers(directory, prefix)

    def create(self, project: str, client: str | None = None) -> bool:
        """Make the directory of a project (or of a client of it); False if it existed."""
        target = self._root / NAMES_DIR / _dirname("project", project)
        if client is not None:
            target.mkdir(parents=True, exist_ok=True)
            target = target / _dirname("client", client)
        try:
            target.mkdir(parents=True)
        except FileExistsError:
            return False
        if self._fsync:
            fsync_dir(target.parent)
        return True

    def list_names(self, project: str | None = None) -> list[str]:
        """Projects, or the clients of ``project``, sorted by name."""
        directory = self._root / NAMES_DIR
        column = "project"
        if project is not None:
            directory, column = directory / _dirname("project", project), "client"
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            return []
        prefix = f"{column}="
        return sorted(
            unquote(e.name[len(prefix) :])
            for e in entries
            if e.name.startswith(prefix) and e.is_dir()
        )

    def _directory(self, key: tuple[str, str, int | None]) -> tuple[str, str]:
        """The claim directory (created on first use) and file prefix of ``key``."""
        place = self._dirs.get(key)
        if place is None:
            directory, prefix = self._place(*key)
            directory.mkdir(parents=True, exist_ok=True)
            place = self._dirs[key] = (str(directory), prefix)
        return place

    def _place(self, project: str, client: str, round: int | None) -> tuple[Path, str]:
        base = self._root / IDS_DIR / _dirname("project", project) / _dirname("client", client)
        if round is None:
            return base, "round-"
        return base / f"round={int(round)}", "trial-"


def _dirname(column: str, name: str) -> str:
    return f"{column}={encode_partition_value(name)}"


def _numbers(directory: Path, prefix: str) -> list[int]:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    width = len(prefix)
    return sorted(int(n[width:]) for n in names if n.startswith(prefix) and n[width:].isdigit())

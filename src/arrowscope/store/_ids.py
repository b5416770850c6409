"""Round and trial numbers claimed by exclusive creation, and the namespace directories.

Layout in the shared store (names percent-encoded as in partitions)::

    _ids/project=<p>/client=<c>/round-00000000          round 0 is taken
    _ids/project=<p>/client=<c>/round=0/trial-00000000  trial 0 of round 0 is taken
    _names/project=<p>/client=<c>/                      the client exists

A number is taken by ``FileIO.create`` (``O_CREAT | O_EXCL`` on a
directory, a conditional PUT on object storage), which exactly one process
wins, so processes sharing the store -- on one machine or many -- never get
the same number. Each allocator starts from the number after the highest it
has seen and moves up on a collision: numbers are dense from 0 with one
writer. ``claim`` takes one exact number or reports that another process
has it: it lets processes agree on a number, such as the first round of a
client.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import unquote

from arrowscope.location import encode_partition_value
from arrowscope.store.fileio import FileIO

IDS_DIR: Final = "_ids"
NAMES_DIR: Final = "_names"


class IdAllocator:
    """Claims and lists round and trial numbers and project/client names in a shared store."""

    def __init__(self, io: FileIO) -> None:
        self._io = io
        self._next: dict[tuple[str, str, int | None], int] = {}

    def allocate(self, project: str, client: str, round: int | None = None) -> int:
        """Claim the next round number (``round=None``) or trial number of ``round``."""
        key = (project, client, round)
        directory, prefix = _place(*key)
        number = self._next.get(key)
        if number is None:
            taken = self._numbers(directory, prefix)
            number = taken[-1] + 1 if taken else 0
        while not self._io.create(f"{directory}/{prefix}{number:08d}"):
            number += 1
        self._next[key] = number + 1
        return number

    def claim(self, project: str, client: str, round: int | None, number: int) -> bool:
        """Claim exactly ``number`` (a round, or a trial of ``round``); False if it was taken.

        Of several processes claiming the same number at once, exactly one
        gets True: the exclusive create decides.
        """
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValueError(f"an id to claim is an int >= 0, got {number!r}")
        key = (project, client, round)
        directory, prefix = _place(*key)
        if not self._io.create(f"{directory}/{prefix}{number:08d}"):
            return False
        if key in self._next:
            self._next[key] = max(self._next[key], number + 1)
        return True

    def list_ids(self, project: str, client: str, round: int | None = None) -> list[int]:
        """Round numbers of a client, or trial numbers of a round, ascending."""
        return self._numbers(*_place(project, client, round))

    def create(self, project: str, client: str | None = None) -> bool:
        """Make the directory of a project (or of a client of it); False if it existed."""
        target = f"{NAMES_DIR}/{_dirname('project', project)}"
        if client is not None:
            target = f"{target}/{_dirname('client', client)}"
        return self._io.make_dir(target)

    def list_names(self, project: str | None = None) -> list[str]:
        """Projects, or the clients of ``project``, sorted by name."""
        directory, column = NAMES_DIR, "project"
        if project is not None:
            directory, column = f"{directory}/{_dirname('project', project)}", "client"
        prefix = f"{column}="
        return sorted(
            unquote(name[len(prefix) :])
            for name in self._io.children(directory)
            if name.startswith(prefix)
        )

    def _numbers(self, directory: str, prefix: str) -> list[int]:
        width = len(prefix)
        return sorted(
            int(n[width:])
            for n in self._io.children(directory)
            if n.startswith(prefix) and n[width:].isdigit()
        )


def _dirname(column: str, name: str) -> str:
    return f"{column}={encode_partition_value(name)}"


def _place(project: str, client: str, round: int | None) -> tuple[str, str]:
    base = f"{IDS_DIR}/{_dirname('project', project)}/{_dirname('client', client)}"
    if round is None:
        return base, "round-"
    return f"{base}/round={int(round)}", "trial-"

"""Round and trial numbers claimed by exclusive creation, and the namespace directories.

Layout in the shared store (names percent-encoded as in partitions)::

    _ids/project=<p>/client=<c>/round-00000000          round 0 is taken
    _ids/project=<p>/client=<c>/round=0/trial-00000000  trial 0 of round 0 is taken
    _ids/project=<p>/client=<c>/round=0/trials-00000000-00000999
                                                        trials 0 to 999 are taken
    _names/project=<p>/client=<c>/                      the client exists

A number is taken by ``FileIO.create`` (``O_CREAT | O_EXCL`` on a
directory, a conditional PUT on object storage), which exactly one process
wins, so processes sharing the store -- on one machine or many -- never get
the same number. Each allocator starts from the number after the highest it
has seen and moves up on a collision: numbers are dense from 0 with one
writer. ``claim`` takes one exact number or reports that another process
has it: it lets processes agree on a number, such as the first round of a
client.

Trial numbers are packed, so that a long search does not leave one file per
trial: once every number of a block of ``BLOCK`` (0-999, 1000-1999, …) is
taken, the process that took the block's last number creates the block's
marker (exclusively) and only then deletes the block's files. A number whose
file is gone can be created again, so a claimer checks, after winning its
create, that the number's block has no marker; if it has, the number was
taken before, and the claimer deletes its file and counts the number as
taken. So two processes never get one number. (A claim that wins its create
just as the last number of its block is taken and the block packed may see
the marker and give the number up too: ``allocate`` then moves on to the
next number, and ``claim`` reports the number taken.) Readers union markers
and files; where a listing lacks some files of a block, the block's marker is
looked up by name, since a listing that runs while a block is packed may miss
both the new marker and the deleted files. The cost: one lookup per claim,
and one delete per trial, made by the process that packs the block. On
object storage, where each of those is a request, numbers are not packed.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Final
from urllib.parse import unquote

from arrowscope.location import encode_partition_value
from arrowscope.store.fileio import FileIO

logger = logging.getLogger(__name__)

IDS_DIR: Final = "_ids"
NAMES_DIR: Final = "_names"
BLOCK: Final = 1000


class IdAllocator:
    """Claims and lists round and trial numbers and project/client names in a shared store."""

    def __init__(self, io: FileIO, pack: bool = True) -> None:
        self._io = io
        # Packing trades a lookup per claim for fewer files: right on a
        # directory, not on object storage, where each lookup and each
        # delete is a request (and a bucket holds any number of keys).
        self._pack = pack
        self._next: dict[tuple[str, str, int | None], int] = {}

    def allocate(self, project: str, client: str, round: int | None = None) -> int:
        """Claim the next round number (``round=None``) or trial number of ``round``."""
        key = (project, client, round)
        directory, prefix = _place(*key)
        number = self._next.get(key)
        if number is None:
            taken = self._numbers(directory, prefix)
            number = taken[-1] + 1 if taken else 0
        while not self._take(directory, prefix, number):
            number += 1
        self._next[key] = number + 1
        self._pack_if_due(directory, prefix, number)
        return number

    def claim(self, project: str, client: str, round: int | None, number: int) -> bool:
        """Claim exactly ``number`` (a round, or a trial of ``round``); False if it was taken.

        Of several processes claiming the same number at once, at most one
        gets True -- exactly one but in the case the module docstring tells:
        the exclusive create decides.
        """
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValueError(f"an id to claim is an int >= 0, got {number!r}")
        key = (project, client, round)
        directory, prefix = _place(*key)
        if not self._take(directory, prefix, number):
            return False
        if key in self._next:
            self._next[key] = max(self._next[key], number + 1)
        self._pack_if_due(directory, prefix, number)
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

    def _take(self, directory: str, prefix: str, number: int) -> bool:
        """Create ``number``'s file; False when the number was taken (see the module docstring)."""
        path = f"{directory}/{prefix}{number:08d}"
        if not self._io.create(path):
            return False
        if self._pack and prefix == _PACKED and self._packed(directory, number // BLOCK):
            self._io.delete(path)  # taken before its block was packed (and its file deleted)
            return False
        return True

    def _packed(self, directory: str, block: int) -> bool:
        try:
            self._io.read(f"{directory}/{_marker(block)}")
        except FileNotFoundError:
            return False
        return True

    def _pack_if_due(self, directory: str, prefix: str, number: int) -> None:
        """After taking the last number of a block, pack every full block (see the docstring).

        Packing is housekeeping: when it fails, the files stay and a later
        packing retries.
        """
        if not self._pack or prefix != _PACKED or number % BLOCK != BLOCK - 1:
            return
        try:
            names = self._io.children(directory)
            markers = _markers(names)
            files: dict[int, list[int]] = {}
            for n in _numbered(names, prefix):
                files.setdefault(n // BLOCK, []).append(n)
            for block, numbers in sorted(files.items()):
                if block not in markers:
                    if len(numbers) < BLOCK:
                        continue
                    self._io.create(f"{directory}/{_marker(block)}")  # whoever wins, it exists
                for n in numbers:  # the marker exists: the files are redundant
                    self._io.delete(f"{directory}/{prefix}{n:08d}")
        except OSError as exc:
            logger.warning("could not pack the id files of %s: %s", directory, exc)

    def _numbers(self, directory: str, prefix: str) -> list[int]:
        names = self._io.children(directory)
        numbers = set(_numbered(names, prefix))
        if not self._pack or prefix != _PACKED:
            return sorted(numbers)
        markers = _markers(names)
        counts = Counter(n // BLOCK for n in numbers)
        top = max([*counts, *markers], default=-1)
        block = 0
        while True:
            complete = counts[block] >= BLOCK  # every file is listed
            # Files missing: not taken yet, or deleted by a packing this listing
            # overlapped (which may have missed its new marker): look it up.
            packed = block in markers or (not complete and self._packed(directory, block))
            if packed:
                numbers.update(range(block * BLOCK, (block + 1) * BLOCK))
            elif block >= top and not complete:
                return sorted(numbers)
            block += 1


_PACKED: Final = "trial-"  # the prefix whose numbers are packed into blocks


def _marker(block: int) -> str:
    return f"trials-{block * BLOCK:08d}-{(block + 1) * BLOCK - 1:08d}"


def _markers(names: list[str]) -> set[int]:
    return {b for b in map(_parse_marker, names) if b is not None}


def _parse_marker(name: str) -> int | None:
    if not name.startswith("trials-"):
        return None
    first, _, last = name[len("trials-") :].partition("-")
    if not (first.isdigit() and last.isdigit()):
        return None
    block, rest = divmod(int(first), BLOCK)
    return block if rest == 0 and int(last) == int(first) + BLOCK - 1 else None


def _numbered(names: list[str], prefix: str) -> list[int]:
    width = len(prefix)
    return [int(n[width:]) for n in names if n.startswith(prefix) and n[width:].isdigit()]


def _dirname(column: str, name: str) -> str:
    return f"{column}={encode_partition_value(name)}"


def _place(project: str, client: str, round: int | None) -> tuple[str, str]:
    base = f"{IDS_DIR}/{_dirname('project', project)}/{_dirname('client', client)}"
    if round is None:
        return base, "round-"
    return f"{base}/round={int(round)}", "trial-"

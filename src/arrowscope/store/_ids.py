"""Round and trial numbers claimed once in a shared store, and the namespace directories.

Layout in the shared store (names percent-encoded as in partitions)::

    _ids/project=<p>/client=<c>/round-00000000          round 0 is taken
    _ids/project=<p>/client=<c>/round=0/claims          trial numbers of round 0 (a journal)
    _ids/project=<p>/client=<c>/round=0/trial-00000000  trial 0 of round 0 is taken
    _names/project=<p>/client=<c>/                      the client exists

A round number is taken by ``FileIO.create`` (``O_CREAT | O_EXCL`` on a
directory, a conditional PUT on object storage), which exactly one process
wins, so processes sharing the store -- on one machine or many -- never get
the same number. On a directory, a trial number is a line appended to the
round's journal under an exclusive ``flock`` (``_claims``): a round holds one
file instead of one per trial, and a claim costs an append instead of a file
creation. On object storage, where there is no lock, a trial number is a
file, like a round's.

Each allocator starts from the number after the highest it has seen and
moves up on a collision: numbers are dense from 0 with one writer (and with
several on a directory, where every claim sees the others). ``claim`` takes
one exact number or reports that another process has it: it lets processes
agree on a number, such as the first round of a client.

Directories written before the journal hold a file per trial number, and,
for each full block of ``BLOCK`` numbers, a marker
(``trials-00000000-00000999``) that replaced the block's files: both still
count as taken. Writers of that layout and of the journal must not share a
round at the same time.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Final
from urllib.parse import unquote

from arrowscope.location import encode_partition_value
from arrowscope.store._claims import JOURNAL, ClaimJournal
from arrowscope.store.fileio import FileIO, LocalFileIO

IDS_DIR: Final = "_ids"
NAMES_DIR: Final = "_names"
BLOCK: Final = 1000


class IdAllocator:
    """Claims and lists round and trial numbers and project/client names in a shared store.

    Args:
        io: The store.
        journal: Claim trial numbers in a journal per round (``io`` must then be a
            ``LocalFileIO``); else one file per number.
    """

    def __init__(self, io: FileIO, journal: bool = False) -> None:
        self._io = io
        self._journal_root: Path | None = None
        self._fsync = False
        if journal:
            if not isinstance(io, LocalFileIO):
                raise TypeError(f"a claims journal needs a LocalFileIO, not {io!r}")
            self._journal_root, self._fsync = io.root, io.fsync
        self._journals: dict[str, ClaimJournal] = {}
        self._legacy: dict[str, list[int]] = {}
        self._next: dict[tuple[str, str, int | None], int] = {}

    def allocate(self, project: str, client: str, round: int | None = None) -> int:
        """Claim the next round number (``round=None``) or trial number of ``round``."""
        key = (project, client, round)
        directory, prefix = _place(*key)
        journal = self._journal(directory, prefix)
        if journal is not None:
            legacy = self._legacy_numbers(directory, prefix)
            return journal.claim_next(after=legacy[-1] if legacy else -1)
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
        gets True.
        """
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValueError(f"an id to claim is an int >= 0, got {number!r}")
        key = (project, client, round)
        directory, prefix = _place(*key)
        journal = self._journal(directory, prefix)
        if journal is not None:
            return number not in self._legacy_numbers(directory, prefix) and journal.claim_exact(
                number
            )
        if not self._io.create(f"{directory}/{prefix}{number:08d}"):
            return False
        if key in self._next:
            self._next[key] = max(self._next[key], number + 1)
        return True

    def list_ids(self, project: str, client: str, round: int | None = None) -> list[int]:
        """Round numbers of a client, or trial numbers of a round, ascending."""
        directory, prefix = _place(project, client, round)
        numbers = self._numbers(directory, prefix)
        journal = self._journal(directory, prefix)
        if journal is None:
            return numbers
        return sorted(journal.numbers().union(numbers))

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

    def close(self) -> None:
        """Close the journals' files (a later claim reopens them)."""
        for journal in self._journals.values():
            journal.close()

    def _journal(self, directory: str, prefix: str) -> ClaimJournal | None:
        """The journal of a round's trial numbers, when they are journaled."""
        if self._journal_root is None or prefix != _TRIAL:
            return None
        journal = self._journals.get(directory)
        if journal is None:
            path = self._journal_root / directory / JOURNAL
            journal = self._journals[directory] = ClaimJournal(path, self._fsync)
        return journal

    def _legacy_numbers(self, directory: str, prefix: str) -> list[int]:
        """Numbers taken by files, read once: only writers of the older layout make them."""
        found = self._legacy.get(directory)
        if found is None:
            found = self._legacy[directory] = self._numbers(directory, prefix)
        return found

    def _packed(self, directory: str, block: int) -> bool:
        try:
            self._io.read(f"{directory}/{_marker(block)}")
        except FileNotFoundError:
            return False
        return True

    def _numbers(self, directory: str, prefix: str) -> list[int]:
        """Numbers taken by files (and, for trials on a directory, by packed blocks' markers)."""
        names = self._io.children(directory)
        numbers = set(_numbered(names, prefix))
        if prefix != _TRIAL or self._journal_root is None:  # object storage was never packed
            return sorted(numbers)
        markers = _markers(names)
        counts = Counter(n // BLOCK for n in numbers)
        top = max([*counts, *markers], default=-1)
        block = 0
        while True:
            complete = counts[block] >= BLOCK  # every file is listed
            # Files missing: not taken, or deleted by a packing this listing
            # overlapped (which may have missed its new marker): look it up.
            packed = block in markers or (not complete and self._packed(directory, block))
            if packed:
                numbers.update(range(block * BLOCK, (block + 1) * BLOCK))
            elif block >= top and not complete:
                return sorted(numbers)
            block += 1


_TRIAL: Final = "trial-"


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
    return f"{base}/round={int(round)}", _TRIAL

"""Trial numbers in a journal per round: one file, the same allocation guarantees."""

from __future__ import annotations

import errno
import os
import resource
import shutil
import signal
import threading
from pathlib import Path

import pytest

from arrowscope.store._claims import JOURNAL
from arrowscope.store._ids import IdAllocator
from arrowscope.store.fileio import LocalFileIO

ROUND = Path("_ids") / "project=p" / "client=c" / "round=0"
# Written by the layout before the journal: a marker for trials 0-999, files for 1000, 1001.
PACKED = Path(__file__).parent / "data" / "packed_ids"


def _ids_of(root: Path, fsync: bool = False) -> IdAllocator:
    return IdAllocator(LocalFileIO(root, fsync), journal=True)


@pytest.mark.parametrize("fsync", [False, True])
def test_a_round_keeps_one_journal_and_numbers_stay_taken(tmp_path: Path, fsync: bool) -> None:
    ids = _ids_of(tmp_path, fsync)
    assert [ids.allocate("p", "c", 0) for _ in range(10)] == list(range(10))
    assert [p.name for p in (tmp_path / ROUND).iterdir()] == [JOURNAL]
    fresh = _ids_of(tmp_path)
    assert fresh.list_ids("p", "c", 0) == list(range(10))
    assert fresh.allocate("p", "c", 0) == 10
    assert not fresh.claim("p", "c", 0, 2), "a claimed number is taken"
    assert fresh.claim("p", "c", 0, 12) and fresh.list_ids("p", "c", 0) == [*range(11), 12]
    assert not ids.claim("p", "c", 0, 12), "another allocator sees the claim"
    assert ids.allocate("p", "c", 0) == 13
    ids.close()
    assert ids.allocate("p", "c", 0) == 14, "a closed journal reopens"
    # Rounds stay one file each: few, and claimed on object storage alike.
    assert [_ids_of(tmp_path).allocate("p", "c") for _ in range(3)] == [0, 1, 2]
    assert len(list((tmp_path / "_ids" / "project=p" / "client=c").glob("round-*"))) == 3


def test_numbers_of_the_older_layout_stay_taken(tmp_path: Path) -> None:
    shutil.copytree(PACKED, tmp_path, dirs_exist_ok=True)
    before = sorted(p.name for p in (tmp_path / ROUND).iterdir())
    ids = _ids_of(tmp_path)
    assert ids.list_ids("p", "c", 0) == list(range(1002))
    assert not ids.claim("p", "c", 0, 5) and not ids.claim("p", "c", 0, 1001)
    assert ids.allocate("p", "c", 0) == 1002
    assert ids.claim("p", "c", 0, 1500)
    assert _ids_of(tmp_path).list_ids("p", "c", 0) == [*range(1003), 1500]
    assert sorted(p.name for p in (tmp_path / ROUND).iterdir()) == sorted([*before, JOURNAL])


def test_a_listing_that_misses_a_marker_looks_it_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(PACKED, tmp_path, dirs_exist_ok=True)
    marker = "trials-00000000-00000999"
    io = LocalFileIO(tmp_path)
    listed = io.children
    monkeypatch.setattr(io, "children", lambda d: [n for n in listed(d) if n != marker])
    assert IdAllocator(io, journal=True).list_ids("p", "c", 0) == list(range(1002))
    assert IdAllocator(io, journal=True).allocate("p", "c", 0) == 1002


def test_concurrent_allocators_never_share_a_number(tmp_path: Path) -> None:
    got: list[list[int]] = []
    start = threading.Barrier(4)
    shared = _ids_of(tmp_path)  # two threads share one allocator, two have their own

    def work(ids: IdAllocator) -> None:
        mine: list[int] = []
        got.append(mine)
        start.wait()
        for i in range(60):
            mine.append(ids.allocate("p", "c", 0))
            if i % 7 == 0:
                number = mine[-1] + 3
                if ids.claim("p", "c", 0, number):
                    mine.append(number)

    allocators = [shared, shared, _ids_of(tmp_path), _ids_of(tmp_path)]
    threads = [threading.Thread(target=work, args=(ids,)) for ids in allocators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    numbers = [n for mine in got for n in mine]
    assert len(numbers) == len(set(numbers)), "a number was handed out twice"
    assert _ids_of(tmp_path).list_ids("p", "c", 0) == sorted(numbers)


def test_a_line_cut_by_a_crash_is_no_claim(tmp_path: Path) -> None:
    ids = _ids_of(tmp_path)
    assert [ids.allocate("p", "c", 0) for _ in range(4)] == [0, 1, 2, 3]
    with open(tmp_path / ROUND / JOURNAL, "ab") as journal:
        journal.write(b"47")  # what a writer killed inside write() leaves
    assert _ids_of(tmp_path).list_ids("p", "c", 0) == [0, 1, 2, 3], "its writer never got 47"
    other = _ids_of(tmp_path)
    assert other.allocate("p", "c", 0) == 4
    assert ids.allocate("p", "c", 0) == 5
    assert other.allocate("p", "c", 0) == 6 and other.claim("p", "c", 0, 7)
    assert _ids_of(tmp_path).list_ids("p", "c", 0) == list(range(8))
    assert (tmp_path / ROUND / JOURNAL).read_bytes() == b"0\n1\n2\n3\n47#\n4\n5\n6\n7\n"


def test_a_claim_that_cannot_be_written_raises_naming_the_journal(tmp_path: Path) -> None:
    ids = _ids_of(tmp_path)
    assert ids.allocate("p", "c", 0) == 0
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))  # every write fails: EFBIG
    try:
        with pytest.raises(OSError, match="could not claim a number") as raised:
            ids.allocate("p", "c", 0)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert raised.value.errno == errno.EFBIG
    assert raised.value.filename == str(tmp_path / ROUND / JOURNAL)
    assert "EFBIG" in str(raised.value)
    assert ids.allocate("p", "c", 0) == 1, "space is back: the number was never taken"
    assert _ids_of(tmp_path).list_ids("p", "c", 0) == [0, 1]


def test_a_forked_child_claims_with_a_lock_of_its_own(tmp_path: Path) -> None:
    ids = _ids_of(tmp_path)
    assert ids.allocate("p", "c", 0) == 0
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its claims must exclude the parent's
        numbers = [ids.allocate("p", "c", 0) for _ in range(50)]
        os.write(write, ",".join(map(str, numbers)).encode())
        os._exit(0)
    os.close(write)
    parent = [ids.allocate("p", "c", 0) for _ in range(50)]
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with os.fdopen(read, "rb") as pipe:
        child = [int(n) for n in pipe.read().split(b",")]
    assert sorted([0, *parent, *child]) == list(range(101))


def test_a_journal_needs_a_directory() -> None:
    class NotLocal:
        pass

    with pytest.raises(TypeError, match="LocalFileIO"):
        IdAllocator(NotLocal(), journal=True)  # type: ignore[arg-type]

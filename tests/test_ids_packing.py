"""Trial numbers packed into blocks: fewer files, the same allocation guarantees."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from arrowscope.store import _ids
from arrowscope.store._ids import IdAllocator
from arrowscope.store.fileio import LocalFileIO

ROUND = Path("_ids") / "project=p" / "client=c" / "round=0"


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_ids, "BLOCK", 4)


def _ids_of(root: Path) -> IdAllocator:
    return IdAllocator(LocalFileIO(root))


def test_full_blocks_become_one_marker_and_numbers_stay_taken(tmp_path: Path) -> None:
    ids = _ids_of(tmp_path)
    assert [ids.allocate("p", "c", 0) for _ in range(10)] == list(range(10))
    assert sorted(p.name for p in (tmp_path / ROUND).iterdir()) == [
        "trial-00000008",
        "trial-00000009",
        "trials-00000000-00000003",
        "trials-00000004-00000007",
    ]
    fresh = _ids_of(tmp_path)
    assert fresh.list_ids("p", "c", 0) == list(range(10))
    assert fresh.allocate("p", "c", 0) == 10
    assert not fresh.claim("p", "c", 0, 2), "a number of a packed block is taken"
    assert not (tmp_path / ROUND / "trial-00000002").exists(), "the stray file is removed"
    assert fresh.claim("p", "c", 0, 12) and fresh.list_ids("p", "c", 0) == [*range(11), 12]
    assert fresh.allocate("p", "c", 0) == 13
    assert _ids_of(tmp_path).list_ids("p", "c") == []  # rounds are not packed
    assert [_ids_of(tmp_path).allocate("p", "c") for _ in range(6)] == list(range(6))
    assert len(list((tmp_path / "_ids" / "project=p" / "client=c").glob("round-*"))) == 6


def test_a_listing_that_misses_a_new_marker_looks_it_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _ids_of(tmp_path)
    for _ in range(9):
        ids.allocate("p", "c", 0)
    marker = "trials-00000004-00000007"
    io = LocalFileIO(tmp_path)
    listed = io.children
    monkeypatch.setattr(io, "children", lambda d: [n for n in listed(d) if n != marker])
    assert IdAllocator(io).list_ids("p", "c", 0) == list(range(9))
    assert IdAllocator(io).allocate("p", "c", 0) == 9


def test_concurrent_allocators_never_share_a_number(tmp_path: Path) -> None:
    got: list[list[int]] = []
    start = threading.Barrier(4)

    def work() -> None:
        ids = _ids_of(tmp_path)
        mine: list[int] = []
        got.append(mine)
        start.wait()
        for i in range(60):
            mine.append(ids.allocate("p", "c", 0))
            if i % 7 == 0:  # a claim of a number that may sit in a packed block
                number = mine[-1] + 3
                if ids.claim("p", "c", 0, number):
                    mine.append(number)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    numbers = [n for mine in got for n in mine]
    assert len(numbers) == len(set(numbers)), "a number was handed out twice"
    listed = _ids_of(tmp_path).list_ids("p", "c", 0)
    assert set(numbers) <= set(listed)
    files = [p.name for p in (tmp_path / ROUND).iterdir() if p.name.startswith("trial-")]
    assert len(files) < len(listed) / 4, "full blocks are packed"

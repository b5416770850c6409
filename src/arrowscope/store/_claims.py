"""Numbers claimed by appending to one journal file under an exclusive ``flock``.

A claim on a directory used to be one exclusively created file per number.
File creation is among the slowest metadata operations of most filesystems
(on the ext4 of the benchmark machine, 30 µs on an idle disk and up to
0.7 ms while it writes back other data, where a claim appended here takes
9 µs), and a search of 100,000 trials left 100,000 files. A journal holds
every number of one round instead: ``<dir>/claims``, one decimal
number and a newline per claim, only ever appended to.

A claim takes the journal's ``flock``, reads what was appended since this
process last looked, picks a number none of the lines holds (the next one,
or one asked for), appends it and unlocks. Whoever appends a number first
owns it, and since every append happens under the lock, the second would
have seen it: two processes never get one number. ``flock`` is what marks live writers already (see
``_locks``), with the same requirements on shared filesystems (the README's
NFS and Lustre section).

A process killed in the middle of an append can leave a line without its
newline. The next claimer, who holds the lock and so knows nobody is
writing, ends that line with ``#``: it no longer parses as a number, which
is right, since its writer never returned it. Readers that take no lock
(``numbers``) ignore an unterminated last line: its writer may be writing it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final

JOURNAL: Final = "claims"


class ClaimJournal:
    """The claims of one directory, as seen by this process.

    Args:
        path: The journal file (created with its directory on the first claim).
        fsync: fsync each claim before it is handed out.
    """

    def __init__(self, path: Path, fsync: bool) -> None:
        self.path = path
        self._fsync = fsync
        self._pid = -1  # the fd, lock and position belong to one process (see _own)
        self._fd = -1
        self._mutex = threading.Lock()
        self._read_to = 0
        self._highest = -1  # of every number read so far: a long search holds no set of them

    def numbers(self) -> set[int]:
        """Every number claimed in the journal so far (no lock taken)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return set()
        return _parse(data[: data.rfind(b"\n") + 1])

    def claim_next(self, after: int = -1) -> int:
        """Claim the lowest number above both ``after`` and every number claimed so far."""
        number = self._claim(lambda: max(self._highest, after) + 1)
        assert number is not None
        return number

    def claim_exact(self, number: int) -> bool:
        """Claim ``number``; False (nothing written) if the journal holds it already."""
        # Rare (a number agreed on in advance): read the whole journal rather than keep a set.
        return self._claim(lambda: None if number in self.numbers() else number) is not None

    def _claim(self, pick: Callable[[], int | None]) -> int | None:
        """Append ``pick()`` (called under the lock, after reading the tail) unless it is None."""
        self._own()
        with self._mutex:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                cut = self._read_tail(fd)
                number = pick()
                if number is None:
                    return None
                line = f"{number}\n".encode()
                # Under the lock nobody is writing: an unterminated line was cut by a crash.
                if cut:
                    line = b"#\n" + line
                try:
                    os.write(fd, line)
                    if self._fsync:
                        os.fsync(fd)
                except OSError as exc:
                    raise _claim_failed(self.path, exc) from exc
                self._read_to += cut + len(line)
                self._highest = max(self._highest, number)
                return number
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _read_tail(self, fd: int) -> int:
        """Read what was appended since the last look; the bytes of an unterminated last line."""
        chunks: list[bytes] = []
        offset = self._read_to
        while chunk := os.pread(fd, 1 << 16, offset):
            chunks.append(chunk)
            offset += len(chunk)
        data = b"".join(chunks)
        complete = data.rfind(b"\n") + 1
        self._highest = max(self._highest, max(_parse(data[:complete]), default=-1))
        self._read_to += complete
        return len(data) - complete

    def _open(self) -> int:
        if self._fd < 0:
            try:
                self._fd = _open_append(self.path)
            except FileNotFoundError:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = _open_append(self.path)
        return self._fd

    def _own(self) -> None:
        """In a forked child: a descriptor and lock of its own (a shared one shares the flock)."""
        pid = os.getpid()
        if self._pid != pid:
            if self._fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(self._fd)  # the parent's lock is the parent's to release
            self._mutex, self._fd = threading.Lock(), -1
            self._pid = pid  # last: another thread seeing it finds the new lock

    def close(self) -> None:
        """Close the descriptor (a later claim reopens it)."""
        if self._fd >= 0 and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = -1


def _claim_failed(path: Path, cause: OSError) -> OSError:
    name = errno.errorcode.get(cause.errno or 0, f"errno {cause.errno}")
    message = (
        f"could not claim a number in {path} ({name}: {cause.strerror or cause}): "
        "nothing was started; free space or fix the permissions and try again"
    )
    return OSError(cause.errno, message, str(path))


def _open_append(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)


def _parse(lines: bytes) -> set[int]:
    return {int(line) for line in lines.split(b"\n") if line.isdigit()}

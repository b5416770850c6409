"""The exceptions arrowscope raises (one root class and a few specific ones) and its warnings.

Each subclass also derives from the builtin a caller would naturally catch
(``ValueError``, ``LookupError``, ...), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

import errno
from pathlib import Path


class ArrowscopeError(Exception):
    """Root of every error raised on purpose by arrowscope."""


class InvalidNameError(ArrowscopeError, ValueError):
    """A project, client or metric name that cannot be stored safely."""

    def __init__(self, name: object, rule: str) -> None:
        self.name = name
        self.rule = rule
        super().__init__(f"invalid name {name!r}: {rule}")


class InvalidValueError(ArrowscopeError, ValueError):
    """A logged value or an argument outside what is allowed."""


class ScopeClosedError(ArrowscopeError, RuntimeError):
    """An operation on a scope that is detached, closed or not yet configured."""


class RoundNotFoundError(ArrowscopeError, LookupError):
    """A round (or trial) that does not exist in the repository."""


class Terminated(SystemExit):
    """Raised in the main thread when the process receives SIGTERM.

    It derives from ``SystemExit``, not from ``ArrowscopeError``, so that
    ``except Exception`` clauses let it through: running scopes end ABORTED,
    as for ``KeyboardInterrupt``, and the process exits with ``code`` (143,
    which is 128 + SIGTERM, the status shells report for a terminated
    process) unless something catches it. If it is caught, or turned into
    another exception, before any scope saw it, the next scope entered or
    exited in the main thread raises it again; to keep running on SIGTERM,
    install a handler of your own before the first ``Root``.
    """

    def __init__(self, signum: int = 15) -> None:
        self.signum = signum
        super().__init__(128 + signum)

    def __str__(self) -> str:
        # The text stored in a scope's ``error`` column; the exit status stays ``code``.
        return f"received signal {self.signum}; exiting with status {self.code}"


class CorruptFileError(ArrowscopeError, OSError):
    """A file in the data directory that is not a readable arrowscope file."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(
            f"{self.path}: {reason}. Move the file out of the data directory "
            "(arrowscope never rewrites or deletes files it did not write)."
        )


class StorageWriteError(ArrowscopeError, OSError):
    """Rows could not be appended to the log (disk full, file too large, read-only, ...).

    Nothing is lost: the rows stay in memory and are written at the next
    flush that succeeds. ``errno`` is the operating system's error number.
    """

    def __init__(self, path: str | Path, cause: OSError) -> None:
        self.path = str(path)
        self.cause = cause
        name = self.errno_name(cause.errno)
        self.message = (
            f"{self.path}: could not write the log ({name}: {cause.strerror or cause}). "
            "Free space or fix the permissions of the data directory; nothing is lost: "
            "the rows stay in memory and are written at the next successful flush."
        )
        super().__init__(self.message)
        self.errno = cause.errno
        self.strerror = cause.strerror
        self.filename = self.path

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type[StorageWriteError], tuple[str, OSError]]:
        # Pickled across processes (executors) with the arguments, not the message.
        return (type(self), (self.path, self.cause))

    @staticmethod
    def errno_name(number: int | None) -> str:
        """``ENOSPC`` for 28 and the like; ``errno <n>`` for numbers without a name."""
        if number is None:
            return "no errno"
        return errno.errorcode.get(number, f"errno {number}")


class HousekeepingWarning(UserWarning):
    """A checkpoint or compaction failed; the rows are safe in the log meanwhile.

    Reported once per cause and never raised into a ``with`` block: the
    chore is tried again later, and the log holds every row until it works.
    """


class DamagedLogWarning(UserWarning):
    """A log segment had unreadable records in the middle: their rows are lost.

    The readable records were recovered; the segment is kept beside the data
    under a ``.damaged`` name for inspection.
    """


class StorageConfigError(ArrowscopeError, ValueError):
    """Object storage that cannot be used as configured: one line naming the URI and the fix.

    Raised where the repository is opened (``Root.at``, ``arrowscope.connect``,
    the CLI), before anything is logged.
    """

    def __init__(self, uri: str, problem: str, remedy: str) -> None:
        self.uri = uri
        self.problem = problem
        self.remedy = remedy
        super().__init__(f"{uri}: {problem}; {remedy}")

    def __reduce__(self) -> tuple[type[StorageConfigError], tuple[str, str, str]]:
        return (type(self), (self.uri, self.problem, self.remedy))

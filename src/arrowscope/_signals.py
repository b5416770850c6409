"""SIGTERM ends the running scopes ABORTED, and never in the middle of a write.

Slurm, Kubernetes, ``timeout``, Ray and Dask stop a process with SIGTERM,
whose default action kills it on the spot: nothing is recorded and its
scopes stay RUNNING. arrowscope turns the signal into an exception instead,
the way Python turns SIGINT into ``KeyboardInterrupt``:

* ``install_sigterm_handler()`` -- called when a ``Root`` is made in the
  main thread -- installs a handler that raises ``Terminated`` (a
  ``SystemExit`` with code 143) in the main thread. ``with`` blocks unwind,
  every running split and trial is flushed and ends ABORTED, and the
  process exits with status 143.
* A handler installed from Python before arrowscope's is chained: it is
  called instead of raising, and it decides (``sys.exit(code)``, its own
  exception, or returning to keep running). ``SIG_IGN`` stays ignored, and
  a handler installed from C (``signal.getsignal`` gives ``None``) is left
  alone: arrowscope installs nothing then.
* If C code swallows or converts the ``Terminated`` before any scope sees it
  (DuckDB reports it as ``RuntimeError("Query interrupted")``, or as an
  ``InvalidInputException`` when it was raised in a Python function DuckDB
  called), the next scope entered or exited in the main thread raises it
  again, so the scopes still end ABORTED and the process still exits 143.
* ``deferred_signals()`` marks a critical section. The repositories wrap
  their locked sections in it, and scopes their acquisition and release,
  so rows taken from the buffers always reach the log and a scope's
  closing events are written whole: a SIGTERM arriving inside is handled
  when the outermost section ends.

Python runs signal handlers in the main thread only, and only the main
thread may install one. When the first ``Root`` is made in another thread
(a Dask or Ray worker thread, a thread pool), nothing is installed and
SIGTERM keeps the process's own behaviour (by default it kills the process
at once, and its running scopes stay RUNNING); a later ``Root`` made in the
main thread installs it. A signal that arrives while the main thread is
inside a long call into C (a numpy or torch operation, a DuckDB query
past its start) is handled when that call returns to Python; arrowscope's
own report queries run as critical sections, so DuckDB finishes them first.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

from arrowscope.errors import Terminated

logger = logging.getLogger(__name__)

Handler = Callable[[int, FrameType | None], Any]


class _Depth(threading.local):
    """How many critical sections the current thread is inside."""

    depth = 0


_local = _Depth()
# Signals that arrived inside a critical section of the main thread.
_pending: list[tuple[int, FrameType | None]] = []
# The Python handler that was installed before arrowscope's, by signal number.
_chained: dict[int, Handler] = {}
_install_lock = threading.Lock()
_installed = False
# The last Terminated raised by the handler, until a scope boundary sees it.
# C code that polls for signals may swallow or convert it on its way.
_undelivered: Terminated | None = None


class DeferredSignals:
    """A re-entrant critical section: signals arriving inside wait for its end.

    One instance serves every thread (the depth is kept per thread). Leaving
    the outermost section of the main thread handles what arrived meanwhile,
    so ``__exit__`` may raise ``Terminated``.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        _local.depth += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _local.depth -= 1
        if _pending and not _local.depth and threading.current_thread() is threading.main_thread():
            _handle_pending()


_GUARD = DeferredSignals()


def deferred_signals() -> DeferredSignals:
    """``with deferred_signals():`` -- a section a SIGTERM must not interrupt.

    Cheap (two thread-local updates) and re-entrant. Wrap in it whatever
    would lose or tear data if an exception were raised half-way, such as
    taking rows from a buffer and appending them to a log.
    """
    return _GUARD


def in_critical_section() -> bool:
    """True while the current thread is inside ``deferred_signals()``."""
    return _local.depth > 0


def install_sigterm_handler() -> bool:
    """Route SIGTERM through arrowscope, once per process, from the main thread.

    Returns:
        True if arrowscope's handler is installed (now or earlier); False in a
        thread other than the main one, when SIGTERM is ignored (``SIG_IGN``)
        or when its handler was installed from C.
    """
    global _installed
    if _installed:
        return True
    if threading.current_thread() is not threading.main_thread():
        logger.debug("not in the main thread: SIGTERM keeps the process's handler")
        return False
    with _install_lock:
        if _installed:
            return True
        current = signal.getsignal(signal.SIGTERM)
        if current is signal.SIG_IGN or current is None:
            logger.debug("SIGTERM is ignored or handled from C: arrowscope leaves it alone")
            return False
        if current is not signal.SIG_DFL and current is not _on_signal:
            assert callable(current)
            _chained[signal.SIGTERM] = current
        try:
            signal.signal(signal.SIGTERM, _on_signal)
        except ValueError:  # a sub-interpreter, say: no handlers there
            logger.debug("cannot install a SIGTERM handler here", exc_info=True)
            return False
        _installed = True
    return True


def lost_termination(exc: BaseException | None) -> Terminated | None:
    """The ``Terminated`` a scope boundary must end with instead of ``exc``, or None.

    Scopes call it when they are entered and exited. When SIGTERM raised a
    ``Terminated`` that was swallowed or converted before reaching any scope
    (``exc`` is None or another exception), it is returned -- once -- so the
    scope ends ABORTED and the termination goes on. Only the main thread
    takes it, the thread it was raised in.
    """
    global _undelivered
    found = _undelivered
    if found is None or threading.current_thread() is not threading.main_thread():
        return None
    _undelivered = None
    if isinstance(exc, (SystemExit, KeyboardInterrupt)):
        return None  # it arrived (or another interruption did): the scope ends ABORTED
    return found


def _on_signal(signum: int, frame: FrameType | None) -> None:
    # Runs in the main thread, between two bytecodes of whatever it was doing.
    if _local.depth:
        _pending.append((signum, frame))
        return
    _dispatch(signum, frame)


def _handle_pending() -> None:
    found = list(_pending)
    _pending.clear()
    for signum, frame in found:
        _dispatch(signum, frame)


def _dispatch(signum: int, frame: FrameType | None) -> None:
    global _undelivered
    chained = _chained.get(signum)
    if chained is not None:
        chained(signum, frame)  # it may raise, exit, or return to keep running
        return
    _undelivered = Terminated(signum)
    raise _undelivered

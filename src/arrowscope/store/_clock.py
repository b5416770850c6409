"""The hybrid logical clock that orders a scope's events across processes and machines.

A scope's state is its latest event. Wall clocks step back (NTP, a restored
VM) and differ between machines, so "latest" cannot mean "greatest ``at``".
Every event instead carries a ``clock`` stamp in microseconds: the greater
of the wall time and one more than any stamp this writer has issued or read
back from the store (``observe``). A writer that re-opens a scope observes
the scope's stamps first, so whatever it writes next sorts after them,
however far behind its own wall clock is. ``at`` stays the wall time, as data
for people.
"""

from __future__ import annotations

import threading
import time

_NS_PER_US = 1000


class HybridClock:
    """Stamps that never go backwards and never fall behind an observed stamp."""

    __slots__ = ("_last", "_lock")

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def tick(self, wall_us: int | None = None) -> int:
        """A new stamp: ``max(wall time, last stamp + 1)``."""
        wall = time.time_ns() // _NS_PER_US if wall_us is None else wall_us
        with self._lock:
            self._last = max(wall, self._last + 1)
            return self._last

    def observe(self, stamp: int | None) -> None:
        """Take a stamp read back from the store: later ticks sort after it."""
        if stamp is None:
            return
        with self._lock:
            self._last = max(self._last, int(stamp))

    @property
    def last(self) -> int:
        """The greatest stamp issued or observed so far."""
        return self._last

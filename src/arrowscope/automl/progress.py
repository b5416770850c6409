"""A one-line progress display of a search (trial i/n, best so far) for terminals.

It writes only when its stream (stderr by default) is a terminal, so logs, pipes
and CI output stay clean.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from arrowscope.location import TrialStatus

__all__ = ["ProgressLine"]


class ProgressLine:
    """Rewrites one line on a terminal after each trial: done/total, best, failures.

    Args:
        total: The number of trials planned.
        stream: Where to write; ``sys.stderr`` (looked up at construction) by default.
        enabled: Force on or off; ``None`` means "only if ``stream`` is a terminal".
    """

    def __init__(
        self, total: int, stream: TextIO | None = None, enabled: bool | None = None
    ) -> None:
        self.total = total
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = _is_terminal(self._stream) if enabled is None else enabled
        self.done = 0
        self.failed = 0
        self.best: tuple[float, int] | None = None
        self._started = time.monotonic()
        self._shown = False

    def trial_done(
        self, trial_number: int, status: TrialStatus, score: float | None, higher_is_better: bool
    ) -> None:
        """Count a finished trial, keep the best score, and redraw the line."""
        self.done += 1
        if status is not TrialStatus.SUCCESS:
            self.failed += 1
        if score is not None and status is TrialStatus.SUCCESS:
            best = self.best
            if best is None or (score > best[0] if higher_is_better else score < best[0]):
                self.best = (score, trial_number)
        self._draw()

    def text(self) -> str:
        """The current line, without terminal control characters."""
        parts = [f"arrowscope: trial {self.done}/{self.total}"]
        if self.best is not None:
            parts.append(f"best {self.best[0]:.6g} (trial {self.best[1]})")
        if self.failed:
            parts.append(f"{self.failed} failed")
        parts.append(f"{time.monotonic() - self._started:.1f}s")
        return " | ".join(parts)

    def close(self) -> None:
        """End the line (if anything was drawn)."""
        if self.enabled and self._shown:
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self) -> None:
        if not self.enabled:
            return
        # Carriage return, then erase to the end of the line: the line is redrawn in place.
        self._stream.write("\r" + self.text() + "\x1b[K")
        self._stream.flush()
        self._shown = True


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False

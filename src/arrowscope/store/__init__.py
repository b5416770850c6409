"""Storage backends: ``ParquetRepository`` (a directory) and ``InMemoryRepository``."""

from __future__ import annotations

from arrowscope.store._base import Repository, RoundKey
from arrowscope.store._buffer import MetricBuffer
from arrowscope.store.memory import InMemoryRepository

__all__ = ["InMemoryRepository", "MetricBuffer", "Repository", "RoundKey"]

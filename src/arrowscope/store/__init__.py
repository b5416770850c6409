"""Storage backends: ``ParquetRepository`` (a directory) and ``InMemoryRepository``."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlsplit

from arrowscope.store._base import Repository, RoundKey
from arrowscope.store._buffer import MetricBuffer
from arrowscope.store.memory import InMemoryRepository
from arrowscope.store.parquet import ParquetRepository

__all__ = [
    "InMemoryRepository",
    "MetricBuffer",
    "ParquetRepository",
    "Repository",
    "RoundKey",
    "open_repository",
]

SCHEMES = ("file", "memory")


def open_repository(path_or_uri: str | os.PathLike[str], **options: Any) -> Repository:
    """Open the repository a path or URI names.

    * ``memory://`` -- a new, empty ``InMemoryRepository`` (each call);
    * ``file:///abs/path`` or a plain path -- a ``ParquetRepository`` there.

    TODO(storage): object stores (``s3://``, ``gs://``, ``abfs://``) through
    ``pyarrow.fs``; it needs a lock and exclusive-create primitive in place of
    ``flock`` and ``O_EXCL``, which those filesystems do not offer.

    Args:
        path_or_uri: A directory path or a URI with one of the schemes above.
        **options: Keyword arguments of ``ParquetRepository`` (``flush_interval``,
            ``fsync``, ``auto_compact_parts``); an in-memory repository has none
            and ignores them.

    Raises:
        ValueError: for any other scheme, naming the supported ones.
    """
    text = os.fspath(path_or_uri)
    scheme, sep, _ = text.partition("://")
    if not sep:
        return ParquetRepository(text, **options)
    if scheme == "memory":
        return InMemoryRepository()
    if scheme == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"{text!r}: a file:// URI names a local path (file:///abs/path)")
        return ParquetRepository(unquote(parts.path), **options)
    raise ValueError(
        f"unsupported repository URI scheme {scheme!r} in {text!r}; "
        f"use a path or one of {', '.join(s + '://' for s in SCHEMES)}"
    )

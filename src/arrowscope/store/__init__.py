"""Storage backends: ``ParquetRepository`` (a directory) and ``InMemoryRepository``."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlsplit

from arrowscope.store._base import Repository, RoundKey
from arrowscope.store._buffer import MetricBuffer
from arrowscope.store._listing import partition_of
from arrowscope.store.memory import InMemoryRepository
from arrowscope.store.parquet import ParquetRepository

__all__ = [
    "InMemoryRepository",
    "MetricBuffer",
    "ParquetRepository",
    "Repository",
    "RoundKey",
    "open_repository",
    "partition_of",
]

SCHEMES = ("file", "memory", "s3")


def open_repository(path_or_uri: str | os.PathLike[str], **options: Any) -> Repository:
    """Open the repository a path or URI names.

    * ``memory://`` -- a new, empty ``InMemoryRepository`` (each call);
    * ``file:///abs/path`` or a plain path -- a ``ParquetRepository`` there;
    * ``s3://bucket/prefix`` -- an ``ObjectStoreRepository`` (S3 or any
      S3-compatible server; configured by the AWS variables or options).

    Args:
        path_or_uri: A directory path or a URI with one of the schemes above.
        **options: Keyword arguments of the repository (``flush_interval``,
            ``fsync``, ``auto_compact_parts``; for ``s3://`` also
            ``filesystem``, ``storage_options``, ``spool``,
            ``heartbeat_interval``, ``dead_after``); an in-memory repository
            has none and ignores them.

    Raises:
        ValueError: for any other scheme, naming the supported ones.
    """
    text = os.fspath(path_or_uri)
    scheme, sep, _ = text.partition("://")
    if not sep:
        return ParquetRepository(text, **_local(options))
    if scheme == "memory":
        return InMemoryRepository()
    if scheme == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"{text!r}: a file:// URI names a local path (file:///abs/path)")
        return ParquetRepository(unquote(parts.path), **_local(options))
    if scheme == "s3":
        from arrowscope.store.objectstore import ObjectStoreRepository

        return ObjectStoreRepository(text, **options)
    raise ValueError(
        f"unsupported repository URI scheme {scheme!r} in {text!r}; "
        f"use a path or one of {', '.join(s + '://' for s in SCHEMES)}"
    )


_OBJECT_STORE_ONLY = ("filesystem", "storage_options", "spool", "heartbeat_interval", "dead_after")


def _local(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` for a local directory; object-store options given for one are refused."""
    wrong = [name for name in _OBJECT_STORE_ONLY if options.get(name) is not None]
    if wrong:
        raise ValueError(f"{', '.join(wrong)} apply to s3:// URIs only, not to a local directory")
    return {k: v for k, v in options.items() if k not in _OBJECT_STORE_ONLY}

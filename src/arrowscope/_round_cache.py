"""Derived tables of settled rounds, kept next to the data: connecting skips their events.

A connection computes its aggregating tables (``_scope_state`` … ``trials``,
``rounds``, ``params``) from every event of every round, which costs what
the number of scopes costs -- seconds at 100,000 trials -- however long ago
the round ended. A round whose events are all in Parquet parts (no log
segment, nothing staged: *settled*) changes only when its list of parts
changes: parts are immutable and never reuse a name. Its rows of those tables
are therefore a function of that list, and ``RoundCache`` keeps them::

    <root>/_cache/derived/project=…/client=…/round=…/<key>/<table>.arrow

Arrow IPC files, uncompressed and read memory-mapped (no copy). ``key`` hashes the round's part
names with the SQL of the views and the versions of arrowscope, DuckDB and
pyarrow, so a new part, a compaction, or an upgrade changes it and the round
is computed again (once). Rounds of storage format 1, whose scores come from
their values, are never cached.

The cache is an optimization: writing it is best-effort (a read-only
directory, a full disk: the tables are simply computed each time), a cache
that cannot be read counts as absent, and deleting ``_cache/`` is always safe.
Each key directory is written under a temporary name and renamed into place
whole; once a round has a newer key, the older ones are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from arrowscope.location import encode_partition_value
from arrowscope.store import partition_of

logger = logging.getLogger(__name__)

RoundKey = tuple[str, str, int]

SUFFIX: Final = ".arrow"
CACHE_FORMAT: Final = 2  # how the files are written (2: uncompressed IPC)
_TEMPORARY: Final = ".tmp-"
_STALE_TEMPORARY_S: Final = 3600.0
# Uncompressed, so that reading is a memory map and no copy: a connection to a
# directory of finished rounds then costs what listing it costs. The price is
# disk: about 1.4 kB per trial (two splits), a third of it with LZ4.
_IPC_OPTIONS: Final = pa.ipc.IpcWriteOptions(compression=None)


def fingerprint(texts: Iterable[str]) -> str:
    """A digest of what the cached tables depend on besides the data (SQL, versions)."""
    digest = hashlib.sha256(f"arrowscope derived-table cache {CACHE_FORMAT}\0".encode())
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


class RoundCache:
    """Per-round derived tables under ``directory`` (see the module docstring).

    Args:
        directory: Where the cache lives (``<root>/_cache/derived``).
        fingerprint: What else the tables depend on (``fingerprint``).
    """

    def __init__(self, directory: Path, fingerprint: str) -> None:
        self.directory = directory
        self._fingerprint = fingerprint
        self._warned = False

    def key(self, part_names: Iterable[str]) -> str:
        """The cache key of a round whose events are the parts named ``part_names``."""
        digest = hashlib.sha256(self._fingerprint.encode())
        for name in sorted(part_names):
            digest.update(b"\0" + name.encode())
        return digest.hexdigest()[:32]

    def load(
        self, round_key: RoundKey, key: str, names: Sequence[str]
    ) -> dict[str, pa.Table] | None:
        """The round's cached tables ``names`` under ``key``; None when one is missing or bad."""
        directory = self._round_directory(round_key) / key
        tables = {}
        try:
            for name in names:
                with pa.memory_map(str(directory / f"{name}{SUFFIX}")) as source:
                    tables[name] = pa.ipc.open_file(source).read_all()
        except FileNotFoundError:
            return None
        except (OSError, pa.ArrowException) as exc:
            logger.info("ignoring the unreadable derived-table cache %s: %s", directory, exc)
            return None
        return tables

    def store(self, round_key: RoundKey, key: str, tables: Mapping[str, pa.Table]) -> None:
        """Keep ``tables`` as the round's tables under ``key``; failures are logged, not raised."""
        parent = self._round_directory(round_key)
        final = parent / key
        if final.exists():
            return
        temporary = parent / f"{_TEMPORARY}{uuid.uuid4().hex}"
        try:
            temporary.mkdir(parents=True)
            for name, table in tables.items():
                with pa.OSFile(str(temporary / f"{name}{SUFFIX}"), "wb") as sink:
                    with pa.ipc.new_file(sink, table.schema, options=_IPC_OPTIONS) as writer:
                        writer.write_table(table)
            try:
                os.rename(temporary, final)
            except OSError:
                if not final.is_dir():
                    raise
                # Another process stored the same key first: its tables are these.
        except (OSError, pa.ArrowException) as exc:
            if not self._warned:
                self._warned = True
                logger.info(
                    "not caching derived tables under %s (%s); they are computed at each "
                    "connection instead",
                    self.directory,
                    exc,
                )
            return
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
        self._remove_others(parent, key)

    def _round_directory(self, round_key: RoundKey) -> Path:
        project, client, round_ = round_key
        return (
            self.directory
            / f"project={encode_partition_value(project)}"
            / f"client={encode_partition_value(client)}"
            / f"round={round_}"
        )

    def _remove_others(self, parent: Path, key: str) -> None:
        """Remove the round's older keys, and temporaries left by processes that died."""
        with contextlib.suppress(OSError):
            for entry in os.scandir(parent):
                if entry.name == key:
                    continue
                if entry.name.startswith(_TEMPORARY):
                    with contextlib.suppress(OSError):
                        if time.time() - entry.stat().st_mtime < _STALE_TEMPORARY_S:
                            continue  # another process may be writing it now
                shutil.rmtree(entry.path, ignore_errors=True)


@dataclass
class RoundPlan:
    """Which rounds a connection reads from the cache, computes, and then stores."""

    cached: dict[RoundKey, dict[str, pa.Table]] = field(default_factory=dict)
    fresh: set[int] = field(default_factory=set)  # indexes of the event parts to read
    to_store: dict[RoundKey, str] = field(default_factory=dict)  # round -> its cache key


def plan_rounds(
    cache: RoundCache, files: Sequence[str], unsettled: set[RoundKey], names: Sequence[str]
) -> RoundPlan:
    """Split the rounds of the event parts ``files`` into cached ones and ones to compute.

    A round is settled when it has no pending rows (``unsettled``); a
    settled round whose tables ``names`` the cache lacks is to be stored.
    """
    plan = RoundPlan()
    indexes: dict[RoundKey | None, list[int]] = {}
    for index, path in enumerate(files):
        indexes.setdefault(_round_of(path), []).append(index)
    for key, found in indexes.items():
        if key is not None and key not in unsettled:
            cache_key = cache.key(os.path.basename(files[i]) for i in found)
            tables = cache.load(key, cache_key, names)
            if tables is not None:
                plan.cached[key] = tables
                continue
            plan.to_store[key] = cache_key
        plan.fresh.update(found)
    return plan


def parts_by_round(files: Iterable[str]) -> dict[RoundKey | None, list[str]]:
    """The names of the event parts ``files``, by round (None: not in a round's directory)."""
    out: dict[RoundKey | None, list[str]] = {}
    for path in files:
        out.setdefault(_round_of(path), []).append(os.path.basename(path))
    return out


def finished(trials: pa.Table | None) -> bool:
    """Whether every trial of a round's ``trials`` rows has ended (none PLANNED or RUNNING).

    Only such rounds are cached: a live search's round, whose part list
    changes every few seconds, would be stored again at each connection.
    """
    if trials is None:
        return True
    return not pc.any(pc.is_in(trials["status"], pa.array(["PLANNED", "RUNNING"]))).as_py()


def round_keys(table: pa.Table) -> set[RoundKey]:
    """The (project, client, round) of the rows of ``table``."""
    if table.num_rows == 0:
        return set()
    found = table.group_by(["project", "client", "round"]).aggregate([])
    return set(
        zip(
            found["project"].to_pylist(),
            found["client"].to_pylist(),
            found["round"].to_pylist(),
            strict=True,
        )
    )


def _round_of(path: str) -> RoundKey | None:
    found = partition_of(path, "events")
    return None if found is None else (str(found[0]), str(found[1]), int(found[2]))


def split_by_round(table: pa.Table) -> dict[RoundKey, pa.Table]:
    """The rows of ``table`` by (project, client, round), each round's rows in their order."""
    if table.num_rows == 0:
        return {}
    columns = ["project", "client", "round"]
    # A stable sort: rows of one round keep their relative order (ORDER BY views).
    ordered = table.take(pc.sort_indices(table, [(c, "ascending") for c in columns]))
    keys = ordered.select(columns)
    starts = [0]
    for column in keys.columns:
        changed = pc.not_equal(column.slice(1), column.slice(0, len(column) - 1))
        starts.extend(i + 1 for i in pc.indices_nonzero(changed).to_pylist())
    starts = sorted(set(starts))
    bounds = [*starts, ordered.num_rows]
    out = {}
    for start, stop in itertools.pairwise(bounds):
        row = keys.slice(start, 1).to_pylist()[0]
        out[(row["project"], row["client"], row["round"])] = ordered.slice(start, stop - start)
    return out

"""Log segments: a writer's append-only files of framed, checksummed records.

A segment starts with a header, then holds the records of its appends::

    header  b"ASLOG", format u8, flags u8, schema length u32,
            the table's Arrow schema (IPC bytes), crc32 u32 of what follows the magic
    record  magic u32, payload length u32, row count u32, crc32 u32, payload

All integers are little-endian. The crc covers the length, the row count
and the payload. What a payload holds depends on the header's format:

* format 3 (written now): a kind u8, then the record of that kind
  (``_records``): 0 an Arrow record batch, 1 raw metric values (typed
  arrays, the constant columns once per run), 3 event rows (pickled plain
  data). A scope's exit costs one cheap encoding per table, not an Arrow
  batch built and serialized; rows become Arrow when they are read or
  checkpointed.
* format 2 (earlier versions): the same, with event rows as JSON (kind 2).
* format 1 (earlier versions): ``RecordBatch.serialize()`` alone.

In every format, an Arrow payload is LZ4-compressed when the header's LZ4 flag is set
(preceded by its uncompressed size, u32); raw values and event rows are not
compressed. Segments of still earlier versions (Arrow IPC streams) are
read too.

An append is one ``write`` of all its records, with no userspace buffer: it
survives ``kill -9``. A failed write is cut off again (``ftruncate``), so the
file stays a well-formed log and the caller may keep the rows to retry.

Reading tells two kinds of bad records apart. A *torn tail* -- the last
record incomplete or bad, no good record after it -- is what a writer killed
mid-write, or still writing, leaves: the records before it are the segment.
*Damage* -- a bad record followed by good ones -- is not: reading resumes at
the next record whose magic and crc check out, and the stretch skipped is
reported with the rows its headers announce. A record whose crc checks out
but whose bytes do not decode into rows of the table (no code is ever run
from them: see ``_records``) counts as bad.
"""

from __future__ import annotations

import contextlib
import errno
import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Final, NamedTuple

import pyarrow as pa

from arrowscope.errors import CorruptFileError, StorageWriteError
from arrowscope.store._files import fsync_dir, remove_quietly
from arrowscope.store._records import (
    KIND_ARROW,
    LZ4,
    ArrowRecord,
    BadRecord,
    Record,
    decode,
    to_batches,
)

_FILE_MAGIC: Final = b"ASLOG"
_FORMAT: Final = 3
_FORMATS: Final = (1, 2, 3)
_KIND: Final = {kind: bytes([kind]) for kind in range(4)}
_COUNTS: Final = struct.Struct("<II")  # payload length, row count (as the crc covers them)
_HEADER: Final = struct.Struct("<BBI")  # format, flags, schema length
_RECORD: Final = struct.Struct("<IIII")  # magic, payload length, row count, crc32
_RECORD_MAGIC: Final = 0xA5C710E4
_MAGIC_BYTES: Final = struct.pack("<I", _RECORD_MAGIC)
_SIZE: Final = struct.Struct("<I")
_LZ4_AVAILABLE: Final = pa.Codec.is_available("lz4")
_STREAM_MAGIC: Final = b"\xff\xff\xff\xff"  # an Arrow IPC stream (earlier versions)


class LogSegment:
    """One open segment of this writer: the file and the records written to it.

    The records stay in memory until the segment is checkpointed, so that the
    checkpoint and this process's readers never re-read the file.

    Args:
        path: The segment file (created by the first append; it must not exist).
        schema: The table's schema; every record holds rows of it.
        fsync: fsync the file after every append.
        compress: LZ4-compress Arrow records (when pyarrow has the codec).
        number: The segment's number (its part has the same).
    """

    def __init__(
        self, path: Path, schema: pa.Schema, fsync: bool, compress: bool = True, number: int = 0
    ) -> None:
        self.path = path
        self.number = number
        self.records: list[Record] = []
        self.num_rows = 0
        self.nbytes = 0
        self._schema = schema
        self._fsync = fsync
        self._flags = LZ4 if compress and _LZ4_AVAILABLE else 0
        self._fd: int | None = None
        self._length = 0  # bytes of complete records in the file
        self._decoded: tuple[int, int, list[pa.RecordBatch]] = (0, 0, [])  # see ``batches``
        self._generation = 0

    def append(self, records: Sequence[Record | pa.RecordBatch]) -> None:
        """Write ``records`` to the file in one ``write``; on failure the file is unchanged.

        Record batches are written as Arrow records.

        Raises:
            StorageWriteError: the write failed (no space, file too large,
                read-only, I/O error); the file was cut back to its former length.
            FileExistsError: the segment's file exists already (another
                writer with this writer's id).
        """
        taken = [ArrowRecord(r) if isinstance(r, pa.RecordBatch) else r for r in records]
        data = b"".join([encode_record(record, self._flags) for record in taken])
        if self._length == 0:
            data = _file_header(self._schema, self._flags) + data
        fd = self._open() if self._fd is None else self._fd
        try:
            _write_at(fd, data, self._length)
            if self._fsync:
                os.fsync(fd)
        except OSError as exc:
            _truncate_quietly(fd, self._length)
            raise StorageWriteError(self.path, exc) from exc
        self._length += len(data)
        self.records.extend(taken)
        for record in taken:
            self.num_rows += record.num_rows
            self.nbytes += record.nbytes

    def batches(self, count: int | None = None) -> list[pa.RecordBatch]:
        """The rows of the first ``count`` records (all when None) as record batches.

        Decoded batches are kept, so that repeated reads decode each record once.
        """
        records = self.records[:count] if count is not None else list(self.records)
        generation, done, batches = self._decoded
        if generation != self._generation or done > len(records):
            generation, done, batches = self._generation, 0, []
        if done < len(records):
            batches = batches + to_batches(records[done:], self._schema)
            self._decoded = (generation, len(records), batches)
        return batches

    @property
    def created(self) -> bool:
        """Whether the file exists (an append got as far as creating it)."""
        return self._fd is not None

    def mark(self) -> tuple[int, int]:
        """Where the segment stands now; ``rollback`` returns to it."""
        return self._length, len(self.records)

    def rollback(self, mark: tuple[int, int]) -> None:
        """Forget the appends made since ``mark``, in memory and on disk.

        Used when one table of a partition could be appended and another not,
        so that the rows are retried together. Should the truncation fail,
        the next append overwrites the same bytes, and readers of the file see
        those rows once either way (this process keeps them staged, unseen).
        """
        length, count = mark
        if self._fd is not None and self._length > length:
            _truncate_quietly(self._fd, length)
        self._length = length
        del self.records[count:]
        self._generation += 1
        self.num_rows = sum(record.num_rows for record in self.records)
        self.nbytes = sum(record.nbytes for record in self.records)

    def close(self) -> None:
        """Close the file (it stays on disk). Takes no lock, so a forked child may call it."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def delete(self) -> None:
        """Close and remove the file; the rows must be in a part by now."""
        self.close()
        remove_quietly(self.path)

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
            self._fd = os.open(self.path, flags, 0o644)
            if self._fsync:
                fsync_dir(self.path.parent)
        except FileExistsError:
            raise FileExistsError(
                f"log segment {self.path} already exists; not appending to it "
                "(two writers share an id?)"
            ) from None
        except OSError as exc:
            raise StorageWriteError(self.path, exc) from exc
        return self._fd


class Damage(NamedTuple):
    """A stretch of unreadable records in the middle of a segment."""

    offset: int
    length: int
    rows: int | None  # rows announced by the stretch's first record header, if it survived
    exact: bool  # the headers of the stretch chain up exactly: ``rows`` is all it held

    def describe(self) -> str:
        if self.rows is None:
            return "an unknown number of rows"
        return f"{self.rows} rows" if self.exact else f"at least {self.rows} rows"


class LogRead(NamedTuple):
    """What a segment holds: its good batches and the damaged stretches skipped."""

    batches: list[pa.RecordBatch]
    damage: list[Damage]

    def rows_lost(self) -> str:
        """The rows of every damaged stretch, in words."""
        if any(d.rows is None for d in self.damage):
            return "an unknown number of rows"
        rows = sum(d.rows or 0 for d in self.damage)
        exact = all(d.exact for d in self.damage)
        return f"{rows} rows" if exact else f"at least {rows} rows"


def encode_record(record: Record | pa.RecordBatch, flags: int = LZ4) -> bytes:
    """One framed record (format 3) holding ``record``."""
    if isinstance(record, pa.RecordBatch):
        record = ArrowRecord(record)
    payload = _KIND[record.kind] + record.encode(flags)
    size, rows = len(payload), record.num_rows
    crc = zlib.crc32(payload, zlib.crc32(_COUNTS.pack(size, rows)))
    return _RECORD.pack(_RECORD_MAGIC, size, rows, crc) + payload


def read_log(path: Path, schema: pa.Schema) -> LogRead:
    """The good batches of a log segment, however it was cut off or damaged.

    Raises:
        FileNotFoundError: the segment is gone (it was checkpointed).
        CorruptFileError: the file is not a log of ``schema``.
    """
    with open(path, "rb") as file:
        data = file.read()
    if data.startswith(_STREAM_MAGIC[: len(data)]):
        return LogRead(_read_stream(path, data, schema), [])
    if not data.startswith(_FILE_MAGIC[: len(data)]):
        raise CorruptFileError(
            path, "not an arrowscope log segment (a foreign file named like one)"
        )
    header = _read_header(path, data, schema)
    if header is None:
        return LogRead([], [])  # killed while writing the header: no rows yet
    reader = _Records(data, schema, *header)
    records, damage = reader.read()
    return LogRead(to_batches(records, schema), damage)


def _file_header(schema: pa.Schema, flags: int) -> bytes:
    encoded = schema.serialize().to_pybytes()
    body = _HEADER.pack(_FORMAT, flags, len(encoded)) + encoded
    return _FILE_MAGIC + body + _SIZE.pack(zlib.crc32(body))


def _read_header(path: Path, data: bytes, schema: pa.Schema) -> tuple[int, int, int] | None:
    """``(format, flags, offset of the first record)``, or None while the header is incomplete."""
    fields = len(_FILE_MAGIC) + _HEADER.size
    if len(data) < fields:
        return None
    version, flags, size = _HEADER.unpack_from(data, len(_FILE_MAGIC))
    end = fields + size
    if len(data) < end + _SIZE.size:
        return None
    (crc,) = _SIZE.unpack_from(data, end)
    if crc != zlib.crc32(memoryview(data)[len(_FILE_MAGIC) : end]):
        raise CorruptFileError(path, "the log segment's header is damaged")
    if version not in _FORMATS:
        raise CorruptFileError(
            path, f"a log of format {version}; upgrade arrowscope (pip install -U arrowscope)"
        )
    found = pa.ipc.read_schema(pa.py_buffer(data[fields:end]))
    if not found.equals(schema):
        raise CorruptFileError(path, f"a log of another schema ({found.names})")
    return version, flags, end + _SIZE.size


class _Records:
    """Reads the records of one segment's bytes (``version`` is the header's format)."""

    def __init__(
        self, data: bytes, schema: pa.Schema, version: int, flags: int, start: int
    ) -> None:
        self.data = data
        self.buffer = pa.py_buffer(data)
        self.view = memoryview(data)
        self.schema = schema
        self.version = version
        self.flags = flags
        self.start = start

    def read(self) -> tuple[list[Record], list[Damage]]:
        data = self.data
        records: list[Record] = []
        damage: list[Damage] = []
        position = self.start
        while position < len(data):
            found = self.record_at(position)
            if found is not None:
                records.append(found[0])
                position = found[1]
                continue
            resume = self.next_record(position + 1)
            if resume is None:
                break  # a torn tail: incomplete or bad, and nothing good after it
            damage.append(_damage(data, position, resume))
            position = resume
        return records, damage

    def record_at(self, position: int) -> tuple[Record, int] | None:
        """The good record at ``position`` and where the next one starts."""
        data = self.data
        if position + _RECORD.size > len(data):
            return None
        magic, size, rows, crc = _RECORD.unpack_from(data, position)
        start = position + _RECORD.size
        end = start + size
        if magic != _RECORD_MAGIC or end > len(data):
            return None
        if zlib.crc32(self.view[start:end], zlib.crc32(_COUNTS.pack(size, rows))) != crc:
            return None
        kind = KIND_ARROW
        if self.version >= 2:  # payloads of format 2 and later start with their kind
            if size < 1:
                return None
            kind, start = data[start], start + 1
        try:
            body = self.buffer.slice(start, end - start)
            record = decode(kind, body, self.view[start:end], self.flags, self.schema, rows)
        except BadRecord:
            return None
        return record, end

    def next_record(self, position: int) -> int | None:
        """The offset of the next good record at or after ``position``, if any."""
        while True:
            position = self.data.find(_MAGIC_BYTES, position)
            if position < 0:
                return None
            if self.record_at(position) is not None:
                return position
            position += 1


def _damage(data: bytes, start: int, stop: int) -> Damage:
    """Describe the stretch ``[start, stop)`` from the record headers that survived in it."""
    rows: int | None = None
    position = start
    while position + _RECORD.size <= stop:
        magic, size, count, _crc = _RECORD.unpack_from(data, position)
        if magic != _RECORD_MAGIC:
            break
        rows = (rows or 0) + count
        position += _RECORD.size + size
        if position == stop:
            return Damage(start, stop - start, rows, exact=True)
    return Damage(start, stop - start, rows, exact=False)


def _read_stream(path: Path, data: bytes, schema: pa.Schema) -> list[pa.RecordBatch]:
    """The complete batches of an Arrow IPC stream segment (written by earlier versions)."""
    try:
        reader = pa.ipc.open_stream(pa.py_buffer(data))
    except (pa.ArrowInvalid, OSError):
        return []  # killed while writing the schema: no rows yet
    if not reader.schema.equals(schema):
        raise CorruptFileError(path, f"a log of another schema ({reader.schema.names})")
    batches: list[pa.RecordBatch] = []
    while True:
        try:
            batches.append(reader.read_next_batch())
        except StopIteration:
            return batches
        except (pa.ArrowInvalid, OSError):
            return batches  # a torn last message: the writer was killed mid-append


def _write_at(fd: int, data: bytes, offset: int) -> None:
    """Write all of ``data`` at ``offset``: one call unless the kernel writes less."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        if written <= 0:
            raise OSError(errno.EIO, "the kernel wrote nothing")
        view, offset = view[written:], offset + written


def _truncate_quietly(fd: int, length: int) -> None:
    # Failing to cut a failed append off is survivable: the next append
    # writes over the same bytes (see ``LogSegment.rollback``).
    with contextlib.suppress(OSError):
        os.ftruncate(fd, length)

"""The records a log segment holds, and their encodings (the framing is ``_log``'s).

A scope's exit appends what it logged as records that cost next to nothing
to encode: turning rows into Arrow is left to whoever reads them (a
checkpoint, recovery, another process reading the live log, this process's
own reads). Three kinds:

* ``MetricsRecord`` (``metrics`` only): the values and stamps of one or more
  runs -- consecutive values of one (trial, split, attempt, metric, phase) --
  as the raw typed arrays the buffers hold, the constant columns once per run;
* ``EventsRecord`` (``events`` only): event rows as a list of
  ``{column: value}`` dicts (absent keys are null) in pickle protocol 5 --
  JSON in logs of format 2 -- checked against the column types both when
  written and when read;
* ``ArrowRecord``: any record batch of the table's schema, Arrow IPC (the
  only kind of format 1 logs, and the fallback for rows the other kinds cannot
  hold exactly).

Layouts (little-endian)::

    metrics  runs u32, per run: trial i32, split i32, attempt i32,
             first epoch i32, count u32, phase u8 (0 train, 1 valid),
             metric length u16, metric (UTF-8);
             then float64 values and int64 stamps (ns since the epoch) of
             every run, in run order
    events   pickle protocol 5 of [{"column": value, ...}, ...] (absent or
             None: null), kind 3; format 2 logs hold JSON of the same list
             (NaN and infinities as the extensions NaN, Infinity, -Infinity),
             kind 2
    arrow    RecordBatch.serialize(), LZ4-compressed when the segment header
             says so (preceded by the uncompressed size, u32)

Decoding never runs code from the bytes: event rows are unpickled by an
unpickler that refuses every global name, so only lists, dicts, strings,
numbers, booleans and None can come out, and those are checked against the
columns. A record whose bytes do not decode into rows of the table's types
is a bad record, as if its crc had failed. Pickle encodes a scope's event
rows about four times faster than JSON, and keeps every float bit for bit.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import struct
from array import array
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from arrowscope.schema import table_schema

KIND_ARROW: Final = 0
KIND_METRICS: Final = 1
KIND_EVENTS_JSON: Final = 2  # written by format 2 logs, read still
KIND_EVENTS: Final = 3

LZ4: Final = 1
_SIZE: Final = struct.Struct("<I")
_RUNS: Final = struct.Struct("<I")
_RUN: Final = struct.Struct("<iiiiIBH")  # trial, split, attempt, first epoch, count, phase, len
_PHASES: Final = ("train", "valid")
_NS_TO_US: Final = pc.CastOptions(pa.timestamp("us", tz="UTC"), allow_time_truncate=True)


class BadRecord(ValueError):
    """The bytes of a record (its crc checked out) do not decode into rows of the table."""


class ArrowRecord:
    """A record batch, stored as Arrow IPC."""

    __slots__ = ("batch",)
    kind: Final = KIND_ARROW

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.batch = batch

    @property
    def num_rows(self) -> int:
        return int(self.batch.num_rows)

    @property
    def nbytes(self) -> int:
        return int(self.batch.get_total_buffer_size())  # .nbytes costs ~60x more

    def encode(self, flags: int) -> bytes:
        payload = self.batch.serialize()
        if flags & LZ4:
            compressed = pa.compress(payload, codec="lz4", asbytes=True)
            return _SIZE.pack(payload.size) + compressed
        return bytes(payload.to_pybytes())

    @staticmethod
    def decode(body: pa.Buffer, flags: int, schema: pa.Schema, rows: int) -> ArrowRecord:
        try:
            if flags & LZ4:
                (size,) = _SIZE.unpack_from(body)
                body = pa.decompress(body.slice(_SIZE.size), decompressed_size=size, codec="lz4")
            batch = pa.ipc.read_record_batch(body, schema)
        except (pa.ArrowException, ValueError, struct.error) as exc:
            raise BadRecord(str(exc)) from None
        if batch.num_rows != rows:
            raise BadRecord("row count")
        return ArrowRecord(batch)


Run = tuple[
    int, int, int, int, int, int, str
]  # trial, split, attempt, first epoch, n, phase, metric


class MetricsRecord:
    """Runs of metric values as raw typed arrays (see the module docstring)."""

    __slots__ = ("num_rows", "runs", "stamps", "values")
    kind: Final = KIND_METRICS

    def __init__(self, runs: list[Run], values: bytes, stamps: bytes) -> None:
        self.runs = runs
        self.values = values
        self.stamps = stamps
        self.num_rows = len(values) // 8

    @property
    def nbytes(self) -> int:
        return len(self.values) + len(self.stamps) + 32 * len(self.runs)

    def encode(self, flags: int) -> bytes:
        parts: list[bytes] = [_RUNS.pack(len(self.runs))]
        for trial, split, attempt, first, n, phase, metric in self.runs:
            name = metric.encode()
            parts.append(_RUN.pack(trial, split, attempt, first, n, phase, len(name)))
            parts.append(name)
        parts.append(self.values)
        parts.append(self.stamps)
        return b"".join(parts)

    @staticmethod
    def decode(body: memoryview, rows: int) -> MetricsRecord:
        try:
            (count,) = _RUNS.unpack_from(body)
            position = _RUNS.size
            runs: list[Run] = []
            total = 0
            for _ in range(count):
                trial, split, attempt, first, n, phase, size = _RUN.unpack_from(body, position)
                position += _RUN.size
                if phase > 1 or position + size > len(body):
                    raise BadRecord("run")
                metric = str(body[position : position + size], "utf-8")
                position += size
                runs.append((trial, split, attempt, first, n, phase, metric))
                total += n
        except (struct.error, UnicodeDecodeError) as exc:
            raise BadRecord(str(exc)) from None
        if total != rows or len(body) - position != 16 * total:
            raise BadRecord("sizes")
        middle = position + 8 * total
        return MetricsRecord(runs, bytes(body[position:middle]), bytes(body[middle:]))


class EventsRecord:
    """Event rows, pickled (see the module docstring); ``rows`` are ``{column: value}``."""

    __slots__ = ("rows",)
    kind: Final = KIND_EVENTS

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    @property
    def num_rows(self) -> int:
        return len(self.rows)

    @property
    def nbytes(self) -> int:
        return 200 * len(self.rows)

    def encode(self, flags: int) -> bytes:
        return pickle.dumps(self.rows, protocol=5)

    @staticmethod
    def decode(body: memoryview, rows: int) -> EventsRecord:
        stream = io.BytesIO(body)
        try:
            found = _DataOnlyUnpickler(stream).load()
        except Exception as exc:  # any malformed pickle is a bad record
            raise BadRecord(str(exc)) from None
        if stream.tell() != len(body):
            raise BadRecord("trailing bytes")
        return EventsRecord._checked(found, rows)

    @staticmethod
    def decode_json(body: memoryview, rows: int) -> EventsRecord:
        """The rows of a JSON events record (kind 2, in logs of format 2)."""
        try:
            found = json.loads(str(body, "utf-8"))
        except (ValueError, RecursionError) as exc:
            raise BadRecord(str(exc)) from None
        return EventsRecord._checked(found, rows)

    @staticmethod
    def _checked(found: object, rows: int) -> EventsRecord:
        if not isinstance(found, list) or len(found) != rows:
            raise BadRecord("rows")
        if not all(isinstance(row, dict) and valid_event_row(row) for row in found):
            raise BadRecord("types")
        return EventsRecord(found)


class _DataOnlyUnpickler(pickle.Unpickler):
    """Builds plain data only: any class or function the bytes name is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"an event record names {module}.{name}")


Record = ArrowRecord | MetricsRecord | EventsRecord


def decode(
    kind: int, body: pa.Buffer, view: memoryview, flags: int, schema: pa.Schema, rows: int
) -> Record:
    """The record of ``kind`` in ``body``/``view`` (the same bytes).

    Raises:
        BadRecord: the bytes are not a record of ``schema`` holding ``rows`` rows.
    """
    if kind == KIND_ARROW:
        return ArrowRecord.decode(body, flags, schema, rows)
    if kind == KIND_METRICS and schema.equals(table_schema("metrics")):
        return MetricsRecord.decode(view, rows)
    if kind == KIND_EVENTS and schema.equals(table_schema("events")):
        return EventsRecord.decode(view, rows)
    if kind == KIND_EVENTS_JSON and schema.equals(table_schema("events")):
        return EventsRecord.decode_json(view, rows)
    raise BadRecord(f"a record of kind {kind} in a log of {schema.names}")


def to_batches(records: Sequence[Record], schema: pa.Schema) -> list[pa.RecordBatch]:
    """The rows of ``records`` as record batches (consecutive raw records become one batch)."""
    out: list[pa.RecordBatch] = []
    start = 0
    while start < len(records):
        first = records[start]
        stop = start + 1
        if isinstance(first, ArrowRecord):
            out.append(first.batch)
        else:
            while stop < len(records) and type(records[stop]) is type(first):
                stop += 1
            group = records[start:stop]
            if isinstance(first, MetricsRecord):
                out.append(metrics_batch(group))  # type: ignore[arg-type]
            else:
                out.append(events_batch([r for e in group for r in e.rows]))  # type: ignore[union-attr]
        start = stop
    return out


# -- metrics -------------------------------------------------------------------

_COUNTING: array[int] = array("i", range(1, 4097))


def counting(n: int) -> array[int]:
    """``1, 2, …`` at least ``n`` long; sliced for epoch numbers (no per-row Python ints)."""
    global _COUNTING
    if len(_COUNTING) < n:
        _COUNTING = array("i", range(1, 2 * n + 1))
    return _COUNTING


def _array(dtype: pa.DataType, data: Any, n: int) -> pa.Array:
    """A zero-copy Arrow view of a buffer of ``n`` fixed-width items."""
    return pa.Array.from_buffers(dtype, n, [None, pa.py_buffer(data)])


def metrics_batch(records: Iterable[MetricsRecord]) -> pa.RecordBatch:
    """One ``metrics`` batch of the rows of ``records``, in order."""
    trials, splits, attempts, epochs = array("i"), array("i"), array("i"), array("i")
    metric_index, phase_index = array("i"), array("i")
    names: dict[str, int] = {}
    values: list[bytes] = []
    stamps: list[bytes] = []
    for record in records:
        values.append(record.values)
        stamps.append(record.stamps)
        for trial, split, attempt, first, n, phase, metric in record.runs:
            trials.extend(array("i", [trial]) * n)
            splits.extend(array("i", [split]) * n)
            attempts.extend(array("i", [attempt]) * n)
            if first >= 1:
                epochs.extend(counting(first + n)[first - 1 : first - 1 + n])
            else:
                epochs.extend(array("i", range(first, first + n)))
            metric_index.extend(array("i", [names.setdefault(metric, len(names))]) * n)
            phase_index.extend(array("i", [phase]) * n)
    n = len(trials)
    stamp_ns = _array(pa.timestamp("ns", tz="UTC"), b"".join(stamps), n)
    columns = [
        _array(pa.int32(), trials, n),
        _array(pa.int32(), splits, n),
        _array(pa.int32(), attempts, n),
        pa.array(list(names), pa.string()).take(_array(pa.int32(), metric_index, n)),
        pa.array(_PHASES, pa.string()).take(_array(pa.int32(), phase_index, n)),
        _array(pa.int32(), epochs, n),
        _array(pa.float64(), b"".join(values), n),
        pc.cast(stamp_ns, options=_NS_TO_US),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=table_schema("metrics"))


# -- events --------------------------------------------------------------------

_EVENTS = table_schema("events")
_EVENT_COLUMNS: Final = tuple(_EVENTS.names)
_COLUMN_SET: Final = frozenset(_EVENT_COLUMNS)
_REQUIRED: Final = frozenset(f.name for f in _EVENTS if not f.nullable)
_TIMESTAMP: Final = pa.timestamp("us", tz="UTC")
_STRINGS: Final = frozenset(f.name for f in _EVENTS if f.type == pa.string())
_INT32S: Final = frozenset(f.name for f in _EVENTS if f.type == pa.int32())
_INT64S: Final = frozenset(f.name for f in _EVENTS if f.type in (pa.int64(), _TIMESTAMP))
_FLOATS: Final = frozenset(f.name for f in _EVENTS if f.type == pa.float64())
_BOOLS: Final = frozenset(f.name for f in _EVENTS if f.type == pa.bool_())
assert set(_EVENT_COLUMNS) == _STRINGS | _INT32S | _INT64S | _FLOATS | _BOOLS


def valid_event_row(row: dict[str, Any]) -> bool:
    """Whether ``row`` holds only event columns, each of its column's type (or null).

    Such a row converts to Arrow and round-trips through JSON exactly.
    """
    for name, value in row.items():
        kind = type(value)
        if kind is str:
            if name not in _STRINGS or not (value.isascii() or _is_utf8(value)):
                return False
        elif kind is int:
            if name in _INT32S:
                if not -(2**31) <= value < 2**31:
                    return False
            elif name in _INT64S:
                if not -(2**63) <= value < 2**63:
                    return False
            elif name not in _FLOATS or not -(2**53) <= value <= 2**53:
                return False
        elif kind is float:
            # JSON keeps every float exactly but NaN's sign.
            if name not in _FLOATS or (value != value and math.copysign(1.0, value) < 0):
                return False
        elif kind is bool:
            if name not in _BOOLS:
                return False
        elif value is not None or name not in _COLUMN_SET:
            return False
    return row.keys() >= _REQUIRED


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:  # lone surrogates: Arrow strings are valid UTF-8
        return False
    return True


def events_record(rows: list[dict[str, Any]]) -> EventsRecord | ArrowRecord:
    """A record of event ``rows``: JSON when every value fits its column, else Arrow."""
    if all(valid_event_row(row) for row in rows):
        return EventsRecord(rows)
    return ArrowRecord(events_batch(rows))


def events_batch(rows: list[dict[str, Any]]) -> pa.RecordBatch:
    """One ``events`` batch of ``rows``, in order (absent columns are null).

    Rows written by one place in the code have the same keys: each such group
    is converted a column at a time, reading only the keys it has, in four
    fifths of the time of ``RecordBatch.from_pylist`` (which looks up every
    column in every row) on a round's events.
    """
    groups: dict[tuple[str, ...], tuple[list[dict[str, Any]], list[int]]] = {}
    for position, row in enumerate(rows):
        keys = tuple(row)
        group = groups.get(keys)
        if group is None:
            group = groups[keys] = ([], [])
        group[0].append(row)
        group[1].append(position)
    batches = [_events_of(set(keys), members) for keys, (members, _) in groups.items()]
    if not batches:
        return pa.RecordBatch.from_pylist([], schema=_EVENTS)
    if len(batches) == 1:
        return batches[0]
    table = pa.Table.from_batches(batches, schema=_EVENTS).combine_chunks()
    positions = pa.array([p for _, found in groups.values() for p in found], pa.int64())
    return table.take(pc.sort_indices(positions)).to_batches()[0]


def _events_of(keys: set[str], rows: list[dict[str, Any]]) -> pa.RecordBatch:
    """The batch of ``rows``, which all have exactly ``keys``."""
    n = len(rows)
    columns = [
        pa.array(list(map(itemgetter(f.name), rows)), f.type)
        if f.name in keys
        else pa.nulls(n, f.type)
        for f in _EVENTS
    ]
    return pa.RecordBatch.from_arrays(columns, schema=_EVENTS)

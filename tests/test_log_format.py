"""The log segment format: framing, torn tails, damage in the middle, and recovery of both."""

from __future__ import annotations

import contextlib
import fcntl
import math
import pickle
import signal
import struct
import subprocess
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests._workers import SEGMENT_ROWS

from arrowscope.errors import CorruptFileError, DamagedLogWarning
from arrowscope.schema import table_schema
from arrowscope.store import ParquetRepository
from arrowscope.store._buffer import MetricBuffer
from arrowscope.store._log import LogSegment, encode_record, read_log
from arrowscope.store._records import ArrowRecord, EventsRecord, MetricsRecord, events_batch
from arrowscope.store._staging import Staging

Spawn = Callable[..., subprocess.Popen[str]]
SCHEMA = table_schema("metrics")
RECORD_HEADER = 16


def _batch(trial: int, n: int, schema: pa.Schema = SCHEMA) -> pa.RecordBatch:
    columns = {
        "trial": [trial] * n,
        "split": [0] * n,
        "attempt": [0] * n,
        "metric": ["acc"] * n,
        "phase": ["valid"] * n,
        "epoch": list(range(1, n + 1)),
        "value": [trial + e / 1000 for e in range(n)],
        "logged_at": [1_700_000_000_000_000 + e for e in range(n)],
        "clock": list(range(n)),  # a column the schema may or may not have
    }
    return pa.RecordBatch.from_pydict({f.name: columns[f.name] for f in schema}, schema=schema)


def _partition(root: Path) -> Path:
    path = root / "metrics" / "project=p" / "client=c" / "round=0"
    path.mkdir(parents=True)
    return path


def _write_segment(path: Path, batches: list[list[pa.RecordBatch]], compress: bool = True) -> None:
    """One append per inner list, as a writer does at each flush."""
    segment = LogSegment(path, SCHEMA, fsync=False, compress=compress)
    for appended in batches:
        segment.append(appended)
    segment.close()


def _record_offsets(path: Path, n: int) -> list[int]:
    """Where each of the ``n`` records of a segment starts (the header comes first)."""
    data = path.read_bytes()
    magic = (0xA5C710E4).to_bytes(4, "little")
    offsets, position = [], 0
    while (position := data.find(magic, position)) >= 0 and len(offsets) < n:
        offsets.append(position)
        length = int.from_bytes(data[position + 4 : position + 8], "little")
        position += RECORD_HEADER + length
    assert len(offsets) == n
    return offsets


def _trials(batches: list[pa.RecordBatch]) -> list[int]:
    return [t for batch in batches for t in batch.column("trial").to_pylist()]


@pytest.mark.parametrize("compress", [True, False])
def test_appends_read_back_and_every_cut_is_a_torn_tail(tmp_path: Path, compress: bool) -> None:
    path = tmp_path / "log-w-00000000.aslog"
    _write_segment(path, [[_batch(0, 3)], [_batch(1, 4), _batch(2, 5)]], compress)
    assert _trials(read_log(path, SCHEMA).batches) == [0] * 3 + [1] * 4 + [2] * 5
    whole = path.read_bytes()
    starts = _record_offsets(path, 3)
    near = {s + d for s in [0, *starts, len(whole)] for d in range(-20, 21)}
    cuts = sorted(c for c in near | set(range(0, len(whole), 13)) if 0 <= c < len(whole))
    for cut in cuts:  # a writer killed (or still writing) at any byte
        path.write_bytes(whole[:cut])
        contents = read_log(path, SCHEMA)
        complete = sum(1 for s in [*starts[1:], len(whole)] if s <= cut)
        assert contents.damage == [], cut
        assert len(contents.batches) == complete, cut


def test_schema_with_more_columns_round_trips(tmp_path: Path) -> None:
    wider = pa.schema([*SCHEMA, pa.field("clock", pa.int64(), nullable=False)])
    segment = LogSegment(tmp_path / "log-w-00000000.aslog", wider, fsync=True)
    segment.append([_batch(0, 2, wider)])
    segment.close()
    batches = read_log(segment.path, wider).batches
    assert batches[0].column("clock").to_pylist() == [0, 1]
    with pytest.raises(CorruptFileError, match="another schema"):
        read_log(segment.path, SCHEMA)


@pytest.mark.parametrize("broken", ["length", "crc", "payload", "magic"])
def test_damage_in_the_middle_skips_to_the_next_good_record(tmp_path: Path, broken: str) -> None:
    path = tmp_path / "log-w-00000000.aslog"
    _write_segment(path, [[_batch(0, 3)], [_batch(1, 4)], [_batch(2, 5)]])
    data = bytearray(path.read_bytes())
    second = _record_offsets(path, 3)[1]
    where = {"magic": 0, "length": 4, "crc": 12, "payload": RECORD_HEADER + 20}[broken]
    data[second + where] ^= 0x5A
    path.write_bytes(bytes(data))
    contents = read_log(path, SCHEMA)
    assert _trials(contents.batches) == [0] * 3 + [2] * 5
    assert len(contents.damage) == 1
    expected = {
        "length": "at least 4 rows",
        "crc": "4 rows",
        "payload": "4 rows",
        "magic": "an unknown number of rows",
    }
    assert contents.rows_lost() == expected[broken]


def test_a_foreign_file_named_like_a_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log-w-00000000.aslog"
    path.write_bytes(b"my notes, not a log")
    with pytest.raises(CorruptFileError, match="foreign"):
        read_log(path, SCHEMA)


@contextlib.contextmanager
def _live_writer(root: Path, writer: str) -> Iterator[None]:
    (root / "_writers").mkdir(exist_ok=True)
    with open(root / "_writers" / f"{writer}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def test_recovery_keeps_a_damaged_segment_aside_and_says_what_was_lost(data_dir: Path) -> None:
    partition = _partition(data_dir)
    segment = partition / "log-deadbeef-00000002.aslog"
    _write_segment(segment, [[_batch(0, 3)], [_batch(1, 4)], [_batch(2, 5)]])
    data = bytearray(segment.read_bytes())
    data[_record_offsets(segment, 3)[1] + 12] ^= 0xFF  # the crc of record 2
    segment.write_bytes(bytes(data))
    damaged = bytes(data)

    with _live_writer(data_dir, "deadbeef"):  # a live writer's segment: read, not touched
        reader = ParquetRepository(data_dir)
        assert sorted(reader.pending("metrics")["trial"].to_pylist()) == [0] * 3 + [2] * 5
        reader.close()
    with pytest.warns(DamagedLogWarning, match=r"log-deadbeef-00000002\.aslog.*4 rows") as got:
        repo = ParquetRepository(data_dir)
    assert "log-deadbeef-00000002.aslog.damaged" in str(got[0].message)
    aside = partition / "log-deadbeef-00000002.aslog.damaged"
    assert aside.read_bytes() == damaged, "the damaged segment is kept as it was"
    assert not segment.exists()
    parts = sorted(p.name for p in partition.glob("*.parquet"))
    assert parts == ["part-deadbeef-00000002-00000002.parquet"]
    assert sorted(pq.read_table(partition / parts[0])["trial"].to_pylist()) == [0] * 3 + [2] * 5
    assert repo.pending("metrics").num_rows == 0
    repo.close()
    ParquetRepository(data_dir).close()  # no second warning: the aside file is left alone
    assert aside.exists()


def _segment_rows(path: Path) -> list[int]:
    return [e for b in read_log(path, SCHEMA).batches for e in b.column("epoch").to_pylist()]


def test_kill_9_mid_append_leaves_a_torn_tail_that_readers_and_recovery_skip(
    data_dir: Path, spawn: Spawn
) -> None:
    proc = spawn("append-forever", data_dir)
    assert proc.stdout is not None
    segment = Path(proc.stdout.readline().split(maxsplit=1)[1].strip())
    reader = ParquetRepository(data_dir)  # reads the live segment through its snapshots
    seen = 0
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        epochs = sorted(reader.pending("metrics")["epoch"].to_pylist())
        assert epochs == list(range(len(epochs))), "a reader saw a gap or a repeat"
        assert len(epochs) >= seen, "rows vanished"
        seen = len(epochs)
    reader.close()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    whole = segment.read_bytes()
    kept = _segment_rows(segment)
    assert len(kept) >= seen > 0 and len(kept) % SEGMENT_ROWS == 0
    # Cut the file inside its last record too, as a kill during its write would.
    last = _record_offsets(segment, len(kept) // SEGMENT_ROWS)[-1]
    segment.write_bytes(whole[: last + (len(whole) - last) // 2])
    repo = ParquetRepository(data_dir)  # filterwarnings=error: a torn tail warns nothing
    table = pq.read_table(next(segment.parent.glob("part-*.parquet")))
    assert sorted(table["epoch"].to_pylist()) == list(range(len(kept) - SEGMENT_ROWS))
    assert not list(segment.parent.glob("*.damaged"))
    repo.close()


# -- the record kinds of format 2, and logs of format 1 --------------------------

EVENTS = table_schema("events")


def _staged(n_values: int) -> Staging:
    """A staging area holding one split's values (train and valid) and its events."""
    staging = Staging("w")
    key = ("p", "c", 0)
    buffer = staging.open_buffer(key, MetricBuffer(3, 1, "loss ∂", train_offset=5, attempt=2))
    for i in range(n_values):
        buffer.train.append(i / 7)
        buffer.train_at.append(1_700_000_000_123_456_789 + i)
        buffer.valid.append(float("nan") if i == 1 else -i / 3)
        buffer.valid_at.append(1_700_000_000_999_999_999 + i)
    metric = {"level": "metric", "trial": 3, "split": 1, "train_best": 0.5, "at": 4}
    staging.append_event(key, metric)
    staging.append_event(key, {"level": "split", "trial": 3, "status": "SUCCESS", "at": 5})
    return staging


def test_raw_records_read_back_as_the_rows_arrow_records_held(tmp_path: Path) -> None:
    key = ("p", "c", 0)
    expected = {t: pa.Table.from_batches(b) for t, b in _staged(4).take(key).items()}
    records = _staged(4).take_records(key)
    assert [type(r) for r in records["metrics"]] == [MetricsRecord]
    assert [type(r) for r in records["events"]] == [EventsRecord]
    for table, schema in (("metrics", SCHEMA), ("events", EVENTS)):
        segment = LogSegment(tmp_path / f"log-{table}-00000000.aslog", schema, fsync=False)
        segment.append(records[table])
        segment.append(records[table])
        segment.close()
        got = pa.Table.from_batches(read_log(segment.path, schema).batches)
        assert got.schema.equals(schema)
        assert str(got.to_pylist()) == str(expected[table].to_pylist() * 2), table  # NaN too
        assert str(pa.Table.from_batches(segment.batches()).to_pylist()) == str(got.to_pylist())
    metrics = expected["metrics"].to_pylist()
    assert [(r["phase"], r["epoch"]) for r in metrics] == [("train", e) for e in range(6, 10)] + [
        ("valid", e) for e in range(1, 5)
    ]
    assert {(r["trial"], r["split"], r["attempt"], r["metric"]) for r in metrics} == {
        (3, 1, 2, "loss ∂")
    }
    assert [r["value"] for r in metrics[:2]] == [0.0, 1 / 7]
    assert math.isnan(metrics[5]["value"]) and metrics[6]["value"] == -2 / 3
    assert metrics[4]["logged_at"].microsecond == 999_999, "ns stamps are cut to µs"
    events = expected["events"].to_pylist()
    assert [(e["level"], e["train_best"], e["status"]) for e in events] == [
        ("metric", 0.5, None),
        ("split", None, "SUCCESS"),
    ]


def test_event_rows_json_cannot_hold_exactly_are_written_as_arrow(tmp_path: Path) -> None:
    negative_nan = -float("nan")
    staging = Staging("w")
    staging.append_event(("p", "c", 0), {"level": "metric", "train_best": negative_nan})
    (record,) = staging.take_records(("p", "c", 0))["events"]
    assert isinstance(record, ArrowRecord)
    segment = LogSegment(tmp_path / "log-w-00000000.aslog", EVENTS, fsync=False)
    segment.append([record])
    (batch,) = read_log(segment.path, EVENTS).batches
    assert math.copysign(1.0, batch["train_best"][0].as_py()) < 0


@pytest.mark.parametrize(
    "rows",
    [
        b'[{"level":"split","at":1,"writer":"w","seq":1,"trial":"three"}]',
        b'[{"level":"split","at":1,"writer":"w","seq":1,"trial":4294967296}]',
        b'[{"level":"split","at":1,"writer":"w","seq":1,"no such column":1}]',
        b'[{"level":"split","writer":"w","seq":1}]',
        b'{"level":"split"}',
        b"[[[[",
    ],
)
def test_a_record_whose_crc_checks_but_whose_rows_do_not_is_bad(
    tmp_path: Path, rows: bytes
) -> None:
    path = tmp_path / "log-w-00000000.aslog"
    good = EventsRecord([{"level": "split", "at": 1, "writer": "w", "seq": 1}])
    segment = LogSegment(path, EVENTS, fsync=False)
    segment.append([good])
    segment.close()
    payload = bytes([2]) + rows
    crc = zlib.crc32(payload, zlib.crc32(struct.pack("<II", len(payload), 1)))
    bad = struct.pack("<IIII", 0xA5C710E4, len(payload), 1, crc) + payload
    path.write_bytes(path.read_bytes() + bad + encode_record(good))
    contents = read_log(path, EVENTS)
    assert sum(b.num_rows for b in contents.batches) == 2
    assert contents.rows_lost() == "1 rows"


def _framed(kind: int, body: bytes, rows: int) -> bytes:
    payload = bytes([kind]) + body
    crc = zlib.crc32(payload, zlib.crc32(struct.pack("<II", len(payload), rows)))
    return struct.pack("<IIII", 0xA5C710E4, len(payload), rows, crc) + payload


def test_format_2_segments_with_json_event_rows_are_read(tmp_path: Path) -> None:
    schema = EVENTS.serialize().to_pybytes()
    body = struct.pack("<BBI", 2, 1, len(schema)) + schema
    rows = [
        {"level": "split", "trial": 3, "status": "SUCCESS", "at": 5, "writer": "w", "seq": 1},
        {"level": "metric", "trial": 3, "valid_best": float("inf"), "at": 6, "writer": "w"}
        | {"seq": 2},
    ]
    text = b'[{"level":"split","trial":3,"status":"SUCCESS","at":5,"writer":"w","seq":1},'
    text += b'{"level":"metric","trial":3,"valid_best":Infinity,"at":6,"writer":"w","seq":2}]'
    path = tmp_path / "log-w-00000000.aslog"
    path.write_bytes(b"ASLOG" + body + struct.pack("<I", zlib.crc32(body)) + _framed(2, text, 2))
    contents = read_log(path, EVENTS)
    assert contents.damage == []
    got = pa.Table.from_batches(contents.batches).to_pylist()
    assert [{k: v for k, v in row.items() if v is not None} for row in got] == [
        {**row, "at": got[i]["at"]} for i, row in enumerate(rows)
    ]


class _Loud:
    """Unpickling this would call ``_touch`` (a global): the reader must refuse it."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[[str], None], tuple[str]]:
        return (_touch, (self.path,))


def _touch(path: str) -> None:
    Path(path).write_text("ran")


@pytest.mark.parametrize(
    "payload",
    [
        "a global",
        "truncated",
        "trailing bytes",
        "a string column holding bytes",
        "not a list",
    ],
)
def test_pickled_event_rows_that_are_not_plain_rows_are_bad(tmp_path: Path, payload: str) -> None:
    good_row = {"level": "split", "at": 1, "writer": "w", "seq": 1}
    marker = tmp_path / "ran"
    body = {
        "a global": pickle.dumps([{**good_row, "writer": _Loud(str(marker))}], protocol=5),
        "truncated": pickle.dumps([good_row], protocol=5)[:-3],
        "trailing bytes": pickle.dumps([good_row], protocol=5) + b"x",
        "a string column holding bytes": pickle.dumps([{**good_row, "writer": b"w"}], protocol=5),
        "not a list": pickle.dumps(good_row, protocol=5),
    }[payload]
    path = tmp_path / "log-w-00000000.aslog"
    segment = LogSegment(path, EVENTS, fsync=False)
    segment.append([EventsRecord([good_row])])
    segment.close()
    path.write_bytes(
        path.read_bytes() + _framed(3, body, 1) + encode_record(EventsRecord([good_row]))
    )
    contents = read_log(path, EVENTS)
    assert sum(b.num_rows for b in contents.batches) == 2
    assert contents.rows_lost() == "1 rows"
    assert not marker.exists(), "decoding ran code named by the record"


def _format_1_segment(path: Path, batches: list[pa.RecordBatch], compress: bool) -> None:
    """A segment of format 1, as earlier versions wrote it: every payload a record batch."""
    schema = SCHEMA.serialize().to_pybytes()
    body = struct.pack("<BBI", 1, int(compress), len(schema)) + schema
    data = b"ASLOG" + body + struct.pack("<I", zlib.crc32(body))
    for batch in batches:
        payload = batch.serialize()
        if compress:
            lz4 = pa.compress(payload, codec="lz4", asbytes=True)
            payload = struct.pack("<I", payload.size) + lz4
        else:
            payload = payload.to_pybytes()
        crc = zlib.crc32(payload, zlib.crc32(struct.pack("<II", len(payload), batch.num_rows)))
        data += struct.pack("<IIII", 0xA5C710E4, len(payload), batch.num_rows, crc) + payload
    path.write_bytes(data)


@pytest.mark.parametrize("compress", [True, False])
def test_format_1_segments_are_read_and_recovered(data_dir: Path, compress: bool) -> None:
    segment = _partition(data_dir) / "log-deadbeef-00000000.aslog"
    _format_1_segment(segment, [_batch(0, 3), _batch(1, 4)], compress)
    assert _trials(read_log(segment, SCHEMA).batches) == [0] * 3 + [1] * 4
    whole = segment.read_bytes()
    segment.write_bytes(whole[:-5])  # a torn tail
    assert _trials(read_log(segment, SCHEMA).batches) == [0] * 3
    segment.write_bytes(whole)
    ParquetRepository(data_dir).close()  # recovers the dead writer's segment
    assert not segment.exists()
    part = segment.parent / "part-deadbeef-00000000-00000000.parquet"
    assert sorted(pq.read_table(part)["trial"].to_pylist()) == [0] * 3 + [1] * 4


def test_event_rows_of_several_shapes_become_one_batch_in_their_order() -> None:
    base = {"at": 1_700_000_000_000_000, "writer": "w"}
    rows: list[dict[str, Any]] = []
    for seq in range(1, 10):
        shape = seq % 3  # interleaved rows of three key sets, one with a value of each type
        if shape == 0:
            row = {"level": "split", "trial": seq, "split": 0, "status": "SUCCESS", "error": None}
        elif shape == 1:
            row = {"level": "metric", "metric": "loss ∂", "higher_is_better": seq > 4}
            row |= {"valid_best": seq / 7, "valid_count": seq}
        else:
            row = {"level": "round", "main_metric_name": "loss"}
        rows.append({**row, **base, "seq": seq, "clock": seq})
    batch = events_batch(rows)
    assert batch.schema.equals(EVENTS)
    assert batch.column("seq").to_pylist() == list(range(1, 10)), "the rows keep their order"
    assert batch.equals(pa.RecordBatch.from_pylist(rows, schema=EVENTS))
    assert events_batch(rows[:1]).equals(pa.RecordBatch.from_pylist(rows[:1], schema=EVENTS))
    assert events_batch([]).num_rows == 0

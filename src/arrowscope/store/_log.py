"""Log segments: Arrow IPC stream files that a writer appends record batches to.

Appending a batch is a ``write`` to the kernel (and an ``fsync`` on request):
it survives ``kill -9`` and costs tens of microseconds. A segment killed
mid-write ends in a torn message; ``read_log`` returns the batches before it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import pyarrow as pa

from arrowscope.errors import CorruptFileError
from arrowscope.store._files import remove_quietly

# Every IPC stream message starts with this continuation marker; a file that
# starts otherwise was not written by pa.ipc.new_stream.
_STREAM_MAGIC: Final = b"\xff\xff\xff\xff"
_BUFFER_BYTES: Final = 1 << 16


class LogSegment:
    """One open segment of this writer: the file and the batches written to it.

    The batches stay in memory until the segment is checkpointed, so that the
    checkpoint and this process's readers never re-read the file.
    """

    def __init__(self, path: Path, schema: pa.Schema, fsync: bool) -> None:
        self.path = path
        self.batches: list[pa.RecordBatch] = []
        self.num_rows = 0
        self.nbytes = 0
        self._fsync = fsync
        self._file: pa.OSFile | None = None
        self._sink: pa.BufferedOutputStream | None = None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._schema = schema

    def append(self, batches: list[pa.RecordBatch]) -> None:
        """Write ``batches`` to the file and hand them to the kernel."""
        if self._writer is None:
            self._open()
        assert self._writer is not None and self._sink is not None and self._file is not None
        for batch in batches:
            self._writer.write_batch(batch)
            self.batches.append(batch)
            self.num_rows += batch.num_rows
            self.nbytes += batch.get_total_buffer_size()  # .nbytes costs ~60x more
        self._sink.flush()
        if self._fsync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file (it stays on disk)."""
        if self._writer is not None:
            self._writer.close()
        if self._sink is not None:
            self._sink.close()
        if self._file is not None and not self._file.closed:
            self._file.close()
        self._writer = self._sink = self._file = None

    def delete(self) -> None:
        """Close and remove the file; the rows must be in a part by now."""
        self.close()
        remove_quietly(self.path)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            raise FileExistsError(f"log segment {self.path} already exists; not appending to it")
        self._file = pa.OSFile(str(self.path), "wb")
        self._sink = pa.BufferedOutputStream(self._file, _BUFFER_BYTES)
        self._writer = pa.ipc.new_stream(self._sink, self._schema)


def read_log(path: Path, schema: pa.Schema) -> list[pa.RecordBatch]:
    """The complete batches of a log segment, however it was cut off.

    Raises:
        FileNotFoundError: the segment is gone (it was checkpointed).
        CorruptFileError: the file is not an Arrow stream of ``schema``.
    """
    with open(path, "rb") as file:
        data = file.read()
    if not data:
        return []
    if not data.startswith(_STREAM_MAGIC[: len(data)]):
        raise CorruptFileError(path, "not an Arrow IPC stream (a foreign file named like a log)")
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

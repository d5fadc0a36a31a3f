"""Arrow IPC streams over HTTP, both ways: record batches are written and read one at a time,
so neither side holds the encoded stream whole (the frame itself is what it is)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

MEDIA_TYPE = "application/vnd.apache.arrow.stream"
BATCH_ROWS = 64 * 1024


class _Collector:
    """A write-only file object that hands its bytes over as they are written."""

    closed = False

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def stream_table(table: pa.Table, batch_rows: int = BATCH_ROWS) -> Iterator[bytes]:
    """The table as an Arrow IPC stream, one chunk per record batch."""
    sink = _Collector()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        yield sink.take()
        for batch in table.to_batches(max_chunksize=batch_rows):
            writer.write_batch(batch)
            yield sink.take()
    yield sink.take()


def stream_reader(reader: pa.RecordBatchReader) -> Iterator[bytes]:
    """A record batch reader as an Arrow IPC stream, one chunk per batch as the reader makes
    it (the reader is closed at the end, or when the client goes away)."""
    sink = _Collector()
    try:
        with pa.ipc.new_stream(sink, reader.schema) as writer:
            yield sink.take()
            for batch in reader:
                writer.write_batch(batch)
                yield sink.take()
        yield sink.take()
    finally:
        reader.close()


def encode(table: pa.Table) -> bytes:
    return b"".join(stream_table(table))


def decode(data: bytes | Iterable[bytes]) -> pa.Table:
    """An Arrow IPC stream (bytes, or chunks as they arrive) as a table."""
    raw = data if isinstance(data, bytes) else b"".join(data)
    try:
        with pa.ipc.open_stream(pa.py_buffer(raw)) as reader:
            return reader.read_all()
    except (pa.ArrowInvalid, OSError) as e:
        from lakebox.errors import ValidationError

        raise ValidationError(f"The body is not an Arrow IPC stream ({MEDIA_TYPE}): {e}") from e

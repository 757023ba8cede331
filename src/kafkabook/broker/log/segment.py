"""One log segment: a `.log` file of whole batches plus its `.index` and `.timeindex`.

A segment knows nothing about epochs or log start offsets; it appends batches, finds the batch
holding an offset or timestamp, truncates, and rebuilds its indexes from the log when asked.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import crc32c

from ..records import BATCH_HEADER_SIZE, CRC_START, LOG_OVERHEAD, MIN_BATCH_LENGTH
from .index import OffsetIndex, TimeIndex

__all__ = ["INT32_MAX", "BatchSpan", "LogSegment", "segment_name"]

Buffer = bytes | bytearray | memoryview

INT32_MAX = 2**31 - 1
# Header walks read this much at a time: a few index intervals of small batches per syscall.
_WALK_CHUNK = 16 * 1024
# Recovery checks CRCs, so it reads whole batches; bigger chunks mean fewer syscalls.
_SCAN_CHUNK = 1024 * 1024
# The first read of a fetch also tries to cover the returned bytes; capped so a huge
# max_bytes against a short high watermark does not read megabytes it will not return.
_MAX_READ_AHEAD = 4 * 1024 * 1024

# Walks unpack only the header fields they use (skipping the rest with pad bytes): building a
# full BatchHeader per batch would dominate the cost of reading a megabyte of small batches.
# base_offset, batch_length, magic, last_offset_delta
_READ_FIELDS = struct.Struct(">qi4xb6xi")
# ... plus max_timestamp
_WALK_FIELDS = struct.Struct(">qi4xb6xi8xq")
# ... plus crc, for recovery
_SCAN_FIELDS = struct.Struct(">qi4xbI2xi8xq")


class BatchSpan(NamedTuple):
    """Where a batch sits in a segment file, with the header fields the log works with."""

    position: int
    base_offset: int
    size: int
    last_offset: int
    max_timestamp: int


def segment_name(base_offset: int) -> str:
    """The 20-digit file stem Kafka uses for a segment.

    >>> segment_name(42)
    '00000000000000000042'
    """
    return f"{base_offset:020d}"


def _write_all(fd: int, parts: Sequence[Buffer], total: int) -> None:
    written = os.writev(fd, parts)
    if written != total:
        # Regular files only write short on ENOSPC-like trouble or signals; finish the job
        # (or surface the OSError) rather than leave a torn batch behind silently.
        rest = memoryview(b"".join(parts))[written:]
        while rest:
            rest = rest[os.write(fd, rest) :]


def _walk(fd: int, pos: int, end: int) -> Iterator[BatchSpan]:
    """Yield the whole, well-framed batches from file position `pos` up to `end`, reading
    the file in chunks; stops at anything torn or not a v2 batch."""
    chunk = b""
    chunk_start = pos
    unpack_from = _WALK_FIELDS.unpack_from
    while end - pos >= BATCH_HEADER_SIZE:
        rel = pos - chunk_start
        if rel + BATCH_HEADER_SIZE > len(chunk):
            chunk = os.pread(fd, min(_WALK_CHUNK, end - pos), pos)
            chunk_start, rel = pos, 0
            if len(chunk) < BATCH_HEADER_SIZE:
                return
        base, length, magic, last_delta, max_ts = unpack_from(chunk, rel)
        size = length + LOG_OVERHEAD
        if magic != 2 or length < MIN_BATCH_LENGTH or size > end - pos:
            return
        yield BatchSpan(pos, base, size, base + last_delta, max_ts)
        pos += size


class LogSegment:
    """A `.log` file plus its two sparse indexes, mirrored by a little in-memory state.

    >>> import tempfile; from kafkabook.broker.records import encode_batch
    >>> seg = LogSegment(Path(tempfile.mkdtemp()), 0, 4096, create=True)
    >>> b = encode_batch([(b"k", b"v")], timestamp=5)
    >>> seg.append([b], len(b), 0, 0, 5); seg.next_offset, seg.read(0, 100, None) == b
    (1, True)
    """

    __slots__ = (
        "_fd",
        "_interval",
        "_since_index",
        "base_offset",
        "log_path",
        "max_timestamp",
        "next_offset",
        "offset_index",
        "offset_of_max_timestamp",
        "size",
        "time_index",
    )

    def __init__(self, directory: Path, base_offset: int, index_interval: int, *, create: bool):
        stem = segment_name(base_offset)
        self.base_offset = base_offset
        self.log_path = directory / f"{stem}.log"
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if create else 0)
        self._fd = os.open(self.log_path, flags, 0o644)
        self.size = os.fstat(self._fd).st_size
        self.offset_index = OffsetIndex(directory / f"{stem}.index", create=create)
        self.time_index = TimeIndex(directory / f"{stem}.timeindex", create=create)
        self._interval = index_interval
        self._since_index = 0
        self.next_offset = base_offset
        self.max_timestamp = -1
        self.offset_of_max_timestamp = -1

    # -- appending -------------------------------------------------------------------------

    def _track(
        self, pos: int, size: int, base: int, last: int, max_ts: int, persist: bool = True
    ) -> None:
        """Account for a batch written at `pos`: running max time, sparse index entries."""
        if max_ts > self.max_timestamp:
            self.max_timestamp = max_ts
            self.offset_of_max_timestamp = base
        if self._since_index > self._interval:
            self.offset_index.append(base - self.base_offset, pos, persist=persist)
            self.time_index.maybe_append(
                self.max_timestamp, self.offset_of_max_timestamp - self.base_offset, persist=persist
            )
            self._since_index = 0
        self._since_index += size
        self.next_offset = last + 1
        self.size = pos + size

    def append(
        self, parts: Sequence[Buffer], size: int, base: int, last: int, max_timestamp: int
    ) -> None:
        """Write one batch given as buffer pieces (so a patched header needs no copy)."""
        pos = self.size
        _write_all(self._fd, parts, size)
        self._track(pos, size, base, last, max_timestamp)

    def append_batches(
        self, data: memoryview, batches: Sequence[tuple[int, int, int, int]]
    ) -> None:
        """Write concatenated batches with one write call; `batches` describes them in order
        as (base_offset, size, last_offset, max_timestamp)."""
        pos = self.size
        _write_all(self._fd, (data,), len(data))
        for base, size, last, max_ts in batches:
            self._track(pos, size, base, last, max_ts)
            pos += size

    # -- lookups ---------------------------------------------------------------------------

    def _index_position(self, offset: int) -> int:
        if offset <= self.base_offset:
            return 0
        return self.offset_index.lookup(offset - self.base_offset)

    def locate(self, offset: int) -> BatchSpan | None:
        """The first batch whose last offset is >= `offset`."""
        for span in _walk(self._fd, self._index_position(offset), self.size):
            if span.last_offset >= offset:
                return span
        return None

    def read(self, offset: int, max_bytes: int, max_offset: int | None) -> bytes | None:
        """Whole batches from the one holding `offset`; None when no batch here reaches it.

        The first batch is returned even if larger than `max_bytes`; batches whose base
        offset is >= `max_offset` are never returned. This is the fetch hot path: one pread
        from the sparse index position usually covers both the header walk and the answer.
        """
        fd = self._fd
        end = self.size
        pos = self._index_position(offset)
        ahead = min(self._interval + max(max_bytes, 0) + BATCH_HEADER_SIZE, _MAX_READ_AHEAD)
        chunk = os.pread(fd, min(max(ahead, _WALK_CHUNK), end - pos), pos)
        chunk_start = pos
        unpack_from = _READ_FIELDS.unpack_from
        start = stop = -1
        while end - pos >= BATCH_HEADER_SIZE:
            rel = pos - chunk_start
            if rel + BATCH_HEADER_SIZE > len(chunk):
                # Past the first chunk: read just enough to see what comes next.
                want = _WALK_CHUNK if start < 0 else max(max_bytes - (stop - start), 0)
                chunk = os.pread(fd, min(want + BATCH_HEADER_SIZE, end - pos), pos)
                chunk_start, rel = pos, 0
            base, length, magic, last_delta = unpack_from(chunk, rel)
            size = length + LOG_OVERHEAD
            if magic != 2 or length < MIN_BATCH_LENGTH or size > end - pos:
                break  # never happens for bytes we appended; do not serve past it
            if start < 0:
                if base + last_delta >= offset:
                    if max_offset is not None and base >= max_offset:
                        return b""
                    start, stop = pos, pos + size
            elif (max_offset is not None and base >= max_offset) or pos + size - start > max_bytes:
                break
            else:
                stop = pos + size
            pos += size
        if start < 0:
            return None
        rel = start - chunk_start
        if rel == 0 and stop - start == len(chunk):
            return chunk
        if rel >= 0 and stop - chunk_start <= len(chunk):
            return chunk[rel : stop - chunk_start]
        return os.pread(fd, stop - start, start)

    def read_at(self, position: int, size: int) -> bytes:
        """Raw bytes at a known batch position (for decoding one batch)."""
        return os.pread(self._fd, size, position)

    def timestamp_candidates(self, timestamp: int) -> Iterator[BatchSpan]:
        """Batches, in order, whose max timestamp is >= `timestamp`, starting where the time
        index proves nothing earlier can qualify."""
        entry = self.time_index.lookup(timestamp)
        pos = self.offset_index.lookup(entry[1]) if entry is not None else 0
        for span in _walk(self._fd, pos, self.size):
            if span.max_timestamp >= timestamp:
                yield span

    # -- truncation and recovery -----------------------------------------------------------

    def truncate_to(self, offset: int) -> bool:
        """Drop the batch holding `offset` and everything after it; False if nothing to drop."""
        found = self.locate(offset)
        if found is None:
            return False
        pos = found.position
        os.ftruncate(self._fd, pos)
        self.size = pos
        self.offset_index.truncate_from_value(pos)
        self.time_index.truncate_from_value(found.base_offset - self.base_offset)
        if not self._load_tail():
            # Cannot happen for bytes we wrote ourselves; a full scan is the safe answer.
            self.recover()
        return True

    def _load_tail(self) -> bool:
        """Derive next offset, max timestamp and index spacing from the indexes plus a walk
        of the batches after the last index entry. False if the files disagree."""
        last_entry = self.offset_index.last()
        start = last_entry[1] if last_entry is not None else 0
        next_offset = self.base_offset
        max_ts, offset_of_max = -1, -1
        if (time_entry := self.time_index.last()) is not None:
            max_ts, offset_of_max = time_entry[0], self.base_offset + time_entry[1]
        pos = start
        for span in _walk(self._fd, start, self.size):
            if (
                span.position == start
                and last_entry is not None
                and span.base_offset != self.base_offset + last_entry[0]
            ):
                return False
            if span.max_timestamp > max_ts:
                max_ts, offset_of_max = span.max_timestamp, span.base_offset
            next_offset = span.last_offset + 1
            pos = span.position + span.size
        if pos != self.size or (start and pos == start):
            return False
        if last_entry is not None and next_offset <= self.base_offset + last_entry[0]:
            return False
        if offset_of_max >= next_offset:
            return False
        self.next_offset = next_offset
        self.max_timestamp, self.offset_of_max_timestamp = max_ts, offset_of_max
        self._since_index = self.size - start
        return True

    def load(self) -> int:
        """Open a segment that was flushed before the last shutdown, trusting its indexes when
        they are consistent with the log. Returns bytes truncated (only if it had to rescan)."""
        if (
            self.offset_index.intact
            and self.time_index.intact
            and self.offset_index.values_below(self.size)
            and self._load_tail()
        ):
            return 0
        return self.recover()

    def recover(self) -> int:
        """Validate every batch (framing, magic, offset order, CRC), cut the file at the
        first bad one and rebuild both indexes. Returns the number of bytes cut."""
        fd = self._fd
        file_size = os.fstat(fd).st_size
        self.offset_index.clear()
        self.time_index.clear()
        self.next_offset = self.base_offset
        self.max_timestamp = self.offset_of_max_timestamp = -1
        self._since_index = 0
        self.size = 0
        buf = b""
        buf_start = 0
        pos = 0
        unpack_from = _SCAN_FIELDS.unpack_from
        while file_size - pos >= BATCH_HEADER_SIZE:
            if pos + BATCH_HEADER_SIZE > buf_start + len(buf):
                buf, buf_start = os.pread(fd, _SCAN_CHUNK, pos), pos
            base, length, magic, crc, last_delta, max_ts = unpack_from(buf, pos - buf_start)
            size = length + LOG_OVERHEAD
            last = base + last_delta
            if (
                magic != 2
                or length < MIN_BATCH_LENGTH
                or size > file_size - pos
                or base < self.next_offset
                or last_delta < 0
                or last - self.base_offset > INT32_MAX
            ):
                break
            if pos + size > buf_start + len(buf):
                buf, buf_start = os.pread(fd, max(size, _SCAN_CHUNK), pos), pos
            rel = pos - buf_start
            if crc32c.crc32c(memoryview(buf)[rel + CRC_START : rel + size]) != crc:
                break
            self._track(pos, size, base, last, max_ts, persist=False)
            pos += size
        self.size = pos
        if pos != file_size:
            os.ftruncate(fd, pos)
        self.offset_index.rewrite()
        self.time_index.rewrite()
        return file_size - pos

    # -- lifecycle -------------------------------------------------------------------------

    def seal(self) -> None:
        """Record the segment's max timestamp in the time index (on roll and close), so a
        later open knows it without reading the log."""
        if self.offset_of_max_timestamp >= 0:
            self.time_index.maybe_append(
                self.max_timestamp, self.offset_of_max_timestamp - self.base_offset
            )

    def flush(self) -> None:
        os.fsync(self._fd)
        self.offset_index.flush()
        self.time_index.flush()

    def close(self) -> None:
        os.close(self._fd)
        self.offset_index.close()
        self.time_index.close()

    def delete(self) -> None:
        """Close and remove all three files."""
        self.close()
        for path in (self.log_path, self.offset_index.path, self.time_index.path):
            try:
                path.unlink()
            except FileNotFoundError:
                pass

"""`PartitionLog`: one replica's log, made of segments, an epoch cache and checkpoints.

Directory layout (one directory per replica)::

    00000000000000000000.log / .index / .timeindex     one segment per base offset
    leader-epoch-checkpoint                             epoch -> start offset
    log-start-offset                                    advanced by DeleteRecords
    recovery-point                                      offsets below it are flushed
    clean-shutdown                                      present only between close and open

Everything is synchronous and single-threaded: the broker calls it from its event loop and
wraps waiting for data in its own asyncio primitives (see `add_listener`).
"""

from __future__ import annotations

import os
import shutil
import struct
from bisect import bisect_right
from collections.abc import Callable
from pathlib import Path

import crc32c

from ..records import (
    BATCH_HEADER_SIZE,
    CRC_START,
    LOG_OVERHEAD,
    MIN_BATCH_LENGTH,
    RecordsError,
    decode_records,
)
from .config import LogConfig
from .epoch_cache import CHECKPOINT_NAME, EpochEntry, LeaderEpochCache
from .errors import (
    CorruptBatchError,
    InvalidAppendOffset,
    LogClosedError,
    OffsetOutOfRange,
)
from .files import TMP_SUFFIX, fsync_directory, read_offset_file, write_atomically
from .segment import INT32_MAX, BatchSpan, LogSegment

__all__ = ["CLEAN_SHUTDOWN_NAME", "LOG_START_NAME", "RECOVERY_POINT_NAME", "PartitionLog"]

Buffer = bytes | bytearray | memoryview
Listener = Callable[[int], None]

CLEAN_SHUTDOWN_NAME = "clean-shutdown"
LOG_START_NAME = "log-start-offset"
RECOVERY_POINT_NAME = "recovery-point"
_SEGMENT_SUFFIXES = (".log", ".index", ".timeindex")


# base_offset, batch_length, partition_leader_epoch: the 16 bytes a leader rewrites.
_PREFIX = struct.Struct(">qii")
# Appends unpack only the header fields they use (pad bytes skip the rest).
# batch_length, last_offset_delta, max_timestamp
_LEADER_FIELDS = struct.Struct(">8xi11xi8xq")
# base_offset, batch_length, partition_leader_epoch, magic, crc, last_offset_delta, max_timestamp
_FOLLOWER_FIELDS = struct.Struct(">qiibI2xi8xq")


class PartitionLog:
    """An append-only, segmented, recoverable log of record batches for one partition.

    >>> import tempfile; from kafkabook.broker.records import encode_batch
    >>> log = PartitionLog.open(Path(tempfile.mkdtemp()), LogConfig())
    >>> log.append_as_leader(encode_batch([(b"a", b"1"), (b"b", b"2")]), leader_epoch=0)
    (0, 1)
    >>> log.log_end_offset, log.end_offset_for_epoch(0), len(log.read(0, 1024)) > 0
    (2, (0, 2), True)
    >>> log.close()
    """

    __slots__ = (
        "_bases",
        "_closed",
        "_epochs",
        "_listeners",
        "_log_start",
        "_recovery_point",
        "_segments",
        "config",
        "directory",
    )

    def __init__(self, directory: Path, config: LogConfig) -> None:
        # Use PartitionLog.open(); this only sets fields.
        self.directory = directory
        self.config = config
        self._segments: list[LogSegment] = []
        self._bases: list[int] = []
        self._epochs = LeaderEpochCache(directory / CHECKPOINT_NAME, [])
        self._log_start = 0
        self._recovery_point = 0
        self._listeners: list[Listener] = []
        self._closed = False

    # -- opening and recovery --------------------------------------------------------------

    @classmethod
    def open(cls, directory: Path, config: LogConfig | None = None) -> PartitionLog:
        """Create the log in `directory`, or reopen it, recovering after an unclean stop.

        After a clean close nothing is rescanned. Otherwise every segment from the one
        holding the recovery point onwards is checked batch by batch (length, magic, offset
        order, CRC), cut at the first torn or corrupt batch, and re-indexed; segments after a
        cut are deleted, and the epoch cache is trimmed to the recovered log end offset.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        log = cls(directory, config or LogConfig())
        log._load()
        return log

    def _load(self) -> None:
        directory = self.directory
        interval = self.config.index_interval_bytes
        for leftover in directory.glob(f"*{TMP_SUFFIX}"):
            leftover.unlink()
        bases = sorted(
            int(p.stem) for p in directory.glob("*.log") if len(p.stem) == 20 and p.stem.isdigit()
        )
        # Index files whose log is gone (a crash mid-delete) would confuse a later segment.
        for suffix in (".index", ".timeindex"):
            for p in directory.glob(f"*{suffix}"):
                if p.stem.isdigit() and int(p.stem) not in bases:
                    p.unlink()
        marker = directory / CLEAN_SHUTDOWN_NAME
        clean = marker.exists()
        if clean:
            # Removed before anything is written, so a crash from here on reads as unclean.
            marker.unlink()
            fsync_directory(directory)
        checkpoint_start = read_offset_file(directory / LOG_START_NAME)
        self._recovery_point = read_offset_file(directory / RECOVERY_POINT_NAME) or 0

        if not bases:
            start = checkpoint_start or 0
            self._segments = [LogSegment(directory, start, interval, create=True)]
            self._bases = [start]
            fsync_directory(directory)
        else:
            if clean:
                rescan_from = len(bases)
            else:
                rescan_from = max(bisect_right(bases, self._recovery_point) - 1, 0)
            rewritten: list[LogSegment] = []
            for i, base in enumerate(bases):
                segment = LogSegment(directory, base, interval, create=False)
                cut = segment.recover() if i >= rescan_from else segment.load()
                self._segments.append(segment)
                self._bases.append(base)
                if i >= rescan_from or cut:
                    rewritten.append(segment)
                if cut:
                    # Whatever follows a cut is unreachable: offsets must stay contiguous.
                    for later in bases[i + 1 :]:
                        for suffix in _SEGMENT_SUFFIXES:
                            (directory / f"{later:020d}{suffix}").unlink(missing_ok=True)
                    break
            if rewritten:
                # Make the recovered state durable before the recovery point moves past it.
                for segment in rewritten:
                    segment.flush()
                fsync_directory(directory)

        self._log_start = max(checkpoint_start or 0, self._bases[0])
        self._epochs = LeaderEpochCache.load(directory / CHECKPOINT_NAME)
        if self._log_start > self.log_end_offset:
            # DeleteRecords moved the start past data that did not survive: start afresh there.
            self._truncate_fully_and_start_at(self._log_start)
        self._epochs.truncate_from_end(self.log_end_offset)
        self._epochs.truncate_from_start(self._log_start)
        if self._recovery_point != self.log_end_offset:
            self._set_recovery_point(self.log_end_offset)

    def _set_recovery_point(self, offset: int) -> None:
        self._recovery_point = offset
        write_atomically(self.directory / RECOVERY_POINT_NAME, f"{offset}\n")

    def _set_log_start(self, offset: int) -> None:
        self._log_start = offset
        write_atomically(self.directory / LOG_START_NAME, f"{offset}\n")

    # -- properties ------------------------------------------------------------------------

    @property
    def log_start_offset(self) -> int:
        """The first offset a reader may ask for."""
        return self._log_start

    @property
    def log_end_offset(self) -> int:
        """The offset the next appended record will get."""
        return self._segments[-1].next_offset

    @property
    def latest_epoch(self) -> int:
        """The newest leader epoch recorded in this log, or -1."""
        return self._epochs.latest_epoch

    @property
    def epoch_entries(self) -> tuple[EpochEntry, ...]:
        """The epoch cache as (epoch, start_offset) entries, oldest first."""
        return self._epochs.entries

    @property
    def size_bytes(self) -> int:
        """Bytes of batch data across all segments (indexes excluded)."""
        return sum(s.size for s in self._segments)

    @property
    def segment_base_offsets(self) -> tuple[int, ...]:
        return tuple(self._bases)

    # -- listeners -------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(log_end_offset)` whenever the log end offset changes (append or
        truncation). The broker uses it to wake fetch waiters without polling; listeners
        run synchronously and must not touch the log re-entrantly.

        >>> import tempfile; from kafkabook.broker.records import encode_batch
        >>> log = PartitionLog.open(Path(tempfile.mkdtemp())); seen = []
        >>> log.add_listener(seen.append); _ = log.append_as_leader(encode_batch([(None, b"x")]), 0)
        >>> seen
        [1]
        """
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def _notify(self) -> None:
        leo = self._segments[-1].next_offset
        for listener in list(self._listeners):
            listener(leo)

    # -- appending -------------------------------------------------------------------------

    def _check_open(self) -> None:
        # A closed descriptor number may already belong to another file: never touch it.
        if self._closed:
            raise LogClosedError(f"log {self.directory} is closed")

    def _needs_roll(self, segment: LogSegment, pending: int, size: int, last: int) -> bool:
        used = segment.size + pending
        return (used > 0 and used + size > self.config.segment_bytes) or (
            last - segment.base_offset > INT32_MAX
        )

    def _roll(self, base_offset: int) -> LogSegment:
        """Seal and flush the active segment and start a new one at `base_offset`."""
        old = self._segments[-1]
        if old.size == 0:
            # An empty active segment (fresh log, or a gap before the next batch) is replaced.
            if old.base_offset == base_offset:
                return old
            old.delete()
            self._segments.pop()
            self._bases.pop()
            if not self._segments and base_offset > self._log_start:
                # Nothing exists below the new segment, so the log now starts there.
                self._set_log_start(base_offset)
        else:
            old.seal()
            old.flush()
        interval = self.config.index_interval_bytes
        segment = LogSegment(self.directory, base_offset, interval, create=True)
        self._segments.append(segment)
        self._bases.append(base_offset)
        fsync_directory(self.directory)
        self._set_recovery_point(base_offset)
        return segment

    def append_as_leader(self, batch: Buffer, leader_epoch: int) -> tuple[int, int]:
        """Append one validated batch, assigning offsets from the log end offset.

        The base offset and partition leader epoch are patched on the way to disk (both are
        outside the CRC). Returns (base_offset, last_offset).

        >>> import tempfile; from kafkabook.broker.records import encode_batch
        >>> log = PartitionLog.open(Path(tempfile.mkdtemp()))
        >>> log.append_as_leader(encode_batch([(None, b"x")] * 3), 1)
        (0, 2)
        >>> log.append_as_leader(encode_batch([(None, b"y")]), 1)
        (3, 3)
        """
        self._check_open()
        view = memoryview(batch)
        if len(view) < BATCH_HEADER_SIZE:
            raise ValueError(f"{len(view)} bytes cannot hold a record batch")
        batch_length, last_delta, max_ts = _LEADER_FIELDS.unpack_from(view)
        size = batch_length + LOG_OVERHEAD
        if size != len(view):
            raise ValueError(f"batch_length says {size} bytes but {len(view)} were given")
        if leader_epoch < self._epochs.latest_epoch:
            raise ValueError(
                f"leader epoch {leader_epoch} is older than the log's {self._epochs.latest_epoch}"
            )
        base = self._segments[-1].next_offset
        last = base + last_delta
        segment = self._segments[-1]
        if self._needs_roll(segment, 0, size, last):
            segment = self._roll(base)
        prefix = _PREFIX.pack(base, batch_length, leader_epoch)
        segment.append((prefix, view[16:]), size, base, last, max_ts)
        if leader_epoch != self._epochs.latest_epoch:
            self._epochs.assign(leader_epoch, base)
        self._notify()
        return base, last

    def append_as_follower(self, batches: Buffer) -> None:
        """Append batches fetched from the leader, keeping their offsets and epochs.

        The first batch must not start below the log end offset (gaps left by compaction
        are fine). Every whole batch is CRC-checked before anything is written; a partial
        trailing batch, as fetch responses often end, is ignored.

        >>> import tempfile; from kafkabook.broker.records import encode_batch
        >>> log = PartitionLog.open(Path(tempfile.mkdtemp()))
        >>> b = encode_batch([(None, b"x")] * 2, partition_leader_epoch=4)
        >>> log.append_as_follower(b + b[:10]); log.log_end_offset, log.latest_epoch
        (2, 4)
        """
        self._check_open()
        view = memoryview(batches)
        # (position, base_offset, size, last_offset, max_timestamp, partition_leader_epoch)
        found: list[tuple[int, int, int, int, int, int]] = []
        expected = self.log_end_offset
        pos = 0
        unpack_from = _FOLLOWER_FIELDS.unpack_from
        while len(view) - pos >= BATCH_HEADER_SIZE:
            base, length, epoch, magic, crc, last_delta, max_ts = unpack_from(view, pos)
            size = length + LOG_OVERHEAD
            if magic != 2 or length < MIN_BATCH_LENGTH:
                raise CorruptBatchError(f"batch at byte {pos}: magic {magic}, length {length}")
            if size > len(view) - pos:
                break  # partial trailing batch
            if base < expected:
                if not found:
                    raise InvalidAppendOffset(base, expected)
                raise CorruptBatchError(
                    f"batch at byte {pos} starts at offset {base}, expected >= {expected}"
                )
            if last_delta < 0:
                raise CorruptBatchError(f"batch at byte {pos}: last_offset_delta < 0")
            if crc32c.crc32c(view[pos + CRC_START : pos + size]) != crc:
                raise CorruptBatchError(f"batch at offset {base}: CRC-32C mismatch")
            found.append((pos, base, size, base + last_delta, max_ts, epoch))
            expected = base + last_delta + 1
            pos += size
        if not found:
            return

        # Write runs of consecutive batches with one write per segment they land in.
        segment = self._segments[-1]
        run: list[tuple[int, int, int, int]] = []
        run_start = run_bytes = 0
        for p, base, size, last, max_ts, _ in found:
            if self._needs_roll(segment, run_bytes, size, last):
                if run:
                    segment.append_batches(view[run_start : run_start + run_bytes], run)
                    run, run_bytes = [], 0
                segment = self._roll(base)
            if not run:
                run_start = p
            run.append((base, size, last, max_ts))
            run_bytes += size
        segment.append_batches(view[run_start : run_start + run_bytes], run)

        for _, base, _, _, _, epoch in found:
            if epoch > self._epochs.latest_epoch:
                self._epochs.assign(epoch, base)
        self._notify()

    # -- reading ---------------------------------------------------------------------------

    def read(self, offset: int, max_bytes: int, max_offset: int | None = None) -> bytes:
        """Whole batches starting with the one that holds `offset`.

        Stops before a batch whose base offset is >= `max_offset` (pass the high watermark
        for consumers) and after `max_bytes`, except that the first batch is returned whole
        however large. Returns b"" at the log end offset; raises `OffsetOutOfRange` below
        the log start offset or past the log end offset.

        >>> import tempfile; from kafkabook.broker.records import encode_batch
        >>> log = PartitionLog.open(Path(tempfile.mkdtemp()))
        >>> _ = log.append_as_leader(encode_batch([(None, b"x")] * 3), 0)
        >>> len(log.read(1, 0)) > 0, log.read(3, 100), log.read(0, 100, max_offset=0)
        (True, b'', b'')
        """
        self._check_open()
        leo = self._segments[-1].next_offset
        if offset < self._log_start or offset > leo:
            raise OffsetOutOfRange(offset, self._log_start, leo)
        if offset == leo or (max_offset is not None and offset >= max_offset):
            return b""
        # Kafka answers from a single segment; the client simply fetches again.
        for i in range(max(bisect_right(self._bases, offset) - 1, 0), len(self._segments)):
            data = self._segments[i].read(offset, max_bytes, max_offset)
            if data is not None:
                return data
        return b""

    def _first_record_at_or_after(
        self, segment: LogSegment, span: BatchSpan, timestamp: int
    ) -> tuple[int, int] | None:
        """Decode one batch and find its first record with ts >= timestamp past log start."""
        try:
            records = decode_records(segment.read_at(span.position, span.size))
        except RecordsError:
            # Offsets are still trustworthy even if a producer wrote undecodable records.
            return max(span.base_offset, self._log_start), span.max_timestamp
        for r in records:
            if r.timestamp >= timestamp and r.offset >= self._log_start:
                return r.offset, r.timestamp
        return None

    def offset_for_timestamp(self, timestamp: int) -> tuple[int, int] | None:
        """The first record (at or past the log start) with a timestamp >= `timestamp`, as
        (offset, record_timestamp); None if there is none. This is ListOffsets for a real
        timestamp; the -1/-2/-3 sentinels are the caller's to map.

        >>> import tempfile; from kafkabook.broker.records import encode_batch
        >>> log = PartitionLog.open(Path(tempfile.mkdtemp()))
        >>> for ts in (10, 20, 30):
        ...     _ = log.append_as_leader(encode_batch([(None, b"")], timestamp=ts), 0)
        >>> log.offset_for_timestamp(15), log.offset_for_timestamp(31)
        ((1, 20), None)
        """
        self._check_open()
        if timestamp < 0:
            raise ValueError(f"timestamp {timestamp} is a ListOffsets sentinel, not a time")
        for segment in self._segments:
            if segment.max_timestamp < timestamp:
                continue
            for span in segment.timestamp_candidates(timestamp):
                if span.last_offset < self._log_start:
                    continue
                found = self._first_record_at_or_after(segment, span, timestamp)
                if found is not None:
                    return found
        return None

    def max_timestamp(self) -> tuple[int, int]:
        """(offset, timestamp) of the first record carrying the largest timestamp in the log,
        or (-1, -1) for a log without timestamps (ListOffsets MAX_TIMESTAMP)."""
        self._check_open()
        best: LogSegment | None = None
        for segment in self._segments:
            if segment.max_timestamp >= 0 and (
                best is None or segment.max_timestamp > best.max_timestamp
            ):
                best = segment
        if best is None:
            return -1, -1
        span = best.locate(best.offset_of_max_timestamp)
        if span is None:
            return -1, -1
        try:
            records = decode_records(best.read_at(span.position, span.size))
        except RecordsError:
            records = []
        for r in records:
            if r.timestamp == span.max_timestamp:
                return r.offset, r.timestamp
        # Undecodable records: the batch's last offset is Kafka's older, shallow answer.
        return span.last_offset, span.max_timestamp

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """OffsetForLeaderEpoch: (largest known epoch <= `epoch`, the offset where it ended).

        The latest epoch ends at the log end offset; (-1, -1) when the epoch is unknown.
        """
        self._check_open()
        return self._epochs.end_offset_for(epoch, self._segments[-1].next_offset)

    # -- truncation and deletion -----------------------------------------------------------

    def _truncate_fully_and_start_at(self, offset: int) -> None:
        for segment in self._segments:
            segment.delete()
        self._segments = [
            LogSegment(self.directory, offset, self.config.index_interval_bytes, create=True)
        ]
        self._bases = [offset]
        fsync_directory(self.directory)
        self._epochs.clear()
        self._set_log_start(offset)
        self._set_recovery_point(offset)

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Drop every segment and the epoch cache; the log restarts, empty, at `offset`.

        What a follower does when the leader's log start offset is past its own log end
        (the leader answered OFFSET_OUT_OF_RANGE and no shared history remains).

        >>> import tempfile; from kafkabook.broker.records import encode_batch
        >>> log = PartitionLog.open(Path(tempfile.mkdtemp()))
        >>> _ = log.append_as_leader(encode_batch([(None, b"x")]), 0)
        >>> log.truncate_fully_and_start_at(50); log.log_start_offset, log.log_end_offset
        (50, 50)
        """
        self._check_open()
        self._truncate_fully_and_start_at(offset)
        self._notify()

    def truncate_to(self, offset: int) -> None:
        """Remove every batch holding an offset >= `offset` (a batch straddling it goes too).

        Below the first segment this empties the log and restarts it at `offset`.

        >>> import tempfile; from kafkabook.broker.records import encode_batch
        >>> log = PartitionLog.open(Path(tempfile.mkdtemp()))
        >>> for _ in range(3): _ = log.append_as_leader(encode_batch([(None, b"x")] * 2), 0)
        >>> log.truncate_to(4); log.log_end_offset
        4
        """
        self._check_open()
        if offset >= self.log_end_offset:
            return
        if offset < self._bases[0]:
            self._truncate_fully_and_start_at(offset)
            self._notify()
            return
        while len(self._segments) > 1 and self._bases[-1] >= offset:
            self._segments.pop().delete()
            self._bases.pop()
        self._segments[-1].truncate_to(offset)
        leo = self.log_end_offset
        self._epochs.truncate_from_end(leo)
        if self._log_start > leo:
            self._set_log_start(leo)
        if self._recovery_point > leo:
            self._set_recovery_point(leo)
        self._notify()

    def delete_records_before(self, offset: int) -> int:
        """Advance the log start offset to `offset` (DeleteRecords) and delete segments that
        lie wholly below it. Returns the (possibly unchanged) log start offset.

        >>> import tempfile; from kafkabook.broker.records import encode_batch
        >>> log = PartitionLog.open(Path(tempfile.mkdtemp()))
        >>> _ = log.append_as_leader(encode_batch([(None, b"x")] * 5), 0)
        >>> log.delete_records_before(3), log.log_start_offset, log.log_end_offset
        (3, 3, 5)
        """
        self._check_open()
        leo = self.log_end_offset
        if offset > leo:
            raise OffsetOutOfRange(offset, self._log_start, leo)
        if offset <= self._log_start:
            return self._log_start
        self._set_log_start(offset)
        if offset == leo and self._segments[-1].size > 0:
            # Let even the active segment go when everything in it is deleted.
            self._roll(leo)
        doomed = 0
        while doomed + 1 < len(self._segments) and self._bases[doomed + 1] <= offset:
            doomed += 1
        for segment in self._segments[:doomed]:
            segment.delete()
        del self._segments[:doomed]
        del self._bases[:doomed]
        self._epochs.truncate_from_start(offset)
        return offset

    # -- lifecycle -------------------------------------------------------------------------

    def flush(self) -> None:
        """fsync the active segment and move the recovery point to the log end offset."""
        self._check_open()
        self._segments[-1].flush()
        self._set_recovery_point(self.log_end_offset)

    def close(self) -> None:
        """Flush, mark the shutdown clean and release file handles. Idempotent."""
        if self._closed:
            return
        active = self._segments[-1]
        active.seal()
        active.flush()
        self._set_recovery_point(self.log_end_offset)
        marker = os.open(self.directory / CLEAN_SHUTDOWN_NAME, os.O_WRONLY | os.O_CREAT, 0o644)
        os.fsync(marker)
        os.close(marker)
        fsync_directory(self.directory)
        for segment in self._segments:
            segment.close()
        self._closed = True
        self._listeners.clear()

    def delete(self) -> None:
        """Close the file handles and remove the whole partition directory."""
        if not self._closed:
            for segment in self._segments:
                segment.close()
            self._closed = True
            self._listeners.clear()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __repr__(self) -> str:
        return (
            f"PartitionLog({str(self.directory)!r}, start={self._log_start}, "
            f"end={self.log_end_offset if self._segments else '?'}, "
            f"segments={len(self._segments)}, epoch={self.latest_epoch})"
        )

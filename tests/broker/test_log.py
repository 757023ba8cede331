"""PartitionLog: appends, reads, truncation, epochs, timestamps, deletion and crash recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from kafkabook.broker.log import (
    CorruptBatchError,
    EpochEntry,
    InvalidAppendOffset,
    LogClosedError,
    LogConfig,
    LogCorruptedError,
    OffsetOutOfRange,
    PartitionLog,
)
from kafkabook.broker.log.segment import LogSegment
from kafkabook.broker.records import (
    Record,
    decode_records,
    encode_batch,
    iter_batches,
    parse_header,
    patch_for_append,
    validate_batch,
)

SMALL = LogConfig(segment_bytes=600, index_interval_bytes=64)
SRC = Path(__file__).resolve().parents[2] / "src"
# Each example makes its own directory through tmp_path_factory, so sharing it is safe.
FIXTURE_OK = [HealthCheck.function_scoped_fixture]


def crash(log: PartitionLog) -> None:
    """What SIGKILL leaves behind: written bytes stay (page cache), nothing is flushed or
    sealed and no clean-shutdown marker is written. Only the descriptors go away."""
    for segment in log._segments:
        segment.close()
    log._closed = True


def make_batch(n: int = 1, value: bytes = b"v", ts: int = 1000, **kw) -> bytes:
    return encode_batch([(b"k%d" % i, value) for i in range(n)], timestamp=ts, **kw)


def read_all(log: PartitionLog, start: int | None = None) -> bytes:
    """Every batch from `start` to the end, reading segment by segment as a consumer would."""
    offset = log.log_start_offset if start is None else start
    out = bytearray()
    while offset < log.log_end_offset:
        chunk = log.read(offset, 1 << 20)
        if not chunk:
            break
        out += chunk
        *_, (_, last) = iter_batches(chunk)
        offset = last.next_offset
    return bytes(out)


def assert_whole_valid_batches(data: bytes) -> list:
    headers = list(iter_batches(data))
    consumed = sum(h.size for _, h in headers)
    assert consumed == len(data), "read returned a partial batch"
    for pos, h in headers:
        assert validate_batch(data[pos : pos + h.size]) is None
    return [h for _, h in headers]


# -- basic behaviour ----------------------------------------------------------------------


def test_empty_log(tmp_path):
    log = PartitionLog.open(tmp_path / "p", SMALL)
    assert (log.log_start_offset, log.log_end_offset, log.latest_epoch) == (0, 0, -1)
    assert log.read(0, 100) == b""
    assert log.size_bytes == 0
    assert log.end_offset_for_epoch(0) == (-1, -1)
    assert log.offset_for_timestamp(0) is None
    assert log.max_timestamp() == (-1, -1)
    with pytest.raises(OffsetOutOfRange):
        log.read(1, 100)
    log.close()
    assert (tmp_path / "p" / "00000000000000000000.log").exists()


def test_leader_append_patches_offsets_and_epoch(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    a, b = make_batch(3), make_batch(2)
    assert log.append_as_leader(a, 4) == (0, 2)
    assert log.append_as_leader(b, 4) == (3, 4)
    data = read_all(log)
    assert data == patch_for_append(a, 0, 4) + patch_for_append(b, 3, 4)
    assert [h.base_offset for h in assert_whole_valid_batches(data)] == [0, 3]
    assert log.size_bytes == len(a) + len(b)
    with pytest.raises(ValueError):
        log.append_as_leader(a + b"x", 4)
    with pytest.raises(ValueError):
        log.append_as_leader(a, 3)  # a stale leader must not rewrite epoch history


def test_read_rules(tmp_path):
    log = PartitionLog.open(tmp_path, LogConfig(index_interval_bytes=0))
    stored = []
    for _ in range(5):
        batch = make_batch(2, value=b"x" * 50)
        base, _ = log.append_as_leader(batch, 0)
        stored.append(patch_for_append(batch, base, 0))
    # The batch holding the offset comes first, even when asked for a middle offset.
    assert log.read(3, 10_000) == b"".join(stored[1:])
    # max_bytes smaller than one batch still returns that batch whole.
    assert log.read(4, 1) == stored[2]
    # Only whole batches within max_bytes after the first.
    assert log.read(0, len(stored[0]) * 2 + 5) == stored[0] + stored[1]
    # max_offset (the high watermark) cuts before any batch starting at or after it.
    assert log.read(0, 10_000, max_offset=5) == b"".join(stored[:3])
    assert log.read(0, 10_000, max_offset=4) == b"".join(stored[:2])
    assert log.read(4, 10_000, max_offset=4) == b""
    assert log.read(10, 10_000) == b""
    with pytest.raises(OffsetOutOfRange) as info:
        log.read(11, 100)
    assert (info.value.log_start_offset, info.value.log_end_offset) == (0, 10)


def test_segments_roll_at_segment_bytes(tmp_path):
    config = LogConfig(segment_bytes=400, index_interval_bytes=100)
    log = PartitionLog.open(tmp_path, config)
    sizes = []
    for i in range(30):
        batch = make_batch(1 + i % 3, value=b"y" * (10 + 7 * i))
        log.append_as_leader(batch, 0)
        sizes.append(len(batch))
    huge = make_batch(1, value=b"z" * 1000)  # larger than a segment: gets one of its own
    base, _ = log.append_as_leader(huge, 0)
    bases = log.segment_base_offsets
    assert len(bases) > 5 and bases[-1] == base
    for b in bases:
        path = tmp_path / f"{b:020d}.log"
        assert path.exists() and (tmp_path / f"{b:020d}.index").exists()
        assert (tmp_path / f"{b:020d}.timeindex").exists()
        data = path.read_bytes()
        headers = assert_whole_valid_batches(data)
        assert headers[0].base_offset == b
        assert len(data) <= config.segment_bytes or len(headers) == 1
    assert read_all(log) == b"".join((tmp_path / f"{b:020d}.log").read_bytes() for b in bases)
    # Every offset is readable and starts at the batch that holds it.
    for offset in range(log.log_end_offset):
        first = parse_header(log.read(offset, 0))
        assert first.base_offset <= offset <= first.last_offset


def test_sparse_index_is_written(tmp_path):
    log = PartitionLog.open(tmp_path, LogConfig(index_interval_bytes=256))
    for _ in range(50):
        log.append_as_leader(make_batch(1, value=b"q" * 100), 0)
    log.close()
    index = (tmp_path / "00000000000000000000.index").read_bytes()
    entries = [
        (int.from_bytes(index[i : i + 4], "big"), int.from_bytes(index[i + 4 : i + 8], "big"))
        for i in range(0, len(index), 8)
    ]
    batch_size = len(make_batch(1, value=b"q" * 100))
    assert 10 <= len(entries) < 50
    for relative_offset, position in entries:
        assert position == relative_offset * batch_size  # entry points at that batch's start


def test_listener_sees_every_end_offset_change(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    seen: list[int] = []
    log.add_listener(seen.append)
    log.append_as_leader(make_batch(2), 0)
    log.append_as_follower(make_batch(3, base_offset=2, partition_leader_epoch=1))
    log.truncate_to(1)
    log.remove_listener(seen.append)
    log.append_as_leader(make_batch(1), 1)
    assert seen == [2, 5, 0]


def test_closed_log_refuses_use_and_delete_removes_directory(tmp_path):
    log = PartitionLog.open(tmp_path / "p", SMALL)
    log.append_as_leader(make_batch(), 0)
    log.close()
    log.close()  # idempotent
    with pytest.raises(LogClosedError):
        log.read(0, 10)
    with pytest.raises(LogClosedError):
        log.append_as_leader(make_batch(), 0)
    log = PartitionLog.open(tmp_path / "p", SMALL)
    (tmp_path / "p" / "partition.metadata").write_text("topic_id: x\n")  # someone else's file
    log.delete()
    assert not (tmp_path / "p").exists()


def test_log_config_from_topic_configs():
    config = LogConfig.from_configs({"segment.bytes": "2048", "index.interval.bytes": 16})
    assert config == LogConfig(segment_bytes=2048, index_interval_bytes=16)
    assert LogConfig.from_configs({}) == LogConfig()
    with pytest.raises(ValueError):
        LogConfig(segment_bytes=1)


# -- follower appends ---------------------------------------------------------------------


def test_follower_append_keeps_bytes_and_ignores_partial_tail(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    batches = [
        make_batch(2, base_offset=0, partition_leader_epoch=0),
        make_batch(3, base_offset=2, partition_leader_epoch=0),
        make_batch(1, base_offset=5, partition_leader_epoch=2),
    ]
    blob = b"".join(batches)
    log.append_as_follower(blob + batches[0][:70])
    assert log.log_end_offset == 6
    assert read_all(log) == blob
    assert log.epoch_entries == (EpochEntry(0, 0), EpochEntry(2, 5))
    log.append_as_follower(b"")
    log.append_as_follower(batches[0][:30])  # nothing whole: nothing happens
    assert log.log_end_offset == 6


def test_follower_append_rejects_bad_input_without_writing(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    log.append_as_follower(make_batch(2, base_offset=0))
    with pytest.raises(InvalidAppendOffset):
        log.append_as_follower(make_batch(1, base_offset=1))
    good = make_batch(1, base_offset=2)
    corrupt = bytearray(make_batch(1, base_offset=3))
    corrupt[-1] ^= 0xFF
    with pytest.raises(CorruptBatchError):
        log.append_as_follower(good + bytes(corrupt))
    overlapping = make_batch(1, base_offset=2)
    with pytest.raises(CorruptBatchError):
        log.append_as_follower(good + overlapping)
    garbage = bytearray(good)
    garbage[16] = 1  # magic 1
    with pytest.raises(CorruptBatchError):
        log.append_as_follower(bytes(garbage))
    assert log.log_end_offset == 2  # all-or-nothing: the good batch was not written either


def test_follower_append_allows_offset_gaps_and_rolls(tmp_path):
    log = PartitionLog.open(tmp_path, LogConfig(segment_bytes=300, index_interval_bytes=32))
    blob = b""
    offset = 0
    for i in range(20):
        offset += i % 3  # gaps, as a compacted leader log has
        blob += make_batch(2, base_offset=offset, value=b"w" * 30)
        offset += 2
    log.append_as_follower(blob)
    assert log.log_end_offset == offset
    assert len(log.segment_base_offsets) > 3
    assert read_all(log) == blob
    # An offset inside a gap reads from the next batch.
    assert parse_header(log.read(2, 0)).base_offset == 3


# -- truncation -----------------------------------------------------------------------------


def test_truncate_drops_tail_indexes_and_epochs(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    for epoch in (0, 0, 1, 1, 3, 3):
        for _ in range(5):
            log.append_as_leader(make_batch(2, value=b"t" * 40), epoch)
    assert log.latest_epoch == 3
    log.truncate_to(41)  # mid-batch: the whole batch [40, 41] goes
    assert log.log_end_offset == 40
    assert log.latest_epoch == 1
    assert log.end_offset_for_epoch(1) == (1, 40)
    assert all(b < 40 for b in log.segment_base_offsets)
    assert assert_whole_valid_batches(read_all(log))[-1].last_offset == 39
    # Appends continue seamlessly, through reopen too.
    assert log.append_as_leader(make_batch(1), 4) == (40, 40)
    log.close()
    log = PartitionLog.open(tmp_path, SMALL)
    assert (log.log_end_offset, log.latest_epoch) == (41, 4)
    log.truncate_to(0)
    assert (log.log_end_offset, log.latest_epoch, log.size_bytes) == (0, -1, 0)
    assert log.segment_base_offsets == (0,)


def test_truncate_below_first_segment_restarts_log(tmp_path):
    log = PartitionLog.open(tmp_path, LogConfig(segment_bytes=200, index_interval_bytes=0))
    for _ in range(10):
        log.append_as_leader(make_batch(2, value=b"p" * 40), 2)
    log.delete_records_before(12)
    assert log.segment_base_offsets[0] > 4
    log.truncate_to(4)
    assert (log.log_start_offset, log.log_end_offset) == (4, 4)
    assert log.segment_base_offsets == (4,)
    assert log.latest_epoch == -1
    assert log.append_as_leader(make_batch(1), 3) == (4, 4)


def test_truncate_fully_and_start_at_jumps_past_the_old_log(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    for _ in range(6):
        log.append_as_leader(make_batch(2, value=b"f" * 60), 3)
    seen: list[int] = []
    log.add_listener(seen.append)
    log.truncate_fully_and_start_at(500)
    assert seen == [500]
    assert (log.log_start_offset, log.log_end_offset, log.latest_epoch) == (500, 500, -1)
    assert [p.name for p in _segment_files(tmp_path)] == [f"{500:020d}.log"]
    with pytest.raises(OffsetOutOfRange):
        log.read(0, 100)
    # A leader's batches continue from there, and the state survives a crash.
    log.append_as_follower(make_batch(2, base_offset=500, partition_leader_epoch=7))
    crash(log)
    log = PartitionLog.open(tmp_path, SMALL)
    assert (log.log_start_offset, log.log_end_offset, log.latest_epoch) == (500, 502, 7)


# -- epochs ---------------------------------------------------------------------------------


def test_end_offset_for_epoch_semantics(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    # Epoch 2 starts at 0, epoch 4 at 3, epoch 7 at 5 (as a follower would learn them).
    log.append_as_follower(make_batch(3, base_offset=0, partition_leader_epoch=2))
    log.append_as_follower(make_batch(2, base_offset=3, partition_leader_epoch=4))
    log.append_as_follower(make_batch(4, base_offset=5, partition_leader_epoch=7))
    assert log.end_offset_for_epoch(7) == (7, 9)  # latest ends at the log end offset
    assert log.end_offset_for_epoch(4) == (4, 5)
    assert log.end_offset_for_epoch(5) == (4, 5)  # largest known epoch <= 5 is 4
    assert log.end_offset_for_epoch(6) == (4, 5)
    assert log.end_offset_for_epoch(2) == (2, 3)
    assert log.end_offset_for_epoch(1) == (1, 0)  # below all: Kafka echoes it, first start
    assert log.end_offset_for_epoch(8) == (-1, -1)
    assert log.end_offset_for_epoch(-1) == (-1, -1)
    log.close()
    text = (tmp_path / "leader-epoch-checkpoint").read_text()
    assert text == "0\n3\n2 0\n4 3\n7 5\n"
    log = PartitionLog.open(tmp_path, SMALL)
    assert log.end_offset_for_epoch(5) == (4, 5)


def test_epoch_checkpoint_must_parse(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    log.append_as_leader(make_batch(), 1)
    log.close()
    (tmp_path / "leader-epoch-checkpoint").write_text("0\n2\n1 0\n")
    with pytest.raises(LogCorruptedError):
        PartitionLog.open(tmp_path, SMALL)


# -- timestamps -----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURE_OK)
@given(
    batches=st.lists(
        st.lists(st.integers(0, 10_000), min_size=1, max_size=4), min_size=1, max_size=25
    ),
    targets=st.lists(st.integers(0, 10_500), min_size=1, max_size=10),
    truncate_at=st.none() | st.integers(0, 60),
    delete_to=st.integers(0, 40),
    reopen=st.sampled_from(["no", "clean", "crash"]),
)
def test_timestamp_lookups_match_model(
    tmp_path_factory, batches, targets, truncate_at, delete_to, reopen
):
    directory = tmp_path_factory.mktemp("ts")
    # A few batches per segment, nearly all of them indexed.
    config = LogConfig(segment_bytes=900, index_interval_bytes=40)
    log = PartitionLog.open(directory, config)
    model: list[tuple[int, int, int]] = []  # (offset, timestamp, last offset of its batch)
    for stamps in batches:
        base, last = log.append_as_leader(
            encode_batch([Record(-1, ts, None, b"r" * 20) for ts in stamps], compression="lz4"), 0
        )
        model += [(base + i, ts, last) for i, ts in enumerate(stamps)]
    if truncate_at is not None:
        # Truncation must also forget the time index entries of the dropped batches.
        log.truncate_to(truncate_at)
        model = [row for row in model if row[2] < truncate_at]
    log_start = log.delete_records_before(min(delete_to, log.log_end_offset))
    if reopen == "clean":
        log.close()
    elif reopen == "crash":
        crash(log)
    if reopen != "no":
        log = PartitionLog.open(directory, config)
    live = [(o, ts) for o, ts, _ in model if o >= log_start]
    for target in targets:
        expected = next(((o, ts) for o, ts in live if ts >= target), None)
        assert log.offset_for_timestamp(target) == expected
    # Like Kafka, MAX_TIMESTAMP looks at the segments still present, not at the log start.
    present = [(o, ts) for o, ts, _ in model if o >= log.segment_base_offsets[0]]
    best = max((ts for _, ts in present), default=None)
    expected_max = next(((o, ts) for o, ts in present if ts == best), (-1, -1))
    assert log.max_timestamp() == expected_max
    log.close()


def test_offset_for_timestamp_rejects_sentinels(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    with pytest.raises(ValueError):
        log.offset_for_timestamp(-1)


# -- delete records -------------------------------------------------------------------------


def test_delete_records_before(tmp_path):
    config = LogConfig(segment_bytes=250, index_interval_bytes=0)
    log = PartitionLog.open(tmp_path, config)
    for epoch in range(6):
        for _ in range(4):
            log.append_as_leader(make_batch(2, value=b"d" * 30), epoch)
    leo = log.log_end_offset
    assert log.delete_records_before(0) == 0
    assert log.delete_records_before(17) == 17
    assert log.log_start_offset == 17
    assert all(b <= 17 for b in log.segment_base_offsets[:1])
    assert not (tmp_path / "00000000000000000000.log").exists()
    with pytest.raises(OffsetOutOfRange):
        log.read(16, 100)
    assert parse_header(log.read(17, 0)).base_offset == 16  # the batch holding 17
    assert log.delete_records_before(5) == 17  # never moves backwards
    with pytest.raises(OffsetOutOfRange):
        log.delete_records_before(leo + 1)
    assert log.epoch_entries[0].start_offset == 17
    assert log.end_offset_for_epoch(2) == (2, 24)
    crash(log)
    log = PartitionLog.open(tmp_path, config)
    assert (log.log_start_offset, log.log_end_offset) == (17, leo)
    # Deleting everything leaves one empty segment at the log end offset.
    log.delete_records_before(leo)
    assert log.segment_base_offsets == (leo,)
    assert (log.log_start_offset, log.log_end_offset, log.size_bytes) == (leo, leo, 0)
    assert log.read(leo, 100) == b""
    assert log.append_as_leader(make_batch(), 6) == (leo, leo)
    log.close()
    log = PartitionLog.open(tmp_path, config)
    assert (log.log_start_offset, log.log_end_offset) == (leo, leo + 1)


# -- recovery -------------------------------------------------------------------------------


def _fill(directory: Path, config: LogConfig, specs: list[tuple[int, int]]) -> list[bytes]:
    """Append batches (record count, value size); returns the bytes as stored."""
    log = PartitionLog.open(directory, config)
    stored = []
    for epoch, (count, size) in enumerate(specs):
        batch = make_batch(count, value=bytes([65 + epoch % 26]) * size, ts=1000 + epoch)
        base, _ = log.append_as_leader(batch, epoch // 3)
        stored.append(patch_for_append(batch, base, epoch // 3))
    crash(log)
    return stored


def _segment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.log"))


def _expect_prefix(directory: Path, config: LogConfig, stored: list[bytes], keep: int) -> None:
    log = PartitionLog.open(directory, config)
    kept = stored[:keep]
    expected_leo = parse_header(kept[-1]).next_offset if kept else 0
    assert log.log_end_offset == expected_leo
    data = read_all(log)
    assert data == b"".join(kept)
    assert_whole_valid_batches(data)
    if log.latest_epoch >= 0:
        assert log.end_offset_for_epoch(log.latest_epoch) == (log.latest_epoch, expected_leo)
    assert all(e.start_offset < max(expected_leo, 1) for e in log.epoch_entries)
    # The recovered log takes appends at the recovered end.
    assert log.append_as_leader(make_batch(), max(log.latest_epoch, 0))[0] == expected_leo
    log.close()


batch_specs = st.lists(st.tuples(st.integers(1, 4), st.integers(0, 90)), min_size=1, max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_OK)
@given(specs=batch_specs, data=st.data())
def test_recovery_after_torn_tail(tmp_path_factory, specs, data):
    directory = tmp_path_factory.mktemp("torn")
    stored = _fill(directory, SMALL, specs)
    last_file = _segment_files(directory)[-1]
    size = last_file.stat().st_size
    cut = data.draw(st.integers(0, size), label="cut")
    os.truncate(last_file, cut)
    # Batches wholly before the cut survive; everything in earlier segments survives.
    segment_base = int(last_file.stem)
    keep, pos = 0, 0
    for i, b in enumerate(stored):
        if parse_header(b).base_offset < segment_base:
            keep = i + 1
            continue
        if pos + len(b) > cut:
            break
        pos += len(b)
        keep = i + 1
    _expect_prefix(directory, SMALL, stored, keep)


def _flippable(stored: list[bytes], segment: Path, data) -> tuple[int, int]:
    """Pick (position in segment file, index of batch) for a byte the CRC or framing covers.
    Base offset and leader epoch bytes are excluded: they sit outside the CRC by design."""
    base = int(segment.stem)
    later = [int(p.stem) for p in _segment_files(segment.parent) if int(p.stem) > base]
    end = min(later, default=2**63)
    in_segment = [i for i, b in enumerate(stored) if base <= parse_header(b).base_offset < end]
    victim = data.draw(st.sampled_from(in_segment), label="victim")
    start = sum(len(stored[i]) for i in in_segment if i < victim)
    inner = data.draw(
        st.integers(8, len(stored[victim]) - 1).filter(lambda x: not 12 <= x < 16), label="byte"
    )
    return start + inner, victim


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_OK)
@given(specs=batch_specs, data=st.data(), full_rescan=st.booleans())
def test_recovery_after_corrupt_byte(tmp_path_factory, specs, data, full_rescan):
    directory = tmp_path_factory.mktemp("flip")
    stored = _fill(directory, SMALL, specs)
    files = _segment_files(directory)
    if full_rescan:
        # Without a recovery point every segment is rescanned, so damage anywhere is found.
        (directory / "recovery-point").unlink(missing_ok=True)
        target = data.draw(st.sampled_from(files), label="segment")
    else:
        target = files[-1]  # unflushed data lives in the active segment
    assume(target.stat().st_size > 0)
    position, victim = _flippable(stored, target, data)
    raw = bytearray(target.read_bytes())
    raw[position] ^= data.draw(st.integers(1, 255), label="mask")
    target.write_bytes(bytes(raw))
    _expect_prefix(directory, SMALL, stored, victim)
    # Segments after the damaged one were removed with it.
    assert all(int(p.stem) <= int(target.stem) for p in _segment_files(directory)[:-1])


def test_clean_shutdown_skips_rescan_and_crash_rescans_only_unflushed(tmp_path, monkeypatch):
    calls: list[int] = []
    original = LogSegment.recover

    def counting(self):
        calls.append(self.base_offset)
        return original(self)

    monkeypatch.setattr(LogSegment, "recover", counting)
    log = PartitionLog.open(tmp_path, SMALL)
    for _ in range(40):
        log.append_as_leader(make_batch(2, value=b"c" * 40), 0)
    bases = log.segment_base_offsets
    assert len(bases) > 3
    log.close()
    assert (tmp_path / "clean-shutdown").exists()
    log = PartitionLog.open(tmp_path, SMALL)
    assert calls == []
    assert not (tmp_path / "clean-shutdown").exists()
    for _ in range(3):
        log.append_as_leader(make_batch(2, value=b"c" * 40), 0)
    leo = log.log_end_offset
    crash(log)
    log = PartitionLog.open(tmp_path, SMALL)
    assert log.log_end_offset == leo
    # Only the segments at or after the last flush point were rescanned.
    assert calls and set(calls) <= {b for b in log.segment_base_offsets if b >= bases[-1]}
    log.close()


def test_damaged_index_files_are_rebuilt(tmp_path):
    config = LogConfig(segment_bytes=2000, index_interval_bytes=50)
    log = PartitionLog.open(tmp_path, config)
    for i in range(60):
        log.append_as_leader(make_batch(1, value=b"i" * 30, ts=5000 + i), 0)
    expected = read_all(log)
    bases = log.segment_base_offsets
    log.close()
    first, second = (f"{b:020d}" for b in bases[:2])
    os.truncate(tmp_path / f"{first}.index", 13)  # torn entry
    (tmp_path / f"{second}.timeindex").unlink()
    junk = (tmp_path / f"{second}.index").read_bytes()[::-1]  # out-of-order entries
    (tmp_path / f"{second}.index").write_bytes(junk)
    log = PartitionLog.open(tmp_path, config)
    assert read_all(log) == expected
    for offset in range(log.log_end_offset):
        assert parse_header(log.read(offset, 0)).base_offset == offset
    assert log.offset_for_timestamp(5030) == (30, 5030)
    assert log.max_timestamp() == (59, 5059)
    assert (tmp_path / f"{first}.index").stat().st_size % 8 == 0


def test_recovery_trims_epochs_past_recovered_end(tmp_path):
    log = PartitionLog.open(tmp_path, SMALL)
    log.append_as_leader(make_batch(2), 1)
    log.append_as_leader(make_batch(2), 1)
    log.append_as_leader(make_batch(2), 5)
    crash(log)
    active = _segment_files(tmp_path)[-1]
    os.truncate(active, active.stat().st_size - 3)
    log = PartitionLog.open(tmp_path, SMALL)
    assert log.log_end_offset == 4
    assert log.latest_epoch == 1
    assert (tmp_path / "leader-epoch-checkpoint").read_text() == "0\n1\n1 0\n"


def test_sigkill_mid_append_recovers_a_consistent_prefix(tmp_path):
    """A real process appends until it is SIGKILLed at an arbitrary moment."""
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from kafkabook.broker.log import LogConfig, PartitionLog
        from kafkabook.broker.records import encode_batch
        log = PartitionLog.open(Path({str(tmp_path)!r}), LogConfig(segment_bytes=5000))
        i = 0
        while True:
            log.append_as_leader(encode_batch([(None, b"%d" % i), (None, b"x" * 200)]), i // 500)
            i += 1
            if i == 300:
                print("ready", flush=True)
        """
    )
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == b"ready"
    child.send_signal(signal.SIGKILL)
    child.wait()
    log = PartitionLog.open(tmp_path, LogConfig(segment_bytes=5000))
    assert log.log_end_offset >= 600
    values = [
        r.value
        for _, h in iter_batches(read_all(log))
        for r in decode_records(log.read(h.base_offset, 0))
        if r.value != b"x" * 200
    ]
    assert values == [b"%d" % i for i in range(log.log_end_offset // 2)]
    log.close()


# -- model-based: random operation sequences ----------------------------------------------


@dataclass
class Model:
    batches: list[bytes] = field(default_factory=list)  # as stored, in offset order
    log_start: int = 0

    @property
    def end(self) -> int:
        return parse_header(self.batches[-1]).next_offset if self.batches else 0


class LogMachine(RuleBasedStateMachine):
    """Drives PartitionLog and a list-of-batches model through the same random operations."""

    config = LogConfig(segment_bytes=500, index_interval_bytes=48)

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="logmachine-"))
        self.log = PartitionLog.open(self.root, self.config)
        self.model = Model()
        self.epoch = 0

    def teardown(self):
        self.log.delete()

    def _floor(self) -> int:
        # The model's end, unless the last segment was emptied (by truncation or deletion):
        # an empty segment's base offset is where its next batch goes, gaps being legal.
        return max(self.model.end, self.log.segment_base_offsets[-1])

    @rule(count=st.integers(1, 5), size=st.integers(0, 120), bump=st.booleans())
    def append_leader(self, count, size, bump):
        self.epoch += bump
        batch = make_batch(count, value=b"L" * size)
        base, last = self.log.append_as_leader(batch, self.epoch)
        assert base == self._floor()
        assert last == base + count - 1
        self.model.batches.append(patch_for_append(batch, base, self.epoch))

    @rule(count=st.integers(1, 3), gap=st.integers(0, 3), bump=st.booleans())
    def append_follower(self, count, gap, bump):
        self.epoch += bump
        start = self._floor() + gap
        batch = make_batch(count, base_offset=start, partition_leader_epoch=self.epoch)
        self.log.append_as_follower(batch + batch[:20])
        self.model.batches.append(batch)

    @precondition(lambda self: self.model.batches)
    @rule(data=st.data())
    def truncate(self, data):
        offset = data.draw(st.integers(self.model.log_start, self._floor()))
        self.log.truncate_to(offset)
        self.model.batches = [b for b in self.model.batches if parse_header(b).last_offset < offset]
        self.model.log_start = min(self.model.log_start, self._floor())
        # No epoch starts past the truncated end (one may start right at it when the log
        # start was moved there, as in Kafka).
        assert all(e.start_offset <= self._floor() for e in self.log.epoch_entries)

    @rule(data=st.data())
    def delete_records(self, data):
        end = self._floor()
        offset = data.draw(st.integers(self.model.log_start, end))
        assert self.log.delete_records_before(offset) == max(offset, self.model.log_start)
        self.model.log_start = max(offset, self.model.log_start)

    @rule(clean=st.booleans())
    def reopen(self, clean):
        if clean:
            self.log.close()
        else:
            crash(self.log)
        self.log = PartitionLog.open(self.root, self.config)

    @rule(data=st.data())
    def read(self, data):
        end = self._floor()
        offset = data.draw(st.integers(self.model.log_start, end), label="offset")
        max_bytes = data.draw(st.integers(0, 1500), label="max_bytes")
        max_offset = data.draw(st.none() | st.integers(offset, end + 1), label="max_offset")
        got = self.log.read(offset, max_bytes, max_offset)
        live = [b for b in self.model.batches if parse_header(b).last_offset >= offset]
        if (
            not live
            or (max_offset is not None and offset >= max_offset)
            or (max_offset is not None and parse_header(live[0]).base_offset >= max_offset)
        ):
            assert got == b""
            return
        assert got.startswith(live[0])
        taken = 1
        while taken < len(live) and len(got) > sum(len(b) for b in live[:taken]):
            taken += 1
        assert got == b"".join(live[:taken])
        assert len(got) <= max(max_bytes, len(live[0]))
        if max_offset is not None:
            assert all(parse_header(b).base_offset < max_offset for b in live[:taken])
        if taken < len(live):
            nxt = live[taken]
            fits = len(got) + len(nxt) <= max_bytes
            below = max_offset is None or parse_header(nxt).base_offset < max_offset
            if fits and below:
                # The only other reason to stop: the next batch is in another segment.
                previous = parse_header(live[taken - 1]).last_offset
                nxt_base = parse_header(nxt).base_offset
                assert any(previous < b <= nxt_base for b in self.log.segment_base_offsets)

    @rule()
    def out_of_range(self):
        with pytest.raises(OffsetOutOfRange):
            self.log.read(self._floor() + 1, 100)
        if self.model.log_start > 0:
            with pytest.raises(OffsetOutOfRange):
                self.log.read(self.model.log_start - 1, 100)

    @invariant()
    def offsets_agree(self):
        assert self.log.log_end_offset == self._floor()
        assert self.log.log_start_offset == self.model.log_start
        if self.log.latest_epoch >= 0:
            assert self.log.end_offset_for_epoch(self.log.latest_epoch) == (
                self.log.latest_epoch,
                self.log.log_end_offset,
            )


LogMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_log_matches_model = LogMachine.TestCase

"""Pure functions over Kafka record batches, format v2 (magic 2).

A record batch on the wire and on disk is a 61-byte header followed by the records section
(possibly compressed as a whole)::

    offset  size  field
         0     8  base_offset             \\ rewritten by the leader on append;
         8     4  batch_length             | bytes 0..21 are outside the CRC
        12     4  partition_leader_epoch   |
        16     1  magic (2)                |
        17     4  crc (CRC-32C of [21:])  /
        21     2  attributes
        23     4  last_offset_delta
        27     8  base_timestamp
        35     8  max_timestamp
        43     8  producer_id
        51     2  producer_epoch
        53     4  base_sequence
        57     4  record_count
        61     -  records

The broker's hot path only ever touches the header (`parse_header`, `validate_batch`,
`patch_for_append`, `iter_batches`); `decode_records` and `encode_batch` exist for tools, tests,
compaction and control batches.
"""

from __future__ import annotations

import enum
import struct
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import ClassVar

import cramjam
import crc32c

__all__ = [
    "BATCH_HEADER_SIZE",
    "LOG_OVERHEAD",
    "MIN_BATCH_LENGTH",
    "BatchError",
    "BatchHeader",
    "Compression",
    "CorruptBatch",
    "InvalidBatch",
    "Record",
    "RecordsError",
    "TimestampType",
    "decode_records",
    "encode_batch",
    "encode_control_batch",
    "iter_batches",
    "parse_header",
    "patch_for_append",
    "validate_batch",
]

Buffer = bytes | bytearray | memoryview

BATCH_HEADER_SIZE = 61
# base_offset + batch_length: the bytes that batch_length does not count.
LOG_OVERHEAD = 12
# The smallest legal batch_length: a header with an empty records section.
MIN_BATCH_LENGTH = BATCH_HEADER_SIZE - LOG_OVERHEAD
CRC_START = 21

NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
NO_SEQUENCE = -1
NO_PARTITION_LEADER_EPOCH = -1

_HEADER = struct.Struct(">qiibIhiqqqhii")
_BASE_OFFSET = struct.Struct(">q")
_EPOCH = struct.Struct(">i")
_OFFSET_LENGTH_EPOCH = struct.Struct(">qii")
_INT16 = struct.Struct(">h")
_CONTROL_VALUE = struct.Struct(">hi")
_XERIAL_BLOCK_LEN = struct.Struct(">i")

_CODEC_MASK = 0x07
_TIMESTAMP_TYPE_BIT = 0x08
_TRANSACTIONAL_BIT = 0x10
_CONTROL_BIT = 0x20
_DELETE_HORIZON_BIT = 0x40

# Java clients compress snappy through xerial's SnappyOutputStream, which frames raw snappy
# blocks behind this 8-byte magic plus two int32 versions.
_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = _XERIAL_MAGIC + struct.pack(">ii", 1, 1)
_XERIAL_BLOCK_SIZE = 32 * 1024


class Compression(enum.IntEnum):
    """Compression codec ids as stored in the low three attribute bits."""

    NONE = 0
    GZIP = 1
    SNAPPY = 2
    LZ4 = 3
    ZSTD = 4


class TimestampType(enum.IntEnum):
    """Attribute bit 3: who assigned the record timestamps."""

    CREATE_TIME = 0
    LOG_APPEND_TIME = 1


class RecordsError(ValueError):
    """Raised when batch bytes cannot be decoded (malformed records section, bad codec)."""


class BatchError(str):
    """Why a batch was rejected: a plain reason string that also names the Kafka error.

    >>> err = validate_batch(b"short")
    >>> err.error_name, str(err)[:20]
    ('CORRUPT_MESSAGE', 'batch is 5 bytes, sh')
    """

    __slots__ = ()
    error_name: ClassVar[str] = "UNKNOWN_SERVER_ERROR"


class CorruptBatch(BatchError):
    """The bytes are damaged: truncated, inconsistent length, CRC mismatch."""

    __slots__ = ()
    error_name: ClassVar[str] = "CORRUPT_MESSAGE"


class InvalidBatch(BatchError):
    """The bytes are intact but break a format rule (magic, counts, codec)."""

    __slots__ = ()
    error_name: ClassVar[str] = "INVALID_RECORD"


@dataclass(frozen=True, slots=True)
class BatchHeader:
    """The 61-byte header of a v2 record batch.

    >>> h = parse_header(encode_batch([(b"k", b"v")], base_offset=7, timestamp=1000))
    >>> (h.base_offset, h.record_count, h.last_offset, h.size)
    (7, 1, 7, 70)
    """

    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int

    @property
    def size(self) -> int:
        """Total bytes of the batch including base_offset and batch_length."""
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression(self) -> Compression:
        """The codec; raises ValueError for the unassigned ids 5..7."""
        return Compression(self.attributes & _CODEC_MASK)

    @property
    def timestamp_type(self) -> TimestampType:
        return TimestampType(1 if self.attributes & _TIMESTAMP_TYPE_BIT else 0)

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & _TRANSACTIONAL_BIT)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & _CONTROL_BIT)

    @property
    def has_delete_horizon(self) -> bool:
        return bool(self.attributes & _DELETE_HORIZON_BIT)


@dataclass(frozen=True, slots=True)
class Record:
    """One decoded record. `headers` keeps wire order; header keys are UTF-8 strings."""

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


def parse_header(buf: Buffer, position: int = 0) -> BatchHeader:
    """Parse the batch header starting at `position` (no validation beyond size).

    >>> parse_header(encode_batch([(None, b"x")], timestamp=5)).magic
    2
    """
    if len(buf) - position < BATCH_HEADER_SIZE:
        raise RecordsError(
            f"need {BATCH_HEADER_SIZE} bytes for a batch header, have {len(buf) - position}"
        )
    return BatchHeader(*_HEADER.unpack_from(buf, position))


def iter_batches(buf: Buffer) -> Iterator[tuple[int, BatchHeader]]:
    """Yield `(position, header)` for each complete batch in concatenated batch bytes.

    Stops at a partial trailing batch (as fetch responses end) and also at a header whose
    batch_length is impossibly small, since nothing after it can be framed.

    >>> data = encode_batch([(b"a", b"1")]) + encode_batch([(b"b", b"2")], base_offset=1)
    >>> [(pos, h.base_offset) for pos, h in iter_batches(data + data[:30])]
    [(0, 0), (70, 1)]
    """
    pos = 0
    end = len(buf)
    unpack_from = _HEADER.unpack_from
    while end - pos >= BATCH_HEADER_SIZE:
        header = BatchHeader(*unpack_from(buf, pos))
        if header.batch_length < MIN_BATCH_LENGTH:
            return
        size = header.batch_length + LOG_OVERHEAD
        if end - pos < size:
            return
        yield pos, header
        pos += size


def validate_batch(buf: Buffer, *, from_client: bool = True) -> BatchError | None:
    """Check that `buf` holds exactly one intact v2 batch; return why not, or None.

    The result is a `BatchError` (a str) whose `error_name` is the Kafka error a produce
    handler should answer with: CORRUPT_MESSAGE for damaged bytes, INVALID_RECORD for rule
    violations. `from_client` adds Kafka's rules for producer-written batches: no control
    batches, and a batch with a producer id must carry a sequence number.

    >>> good = encode_batch([(b"k", b"v")])
    >>> validate_batch(good) is None
    True
    >>> bad = bytearray(good); bad[-1] ^= 1
    >>> validate_batch(bad).error_name
    'CORRUPT_MESSAGE'
    """
    size = len(buf)
    if size < BATCH_HEADER_SIZE:
        return CorruptBatch(
            f"batch is {size} bytes, shorter than the {BATCH_HEADER_SIZE}-byte v2 header"
        )
    h = BatchHeader(*_HEADER.unpack_from(buf, 0))
    if h.magic != 2:
        return InvalidBatch(f"magic is {h.magic}; only record batch format v2 (magic 2) is valid")
    if h.batch_length < MIN_BATCH_LENGTH:
        return CorruptBatch(f"batch_length {h.batch_length} < minimum {MIN_BATCH_LENGTH}")
    expected = h.batch_length + LOG_OVERHEAD
    if expected > size:
        return CorruptBatch(
            f"batch_length {h.batch_length} implies {expected} bytes but only {size} are present"
        )
    if expected < size:
        # Kafka requires exactly one batch per partition in a v3+ produce request.
        return InvalidBatch(
            f"{size - expected} bytes follow the batch; exactly one record batch is allowed"
        )
    actual_crc = crc32c.crc32c(memoryview(buf)[CRC_START:])
    if actual_crc != h.crc:
        return CorruptBatch(
            f"CRC-32C mismatch: header says {h.crc:#010x}, computed {actual_crc:#010x}"
        )
    codec = h.attributes & _CODEC_MASK
    if codec > Compression.ZSTD:
        return InvalidBatch(f"unknown compression codec id {codec}")
    if h.record_count <= 0:
        return InvalidBatch(f"record_count is {h.record_count}; a batch must hold records")
    if h.last_offset_delta != h.record_count - 1:
        return InvalidBatch(
            f"last_offset_delta {h.last_offset_delta} does not match record_count "
            f"{h.record_count} (expected {h.record_count - 1})"
        )
    if from_client:
        if h.attributes & _CONTROL_BIT:
            return InvalidBatch("clients may not write control batches")
        if h.producer_id >= 0 and h.base_sequence < 0:
            return InvalidBatch(
                f"producer id {h.producer_id} is set but base_sequence is {h.base_sequence}"
            )
    return None


def patch_for_append(batch: Buffer, base_offset: int, leader_epoch: int) -> bytes:
    """Return a copy of `batch` with its base offset and partition leader epoch replaced.

    Both fields precede the CRC'd region, so the CRC remains valid.

    >>> b = patch_for_append(encode_batch([(b"k", b"v")]), 42, 3)
    >>> h = parse_header(b); (h.base_offset, h.partition_leader_epoch, validate_batch(b))
    (42, 3, None)
    """
    view = memoryview(batch)
    prefix = _OFFSET_LENGTH_EPOCH.pack(base_offset, _EPOCH.unpack_from(view, 8)[0], leader_epoch)
    return b"".join((prefix, view[16:]))


# ---------------------------------------------------------------------------------------------
# varints


def _zigzag(value: int) -> int:
    # Python ints are unbounded, so an arithmetic shift by 63 is the sign for both the int32
    # varints and the int64 varlongs that Kafka uses.
    return (value << 1) ^ (value >> 63)


def _write_varint(out: bytearray, value: int) -> None:
    z = _zigzag(value)
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)


def _read_varint(buf: Buffer, pos: int, max_bytes: int = 10) -> tuple[int, int]:
    result = 0
    shift = 0
    end = min(len(buf), pos + max_bytes)
    while pos < end:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
    raise RecordsError(f"varint at byte {pos} is truncated or longer than {max_bytes} bytes")


def _read_bytes(buf: Buffer, pos: int) -> tuple[bytes | None, int]:
    length, pos = _read_varint(buf, pos, 5)
    if length < 0:
        return None, pos
    end = pos + length
    if end > len(buf):
        raise RecordsError(f"field of {length} bytes at byte {pos} runs past the records section")
    return bytes(buf[pos:end]), end


# ---------------------------------------------------------------------------------------------
# compression


def _xerial_decompress(data: bytes) -> bytes:
    pos = len(_XERIAL_HEADER)
    out = bytearray()
    while pos < len(data):
        if pos + 4 > len(data):
            raise RecordsError("xerial snappy stream ends inside a block length")
        (n,) = _XERIAL_BLOCK_LEN.unpack_from(data, pos)
        pos += 4
        if n < 0 or pos + n > len(data):
            raise RecordsError(f"xerial snappy block of {n} bytes runs past the stream")
        out += cramjam.snappy.decompress_raw(data[pos : pos + n])
        pos += n
    return bytes(out)


def _xerial_compress(data: bytes) -> bytes:
    parts = [_XERIAL_HEADER]
    for start in range(0, len(data), _XERIAL_BLOCK_SIZE):
        block = bytes(cramjam.snappy.compress_raw(data[start : start + _XERIAL_BLOCK_SIZE]))
        parts.append(_XERIAL_BLOCK_LEN.pack(len(block)))
        parts.append(block)
    return b"".join(parts)


def _decompress(codec: int, data: bytes) -> bytes:
    try:
        if codec == Compression.GZIP:
            return bytes(cramjam.gzip.decompress(data))
        if codec == Compression.SNAPPY:
            if data.startswith(_XERIAL_MAGIC) and len(data) >= len(_XERIAL_HEADER):
                return _xerial_decompress(data)
            # librdkafka and some Python clients write one raw snappy block instead.
            return bytes(cramjam.snappy.decompress_raw(data))
        if codec == Compression.LZ4:
            return bytes(cramjam.lz4.decompress(data))
        if codec == Compression.ZSTD:
            return bytes(cramjam.zstd.decompress(data))
    except cramjam.DecompressionError as exc:
        raise RecordsError(f"cannot decompress {Compression(codec).name} records: {exc}") from exc
    raise RecordsError(f"unknown compression codec id {codec}")


def _compress(codec: Compression, data: bytes) -> bytes:
    if codec == Compression.GZIP:
        return bytes(cramjam.gzip.compress(data))
    if codec == Compression.SNAPPY:
        return _xerial_compress(data)
    if codec == Compression.LZ4:
        return bytes(cramjam.lz4.compress(data))
    if codec == Compression.ZSTD:
        return bytes(cramjam.zstd.compress(data))
    return data


# ---------------------------------------------------------------------------------------------
# decode / encode


def decode_records(batch: Buffer) -> list[Record]:
    """Decode every record of one batch (decompressing if needed). Not for the hot path.

    >>> [r.value for r in decode_records(encode_batch([(b"k", b"v1"), (None, b"v2")]))]
    [b'v1', b'v2']
    """
    h = parse_header(batch)
    end = h.batch_length + LOG_OVERHEAD
    if end > len(batch) or h.batch_length < MIN_BATCH_LENGTH:
        raise RecordsError(f"batch_length {h.batch_length} does not fit {len(batch)} bytes")
    section = bytes(memoryview(batch)[BATCH_HEADER_SIZE:end])
    codec = h.attributes & _CODEC_MASK
    if codec != Compression.NONE:
        section = _decompress(codec, section)
    log_append = bool(h.attributes & _TIMESTAMP_TYPE_BIT)
    records: list[Record] = []
    pos = 0
    for _ in range(h.record_count):
        length, pos = _read_varint(section, pos, 5)
        body_end = pos + length
        if length < 0 or body_end > len(section):
            raise RecordsError(f"record of {length} bytes at byte {pos} runs past the batch")
        pos += 1  # record attributes: unused by every Kafka version so far
        ts_delta, pos = _read_varint(section, pos)
        offset_delta, pos = _read_varint(section, pos, 5)
        key, pos = _read_bytes(section, pos)
        value, pos = _read_bytes(section, pos)
        n_headers, pos = _read_varint(section, pos, 5)
        if n_headers < 0:
            raise RecordsError(f"negative header count {n_headers}")
        headers: list[tuple[str, bytes | None]] = []
        for _ in range(n_headers):
            hkey, pos = _read_bytes(section, pos)
            if hkey is None:
                raise RecordsError("record header key is null")
            hvalue, pos = _read_bytes(section, pos)
            headers.append((hkey.decode("utf-8"), hvalue))
        if pos != body_end:
            raise RecordsError(f"record declares {length} bytes but its fields end elsewhere")
        # With LOG_APPEND_TIME the broker's time is max_timestamp and the deltas are stale.
        timestamp = h.max_timestamp if log_append else h.base_timestamp + ts_delta
        records.append(Record(h.base_offset + offset_delta, timestamp, key, value, tuple(headers)))
    if pos != len(section):
        raise RecordsError(f"{len(section) - pos} bytes left after {h.record_count} records")
    return records


RecordInput = (
    Record
    | tuple[bytes | None, bytes | None]
    | tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes | None]]]
)


def _encode_record(
    out: bytearray,
    offset_delta: int,
    timestamp_delta: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]],
) -> None:
    body = bytearray(b"\x00")  # attributes
    _write_varint(body, timestamp_delta)
    _write_varint(body, offset_delta)
    for field in (key, value):
        if field is None:
            _write_varint(body, -1)
        else:
            _write_varint(body, len(field))
            body += field
    _write_varint(body, len(headers))
    for hkey, hvalue in headers:
        raw_key = hkey.encode("utf-8")
        _write_varint(body, len(raw_key))
        body += raw_key
        if hvalue is None:
            _write_varint(body, -1)
        else:
            _write_varint(body, len(hvalue))
            body += hvalue
    _write_varint(out, len(body))
    out += body


def encode_batch(
    records: Iterable[RecordInput],
    *,
    base_offset: int = 0,
    compression: Compression | int | str | None = None,
    timestamp: int | None = None,
    timestamp_type: TimestampType = TimestampType.CREATE_TIME,
    partition_leader_epoch: int = NO_PARTITION_LEADER_EPOCH,
    producer_id: int = NO_PRODUCER_ID,
    producer_epoch: int = NO_PRODUCER_EPOCH,
    base_sequence: int = NO_SEQUENCE,
    is_transactional: bool = False,
    is_control: bool = False,
    keep_offsets: bool = False,
) -> bytes:
    """Build one valid v2 batch.

    `records` items are `(key, value)`, `(key, value, headers)` or `Record`. Tuples take
    `timestamp` (default: now, in ms); a `Record` keeps its own timestamp when >= 0. Offsets
    are consecutive from `base_offset` unless `keep_offsets` is set, in which case every item
    must be a `Record` whose offset is used as is (compaction keeps gaps).

    >>> b = encode_batch([(b"k", b"v", [("h", b"1")])], compression="zstd", timestamp=9)
    >>> decode_records(b)[0]
    Record(offset=0, timestamp=9, key=b'k', value=b'v', headers=(('h', b'1'),))
    """
    if compression is None:
        codec = Compression.NONE
    elif isinstance(compression, str):
        codec = Compression[compression.upper()]
    else:
        codec = Compression(compression)
    default_ts = int(time.time() * 1000) if timestamp is None else timestamp

    # Normalise to (offset_delta, timestamp, key, value, headers) before picking base_timestamp.
    rows: list[tuple[int, int, bytes | None, bytes | None, Sequence[tuple[str, bytes | None]]]]
    rows = []
    for index, item in enumerate(records):
        if isinstance(item, Record):
            ts = item.timestamp if item.timestamp >= 0 else default_ts
            delta = item.offset - base_offset if keep_offsets else index
            rows.append((delta, ts, item.key, item.value, item.headers))
        elif keep_offsets:
            raise TypeError("keep_offsets=True needs Record items carrying offsets")
        else:
            key, value, *rest = item
            rows.append((index, default_ts, key, value, rest[0] if rest else ()))
    if not rows:
        raise ValueError("a record batch needs at least one record")
    deltas = [row[0] for row in rows]
    if deltas[0] < 0 or any(b <= a for a, b in pairwise(deltas)):
        raise ValueError(f"offset deltas must be increasing from >= 0, got {deltas}")

    base_ts = min(row[1] for row in rows)
    max_ts = max(row[1] for row in rows)
    if timestamp_type == TimestampType.LOG_APPEND_TIME:
        max_ts = default_ts
    section = bytearray()
    for delta, ts, key, value, headers in rows:
        _encode_record(section, delta, ts - base_ts, key, value, headers)
    payload = _compress(codec, bytes(section))

    attributes = int(codec)
    if timestamp_type == TimestampType.LOG_APPEND_TIME:
        attributes |= _TIMESTAMP_TYPE_BIT
    if is_transactional:
        attributes |= _TRANSACTIONAL_BIT
    if is_control:
        attributes |= _CONTROL_BIT
    batch = bytearray(BATCH_HEADER_SIZE)
    batch += payload
    _HEADER.pack_into(
        batch,
        0,
        base_offset,
        len(batch) - LOG_OVERHEAD,
        partition_leader_epoch,
        2,
        0,  # CRC placeholder, filled in below once the rest is final
        attributes,
        deltas[-1],
        base_ts,
        max_ts,
        producer_id,
        producer_epoch,
        base_sequence,
        len(rows),
    )
    struct.pack_into(">I", batch, 17, crc32c.crc32c(memoryview(batch)[CRC_START:]))
    return bytes(batch)


def encode_control_batch(
    commit: bool,
    *,
    producer_id: int,
    producer_epoch: int,
    coordinator_epoch: int,
    base_offset: int = 0,
    timestamp: int | None = None,
) -> bytes:
    """Build a transaction marker: a control batch with one COMMIT (1) or ABORT (0) record.

    >>> b = encode_control_batch(True, producer_id=5, producer_epoch=0, coordinator_epoch=2)
    >>> h = parse_header(b); (h.is_control, h.is_transactional, decode_records(b)[0].key)
    (True, True, b'\\x00\\x00\\x00\\x01')
    """
    key = _INT16.pack(0) + _INT16.pack(1 if commit else 0)
    value = _CONTROL_VALUE.pack(0, coordinator_epoch)
    return encode_batch(
        [(key, value)],
        base_offset=base_offset,
        timestamp=timestamp,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        is_transactional=True,
        is_control=True,
    )

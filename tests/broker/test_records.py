"""Record batch v2 helpers: framing, validation, patching, codecs, client interop."""

from __future__ import annotations

import struct

import cramjam
import crc32c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafkabook.broker import records as R
from kafkabook.broker.records import (
    BATCH_HEADER_SIZE,
    Compression,
    Record,
    RecordsError,
    TimestampType,
    decode_records,
    encode_batch,
    encode_control_batch,
    iter_batches,
    parse_header,
    patch_for_append,
    validate_batch,
)

CODECS = list(Compression)

optional_bytes = st.none() | st.binary(max_size=64)
headers_st = st.lists(st.tuples(st.text(max_size=8), optional_bytes), max_size=3)
record_tuples = st.lists(
    st.tuples(optional_bytes, optional_bytes, headers_st), min_size=1, max_size=8
)
timestamps = st.integers(min_value=0, max_value=2**41)


def _recrc(buf: bytearray) -> bytes:
    """Recompute the CRC after a test edits bytes inside the CRC'd region."""
    struct.pack_into(">I", buf, 17, crc32c.crc32c(bytes(buf[21:])))
    return bytes(buf)


def _with_section(batch: bytes, section: bytes, codec: int) -> bytes:
    """Replace a batch's records section (and codec bits), fixing length and CRC."""
    buf = bytearray(batch[:BATCH_HEADER_SIZE]) + section
    struct.pack_into(">i", buf, 8, len(buf) - 12)
    attributes = struct.unpack_from(">h", buf, 21)[0]
    struct.pack_into(">h", buf, 21, (attributes & ~0x07) | codec)
    return _recrc(buf)


# -- encode / decode ------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(rows=record_tuples, codec=st.sampled_from(CODECS), ts=timestamps, base=st.integers(0, 2**40))
def test_encode_decode_round_trip(rows, codec, ts, base):
    batch = encode_batch(rows, base_offset=base, compression=codec, timestamp=ts)
    assert validate_batch(batch) is None
    h = parse_header(batch)
    assert (h.base_offset, h.record_count, h.last_offset_delta) == (base, len(rows), len(rows) - 1)
    assert (h.magic, h.compression, h.size) == (2, codec, len(batch))
    assert (h.base_timestamp, h.max_timestamp) == (ts, ts)
    assert not (h.is_control or h.is_transactional)
    decoded = decode_records(batch)
    expected = [
        Record(base + i, ts, key, value, tuple(hs)) for i, (key, value, hs) in enumerate(rows)
    ]
    assert decoded == expected


@given(
    stamps=st.lists(timestamps, min_size=1, max_size=10),
    codec=st.sampled_from(CODECS),
)
def test_per_record_timestamps_and_header_bounds(stamps, codec):
    items = [Record(-1, ts, b"k", b"v") for ts in stamps]
    batch = encode_batch(items, compression=codec)
    h = parse_header(batch)
    assert (h.base_timestamp, h.max_timestamp) == (min(stamps), max(stamps))
    assert [r.timestamp for r in decode_records(batch)] == stamps


def test_log_append_time_overrides_record_timestamps():
    items = [Record(-1, 5, None, b"a"), Record(-1, 9, None, b"b")]
    batch = encode_batch(items, timestamp=1000, timestamp_type=TimestampType.LOG_APPEND_TIME)
    h = parse_header(batch)
    assert h.timestamp_type is TimestampType.LOG_APPEND_TIME
    assert h.max_timestamp == 1000
    assert [r.timestamp for r in decode_records(batch)] == [1000, 1000]


def test_keep_offsets_preserves_gaps_and_last_offset_delta():
    kept = [Record(100, 1, b"a", b"1"), Record(103, 2, b"b", None), Record(107, 3, None, b"3")]
    batch = encode_batch(kept, base_offset=100, keep_offsets=True)
    h = parse_header(batch)
    assert (h.record_count, h.last_offset_delta) == (3, 7)
    assert decode_records(batch) == kept
    # A compacted batch no longer satisfies the produce-time rule count == delta + 1.
    assert validate_batch(batch).error_name == "INVALID_RECORD"
    with pytest.raises(TypeError):
        encode_batch([(b"k", b"v")], keep_offsets=True)
    with pytest.raises(ValueError):
        encode_batch([Record(5, 1, None, None), Record(5, 1, None, None)], keep_offsets=True)


def test_encode_options_set_header_fields():
    batch = encode_batch(
        [(b"k", b"v")],
        compression="gzip",
        producer_id=77,
        producer_epoch=3,
        base_sequence=12,
        partition_leader_epoch=9,
        is_transactional=True,
        timestamp=1,
    )
    h = parse_header(batch)
    assert (h.producer_id, h.producer_epoch, h.base_sequence) == (77, 3, 12)
    assert h.partition_leader_epoch == 9
    assert h.is_transactional and not h.is_control
    assert h.compression is Compression.GZIP
    with pytest.raises(ValueError):
        encode_batch([])


def test_control_batch():
    batch = encode_control_batch(
        False, producer_id=4, producer_epoch=1, coordinator_epoch=7, base_offset=30, timestamp=2
    )
    assert validate_batch(batch, from_client=False) is None
    assert "control" in validate_batch(batch)  # producers may not write markers
    h = parse_header(batch)
    assert h.is_control and h.is_transactional and h.producer_id == 4
    (record,) = decode_records(batch)
    assert record.offset == 30
    assert struct.unpack(">hh", record.key) == (0, 0)  # version 0, ABORT
    assert struct.unpack(">hi", record.value) == (0, 7)


@given(value=st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_varint_round_trip(value):
    out = bytearray()
    R._write_varint(out, value)
    assert len(out) <= 10
    assert R._read_varint(bytes(out), 0) == (value, len(out))


def test_varint_known_encodings():
    # Zigzag: 0->0, -1->1, 1->2, -64->127, 64->128 (two bytes).
    for value, encoded in [
        (0, b"\x00"),
        (-1, b"\x01"),
        (1, b"\x02"),
        (-64, b"\x7f"),
        (64, b"\x80\x01"),
    ]:
        out = bytearray()
        R._write_varint(out, value)
        assert bytes(out) == encoded
    with pytest.raises(RecordsError):
        R._read_varint(b"\x80\x80", 0)


def test_snappy_raw_and_xerial_both_decode():
    plain = encode_batch([(b"key", b"value" * 50, [("h", b"1")])] * 20, timestamp=3)
    section = plain[BATCH_HEADER_SIZE:]
    raw = _with_section(plain, bytes(cramjam.snappy.compress_raw(section)), 2)
    xerial = encode_batch(
        [(b"key", b"value" * 50, [("h", b"1")])] * 20, compression="snappy", timestamp=3
    )
    assert xerial[BATCH_HEADER_SIZE:].startswith(b"\x82SNAPPY\x00")
    for batch in (raw, xerial):
        assert validate_batch(batch) is None
        assert decode_records(batch) == decode_records(plain)


def test_xerial_multi_block():
    value = bytes(range(256)) * 300  # > 32 KiB uncompressed, so several xerial blocks
    batch = encode_batch([(None, value)], compression=Compression.SNAPPY, timestamp=0)
    assert decode_records(batch)[0].value == value


def test_decode_rejects_malformed_sections():
    plain = encode_batch([(b"k", b"v")] * 3, timestamp=0)
    section = plain[BATCH_HEADER_SIZE:]
    with pytest.raises(RecordsError):
        decode_records(_with_section(plain, section[:-2], 0))
    with pytest.raises(RecordsError):
        decode_records(_with_section(plain, section + b"\x00", 0))
    with pytest.raises(RecordsError):
        decode_records(_with_section(plain, b"not gzip at all", 1))
    with pytest.raises(RecordsError):
        decode_records(plain[:40])


# -- framing ------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 5), min_size=1, max_size=6),
    codec=st.sampled_from(CODECS),
    data=st.data(),
)
def test_iter_batches_yields_whole_batches_only(sizes, codec, data):
    batches = []
    offset = 0
    for n in sizes:
        batches.append(encode_batch([(b"k", b"v" * n)] * n, base_offset=offset, compression=codec))
        offset += n
    blob = b"".join(batches)
    cut = data.draw(st.integers(0, len(blob)))
    got = list(iter_batches(blob[:cut]))
    # Exactly the batches that fit entirely before the cut, at their positions.
    expected, pos = [], 0
    for b in batches:
        if pos + len(b) > cut:
            break
        expected.append((pos, parse_header(b)))
        pos += len(b)
    assert got == expected


def test_iter_batches_stops_at_impossible_length():
    good = encode_batch([(b"k", b"v")], timestamp=0)
    bad = bytearray(good)
    struct.pack_into(">i", bad, 8, 10)
    assert [p for p, _ in iter_batches(good + bytes(bad) + good)] == [0]


# -- validation ---------------------------------------------------------------------------


def _batch() -> bytes:
    return encode_batch([(b"k", b"v"), (None, b"w")], timestamp=123)


def test_validate_accepts_valid_batch_for_every_codec():
    for codec in CODECS:
        assert validate_batch(encode_batch([(b"k", b"v")] * 4, compression=codec)) is None


@given(data=st.data())
def test_validate_detects_any_byte_flip_in_crc_region(data):
    batch = bytearray(_batch())
    i = data.draw(st.integers(21, len(batch) - 1))
    batch[i] ^= data.draw(st.integers(1, 255))
    err = validate_batch(bytes(batch))
    assert err is not None and err.error_name == "CORRUPT_MESSAGE"
    assert "CRC" in err


@pytest.mark.parametrize(
    ("mutate", "error_name", "fragment"),
    [
        (lambda b: b[:60], "CORRUPT_MESSAGE", "shorter than"),
        (lambda b: b[:-1], "CORRUPT_MESSAGE", "only"),
        (lambda b: b + b, "INVALID_RECORD", "exactly one"),
        (lambda b: b[:16] + b"\x01" + b[17:], "INVALID_RECORD", "magic"),
        (lambda b: b[:8] + struct.pack(">i", 20) + b[12:], "CORRUPT_MESSAGE", "minimum"),
        (
            lambda b: _recrc(bytearray(b[:57]) + struct.pack(">i", 0) + b[61:]),
            "INVALID_RECORD",
            "record_count",
        ),
        (
            lambda b: _recrc(bytearray(b[:23]) + struct.pack(">i", 5) + b[27:]),
            "INVALID_RECORD",
            "last_offset_delta",
        ),
        (
            lambda b: _recrc(bytearray(b[:21]) + struct.pack(">h", 5) + b[23:]),
            "INVALID_RECORD",
            "codec",
        ),
    ],
)
def test_validate_reasons(mutate, error_name, fragment):
    err = validate_batch(mutate(_batch()))
    assert err is not None
    assert err.error_name == error_name
    assert fragment in err
    assert isinstance(err, str)


@given(base=st.integers(0, 2**62), epoch=st.integers(-1, 2**31 - 1))
def test_patch_for_append_keeps_crc_valid(base, epoch):
    original = _batch()
    for buf in (original, bytearray(original), memoryview(original)):
        patched = patch_for_append(buf, base, epoch)
        assert isinstance(patched, bytes)
        assert validate_batch(patched) is None
        h = parse_header(patched)
        assert (h.base_offset, h.partition_leader_epoch) == (base, epoch)
        assert patched[8:12] == original[8:12] and patched[16:] == original[16:]
        assert [r.offset for r in decode_records(patched)] == [base, base + 1]


def test_client_rule_producer_id_needs_sequence():
    unsequenced = encode_batch([(b"k", b"v")], producer_id=9, producer_epoch=0)
    err = validate_batch(unsequenced)
    assert err is not None and err.error_name == "INVALID_RECORD" and "sequence" in err
    assert validate_batch(unsequenced, from_client=False) is None
    sequenced = encode_batch([(b"k", b"v")], producer_id=9, producer_epoch=0, base_sequence=0)
    assert validate_batch(sequenced) is None


def test_header_properties():
    h = parse_header(encode_batch([(b"k", b"v")] * 3, base_offset=10, compression="lz4"))
    assert (h.last_offset, h.next_offset) == (12, 13)
    assert h.compression is Compression.LZ4
    assert h.timestamp_type is TimestampType.CREATE_TIME
    assert not h.has_delete_horizon
    with pytest.raises(RecordsError):
        parse_header(b"\x00" * 60)


# -- real client libraries ----------------------------------------------------------------


def _client_batch(module: str, codec: int) -> tuple[bytes, list[tuple[bytes, bytes, list]]]:
    if module == "aiokafka":
        from aiokafka.record.default_records import DefaultRecordBatchBuilder
    else:
        from kafka.record.default_records import DefaultRecordBatchBuilder
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=codec,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    rows = [(f"key-{i}".encode(), b"value-%d-" % i * 40, [("trace", b"%d" % i)]) for i in range(7)]
    for i, (key, value, headers) in enumerate(rows):
        builder.append(i, timestamp=1_700_000_000_000 + i, key=key, value=value, headers=headers)
    return bytes(builder.build()), rows


@pytest.mark.parametrize("module", ["aiokafka", "kafka-python"])
@pytest.mark.parametrize("codec", CODECS, ids=[c.name.lower() for c in CODECS])
def test_client_built_batches_validate_and_decode(module, codec):
    batch, rows = _client_batch(module, codec)
    assert validate_batch(batch) is None
    assert parse_header(batch).compression is codec
    decoded = decode_records(batch)
    assert [(r.key, r.value, [(k, v) for k, v in r.headers]) for r in decoded] == rows
    assert [r.offset for r in decoded] == list(range(7))
    assert [r.timestamp for r in decoded] == [1_700_000_000_000 + i for i in range(7)]
    # What the leader does on append must still satisfy the client library's own reader.
    from aiokafka.record.default_records import DefaultRecordBatch

    reader = DefaultRecordBatch(patch_for_append(batch, 500, 2))
    assert reader.validate_crc()
    assert [r.offset for r in reader] == list(range(500, 507))


@pytest.mark.parametrize("codec", CODECS, ids=[c.name.lower() for c in CODECS])
def test_our_batches_read_by_aiokafka(codec):
    from aiokafka.record.default_records import DefaultRecordBatch

    rows = [(b"k%d" % i, b"payload" * i, [("h", b"x"), ("empty", None)]) for i in range(5)]
    batch = encode_batch(rows, compression=codec, base_offset=40, timestamp=99)
    reader = DefaultRecordBatch(batch)
    assert reader.validate_crc()
    got = [(r.offset, r.timestamp, r.key, r.value, list(r.headers)) for r in reader]
    assert got == [(40 + i, 99, k, v, h) for i, (k, v, h) in enumerate(rows)]

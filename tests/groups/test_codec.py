"""The ``__consumer_offsets`` record layouts, byte for byte, and the coordinator partition formula.

Expected bytes are spelled out field by field with ``struct`` from Kafka's message definitions
(OffsetCommitKey, GroupMetadataKey, OffsetCommitValue, GroupMetadataValue), independently of the
codec's own writer; hypothesis then checks that every version round-trips.
"""

from __future__ import annotations

import struct
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kafkabook.broker.groups.assignment import (
    assignment_partitions,
    encode_assignment,
    encode_subscription,
    subscription_topics,
)
from kafkabook.broker.groups.offsets_codec import (
    CodecError,
    GroupMetadataKey,
    GroupMetadataValue,
    MemberMetadata,
    OffsetCommitKey,
    OffsetCommitValue,
    UnknownKey,
    decode_group_value,
    decode_key,
    decode_offset_value,
    encode_key,
    encode_value,
    java_string_hash,
    partition_for,
)


def s16(text: str | None) -> bytes:
    if text is None:
        return struct.pack(">h", -1)
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def b32(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data


def uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def compact(data: bytes | None) -> bytes:
    return b"\x00" if data is None else uvarint(len(data) + 1) + data


MEMBER = MemberMetadata(
    member_id="consumer-1-5e1b",
    group_instance_id="instance-a",
    client_id="consumer-1",
    client_host="/127.0.0.1",
    rebalance_timeout=300000,
    session_timeout=45000,
    subscription=b"\x00\x01sub",
    assignment=b"\x00\x01asg",
)
GROUP = GroupMetadataValue("consumer", 7, "range", "consumer-1-5e1b", 1700000000123, (MEMBER,))


# -- keys -----------------------------------------------------------------------------------------


def test_offset_commit_key_v1_layout():
    key = OffsetCommitKey("my-group", "orders", 3)
    expected = struct.pack(">h", 1) + s16("my-group") + s16("orders") + struct.pack(">i", 3)
    assert encode_key(key) == expected
    assert decode_key(expected) == key


def test_legacy_offset_commit_key_v0_reads_the_same():
    raw = struct.pack(">h", 0) + s16("g") + s16("t") + struct.pack(">i", 9)
    assert decode_key(raw) == OffsetCommitKey("g", "t", 9)


def test_group_metadata_key_v2_layout():
    expected = struct.pack(">h", 2) + s16("my-group")
    assert encode_key(GroupMetadataKey("my-group")) == expected
    assert decode_key(expected) == GroupMetadataKey("my-group")


def test_newer_record_types_are_reported_not_guessed():
    # Version 3 is ConsumerGroupMetadataKey (KIP-848): not a classic group record.
    assert decode_key(struct.pack(">h", 3) + s16("g")) == UnknownKey(3)
    with pytest.raises(CodecError):
        decode_key(struct.pack(">h", 1) + s16("g"))  # truncated


# -- values ---------------------------------------------------------------------------------------


def test_offset_commit_value_v3_layout():
    value = OffsetCommitValue(
        offset=42, metadata="meta", commit_timestamp=1700000000000, leader_epoch=5
    )
    expected = struct.pack(">hqi", 3, 42, 5) + s16("meta") + struct.pack(">q", 1700000000000)
    assert encode_value(value, 3) == expected
    assert decode_offset_value(expected) == value


def test_offset_commit_value_with_expiry_is_v1():
    value = OffsetCommitValue(10, "", 1000, leader_epoch=-1, expire_timestamp=5000)
    expected = struct.pack(">hq", 1, 10) + s16("") + struct.pack(">qq", 1000, 5000)
    assert encode_value(value) == expected
    assert decode_offset_value(expected) == value


def test_offset_commit_value_v0_and_v2_have_no_epoch():
    for version in (0, 2):
        raw = struct.pack(">hq", version, 7) + s16("m") + struct.pack(">q", 99)
        assert decode_offset_value(raw) == OffsetCommitValue(7, "m", 99)
        assert encode_value(OffsetCommitValue(7, "m", 99), version) == raw


def test_offset_commit_value_v4_is_the_default_with_the_topic_id_tagged():
    topic_id = uuid.UUID("ba73df60-4e23-4490-a23b-dfe24df45bb5")
    value = OffsetCommitValue(1, "", 1795715924519, leader_epoch=0, topic_id=topic_id)
    expected = (
        struct.pack(">hqi", 4, 1, 0)
        + compact(b"")
        + struct.pack(">q", 1795715924519)
        + uvarint(1)
        + uvarint(0)
        + uvarint(16)
        + topic_id.bytes
    )
    assert encode_value(value) == expected
    assert decode_offset_value(expected) == value


def test_records_written_by_kafka_4_4_read_back_and_re_encode_byte_for_byte():
    """Bytes a real Kafka 4.4 broker wrote to __consumer_offsets (a librdkafka consumer with
    group.instance.id "inst" and client.id "cid" committed offset 1 of topic "t")."""
    offset_key = bytes.fromhex("00010002673100017400000000")
    offset_value = bytes.fromhex(
        "000400000000000000010000000001000001a219028227010010ba73df604e234490a23bdfe24df45bb5"
    )
    empty_group = bytes.fromhex("0003000000000000ffffffff000001a219027ffb00000000")
    group_key = bytes.fromhex("000200026731")
    group_value = bytes.fromhex(
        "00030008636f6e73756d657200000001000572616e67650029696e73742d32656234656136372d66353031"
        "2d343739652d613438662d376339653437393764663664000001a21902805d000000010029696e73742d32"
        "656234656136372d663530312d343739652d613438662d3763396534373937646636640004696e73740003"
        "636964000a2f3132372e302e302e31000493e00000afc8000000170003000000010001740000000000000000"
        "ffffffff000000000015000000000001000174000000010000000000000000"
    )
    assert decode_key(offset_key) == OffsetCommitKey("g1", "t", 0)
    value = decode_offset_value(offset_value)
    assert (value.offset, value.leader_epoch, value.metadata, value.expire_timestamp) == (
        1,
        0,
        "",
        -1,
    )
    assert value.topic_id == uuid.UUID("ba73df60-4e23-4490-a23b-dfe24df45bb5")
    assert encode_key(decode_key(offset_key)) == offset_key
    assert encode_value(value) == offset_value

    assert decode_key(group_key) == GroupMetadataKey("g1")
    # A new group is recorded at once: generation 0, no protocol type, no members.
    empty = decode_group_value(empty_group)
    assert (empty.protocol_type, empty.generation, empty.protocol, empty.leader, empty.members) == (
        "",
        0,
        None,
        None,
        (),
    )
    assert encode_value(empty) == empty_group
    group = decode_group_value(group_value)
    (member,) = group.members
    assert (group.protocol_type, group.generation, group.protocol) == ("consumer", 1, "range")
    assert group.leader == member.member_id and member.member_id.startswith("inst-")
    assert (member.group_instance_id, member.client_id, member.client_host) == (
        "inst",
        "cid",
        "/127.0.0.1",
    )
    assert (member.rebalance_timeout, member.session_timeout) == (300000, 45000)
    assert encode_value(group) == group_value


def test_offset_commit_value_v4_without_a_topic_id():
    value = OffsetCommitValue(1, "x", 2, leader_epoch=3)
    expected = struct.pack(">hqi", 4, 1, 3) + compact(b"x") + struct.pack(">q", 2) + b"\x00"
    assert encode_value(value, 4) == expected
    assert decode_offset_value(expected) == value
    # An unknown tagged field is skipped.
    tagged = expected[:-1] + uvarint(1) + uvarint(7) + uvarint(2) + b"zz"
    assert decode_offset_value(tagged) == value
    # A zero topic id is Kafka's default value: it is not written either.
    assert encode_value(OffsetCommitValue(1, "x", 2, 3, topic_id=uuid.UUID(int=0)), 4) == expected


def test_group_metadata_value_v3_layout_is_the_default():
    member = (
        s16(MEMBER.member_id)
        + s16(MEMBER.group_instance_id)
        + s16(MEMBER.client_id)
        + s16(MEMBER.client_host)
        + struct.pack(">ii", 300000, 45000)
        + b32(MEMBER.subscription)
        + b32(MEMBER.assignment)
    )
    expected = (
        struct.pack(">h", 3)
        + s16("consumer")
        + struct.pack(">i", 7)
        + s16("range")
        + s16("consumer-1-5e1b")
        + struct.pack(">q", 1700000000123)
        + struct.pack(">i", 1)
        + member
    )
    assert encode_value(GROUP) == expected
    assert decode_group_value(expected) == GROUP


def test_empty_group_metadata_has_null_protocol_and_leader():
    value = GroupMetadataValue("consumer", 3, None, None, 55, ())
    expected = (
        struct.pack(">h", 3)
        + s16("consumer")
        + struct.pack(">i", 3)
        + s16(None)
        + s16(None)
        + struct.pack(">qi", 55, 0)
    )
    assert encode_value(value) == expected
    assert decode_group_value(expected) == value


def test_group_metadata_value_old_versions():
    # v0: no rebalance timeout (read as the field's default, -1), timestamp or instance id.
    member_v0 = s16("m") + s16("c") + s16("/h") + struct.pack(">i", 10000) + b32(b"s") + b32(b"a")
    raw_v0 = (
        struct.pack(">h", 0)
        + s16("consumer")
        + struct.pack(">i", 1)
        + s16("range")
        + s16("m")
        + struct.pack(">i", 1)
        + member_v0
    )
    assert decode_group_value(raw_v0) == GroupMetadataValue(
        "consumer",
        1,
        "range",
        "m",
        -1,
        (MemberMetadata("m", None, "c", "/h", -1, 10000, b"s", b"a"),),
    )
    # v2: rebalance timeout and state timestamp, still no instance id.
    member_v2 = (
        s16("m") + s16("c") + s16("/h") + struct.pack(">ii", 60000, 10000) + b32(b"s") + b32(b"a")
    )
    raw_v2 = (
        struct.pack(">h", 2)
        + s16("consumer")
        + struct.pack(">i", 1)
        + s16("range")
        + s16("m")
        + struct.pack(">qi", 77, 1)
        + member_v2
    )
    decoded = decode_group_value(raw_v2)
    assert decoded.members[0].rebalance_timeout == 60000 and decoded.current_state_timestamp == 77
    assert encode_value(decoded, 2) == raw_v2


def test_group_metadata_value_v4_is_flexible():
    value = GroupMetadataValue(
        "consumer", 2, "range", "m", 9, (MemberMetadata("m", None, "c", "/h", 5, 6, b"s", b"a"),)
    )
    member = (
        compact(b"m")
        + compact(None)
        + compact(b"c")
        + compact(b"/h")
        + struct.pack(">ii", 5, 6)
        + compact(b"s")
        + compact(b"a")
        + b"\x00"
    )
    expected = (
        struct.pack(">h", 4)
        + compact(b"consumer")
        + struct.pack(">i", 2)
        + compact(b"range")
        + compact(b"m")
        + struct.pack(">q", 9)
        + uvarint(2)
        + member
        + b"\x00"
    )
    assert encode_value(value, 4) == expected
    assert decode_group_value(expected) == value


def test_bad_values_are_refused():
    with pytest.raises(CodecError):
        decode_offset_value(struct.pack(">hq", 9, 1))  # unknown version
    with pytest.raises(CodecError):
        decode_offset_value(struct.pack(">hq", 3, 1))  # truncated
    with pytest.raises(CodecError):
        decode_group_value(struct.pack(">h", 3) + s16(None))  # protocol type may not be null


# -- round trips ----------------------------------------------------------------------------------

texts = st.text(max_size=40)
names = st.text(min_size=0, max_size=40)
ints32 = st.integers(-(2**31), 2**31 - 1)
ints64 = st.integers(-(2**63), 2**63 - 1)


@given(
    st.one_of(st.builds(OffsetCommitKey, names, names, ints32), st.builds(GroupMetadataKey, names))
)
def test_keys_round_trip(key):
    assert decode_key(encode_key(key)) == key


@given(st.integers(0, 4), ints64, texts, ints64, ints32, ints64, st.none() | st.uuids())
def test_offset_values_round_trip(version, offset, metadata, ts, epoch, expire, topic_id):
    value = OffsetCommitValue(
        offset,
        metadata,
        ts,
        epoch if version >= 3 else -1,
        expire if version == 1 else -1,
        topic_id if version >= 4 and topic_id and topic_id.int else None,
    )
    assert decode_offset_value(encode_value(value, version)) == value


members = st.builds(
    MemberMetadata,
    texts,
    st.none() | texts,
    texts,
    texts,
    ints32,
    ints32,
    st.binary(max_size=30),
    st.binary(max_size=30),
)


@given(
    st.integers(0, 4),
    texts,
    ints32,
    st.none() | texts,
    st.none() | texts,
    ints64,
    st.lists(members, max_size=4),
)
def test_group_values_round_trip(version, ptype, generation, protocol, leader, ts, member_list):
    def as_of(m: MemberMetadata) -> MemberMetadata:
        # Fields a version lacks come back as their defaults.
        return MemberMetadata(
            m.member_id,
            m.group_instance_id if version >= 3 else None,
            m.client_id,
            m.client_host,
            m.rebalance_timeout if version >= 1 else -1,
            m.session_timeout,
            m.subscription,
            m.assignment,
        )

    value = GroupMetadataValue(ptype, generation, protocol, leader, ts, tuple(member_list))
    expected = GroupMetadataValue(
        ptype,
        generation,
        protocol,
        leader,
        ts if version >= 2 else -1,
        tuple(as_of(m) for m in member_list),
    )
    assert decode_group_value(encode_value(value, version)) == expected


# -- the coordinator partition --------------------------------------------------------------------


def java_hash_reference(text: str) -> int:
    """String.hashCode as the JDK documents it: s[0]*31^(n-1) + ... + s[n-1], int arithmetic."""
    units = [
        int.from_bytes(text.encode("utf-16-be", "surrogatepass")[i : i + 2], "big")
        for i in range(0, len(text.encode("utf-16-be", "surrogatepass")), 2)
    ]
    n = len(units)
    total = sum(u * pow(31, n - 1 - i, 2**32) for i, u in enumerate(units)) % 2**32
    return total - 2**32 if total >= 2**31 else total


def test_java_hash_code_known_values():
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("Aa") == java_string_hash("BB") == 2112  # the classic collision
    assert java_string_hash("polygenelubricants") == -(2**31)
    # Outside the BMP a character is two UTF-16 code units, as in Java.
    assert java_string_hash("\U0001f600") == 31 * 0xD83D + 0xDE00


@given(st.text(max_size=60))
def test_java_hash_matches_the_documented_formula(text):
    assert java_string_hash(text) == java_hash_reference(text)


@given(st.text(max_size=60), st.integers(1, 200))
def test_partition_for_is_kafkas_formula(group, partitions):
    h = java_hash_reference(group)
    expected = (0 if h == -(2**31) else abs(h)) % partitions
    assert partition_for(group, partitions) == expected


def test_integer_min_value_maps_to_partition_zero():
    # Math.abs(Integer.MIN_VALUE) is negative in Java; Kafka's Utils.abs returns 0 for it.
    assert partition_for("polygenelubricants", 50) == 0
    assert partition_for("polygenelubricants", 7) == 0


# -- the consumer protocol ------------------------------------------------------------------------


@given(st.lists(st.text(max_size=20), max_size=5), st.none() | st.binary(max_size=10))
def test_subscription_round_trip(topics, user_data):
    assert subscription_topics(encode_subscription(topics, user_data)) == topics


@given(
    st.dictionaries(st.text(max_size=10), st.lists(st.integers(0, 1000), max_size=5), max_size=4)
)
def test_assignment_round_trip(partitions):
    assert assignment_partitions(encode_assignment(partitions)) == partitions


def test_later_subscription_versions_are_read_by_their_v0_prefix():
    # v1 appends owned partitions after user data; the v0 prefix still yields the topics.
    v1 = (
        struct.pack(">h", 1)
        + struct.pack(">i", 1)
        + s16("orders")
        + struct.pack(">i", -1)
        + struct.pack(">i", 0)
    )
    assert subscription_topics(v1) == ["orders"]
